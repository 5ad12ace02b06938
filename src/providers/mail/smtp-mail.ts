import type { NodemailerError, Transporter } from 'nodemailer';
import { AppError } from '../../errors.js';
import type { MailSender } from './mail-sender.js';

export interface SmtpMailOptions {
  /** nodemailer connection URL (smtp:// or smtps://, credentials and options such as ?pool=true allowed). */
  url: string;
  /** From header, e.g. 'Chat <no-reply@example.com>'. */
  from: string;
  /** Bounds each wait (connect, greeting, each reply) and the whole send. */
  timeoutMs: number;
}

/** Error codes nodemailer gives a failure to reach or hear from the server (the server refused nothing). */
const UNREACHABLE_CODES = new Set(['ECONNECTION', 'ETIMEDOUT', 'ESOCKET', 'EDNS', 'EPROXY', 'EABORT']);

/**
 * Server unreachable or silent, or 421 (service closing the channel) -> PROVIDER_UNAVAILABLE;
 * any other nodemailer error (a 4xx/5xx reply, EENVELOPE, EMESSAGE, EAUTH, ...) ->
 * MAIL_DELIVERY_FAILED with the SMTP reply code when there was one. The server's reply text is
 * not passed on. Errors that are not nodemailer's are rethrown untouched.
 */
function toAppError(error: unknown): unknown {
  if (typeof error !== 'object' || error === null) return error;
  const { code, responseCode } = error as NodemailerError;
  if (typeof code !== 'string' && typeof responseCode !== 'number') return error;
  if ((code && UNREACHABLE_CODES.has(code)) || responseCode === 421) return new AppError('PROVIDER_UNAVAILABLE');
  return new AppError('MAIL_DELIVERY_FAILED', 'The mail server rejected the message', typeof responseCode === 'number' ? { smtpCode: responseCode } : {});
}

/** nodemailer is loaded, and the transport made, with the first mail rather than at every boot. */
export function createSmtpMail(options: SmtpMailOptions): MailSender {
  let transport: Promise<Transporter> | undefined;
  const opened = () =>
    (transport ??= import('nodemailer').then(({ default: nodemailer }) =>
      // Options given in the URL's query win over these.
      nodemailer.createTransport({
        url: options.url,
        connectionTimeout: options.timeoutMs,
        greetingTimeout: options.timeoutMs,
        socketTimeout: options.timeoutMs,
      }),
    ));
  return {
    name: 'smtp',
    async send({ to, subject, text, html }) {
      try {
        // The signal bounds the whole send: a server trickling its replies defeats socket timeouts.
        await (await opened()).sendMail({ from: options.from, to, subject, text, html, signal: AbortSignal.timeout(options.timeoutMs) });
      } catch (error) {
        throw toAppError(error);
      }
    },
    async close() {
      (await transport)?.close();
    },
  };
}
