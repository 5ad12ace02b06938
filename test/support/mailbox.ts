import { EventEmitter, once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import type { Test } from 'tap';

/*
 * A real SMTP server (smtp-server) on loopback that keeps every message it accepts. The app under
 * test sends to it with its real nodemailer provider (SMTP_URL), and tests read codes out of the
 * delivered MIME, text and html parts alike.
 */

export interface Mail {
  /** Envelope sender and recipients, as the SMTP session saw them. */
  mailFrom: string | undefined;
  rcptTo: string[];
  raw: string;
  headers: string;
  subject: string | undefined;
  text: string | undefined;
  html: string | undefined;
  /** The 6-digit code in the text part, when there is one. */
  code: string | undefined;
}

export interface Mailbox {
  url: string;
  /** What an app needs to send here (SMTP_URL, MAIL_FROM). */
  env: Record<string, string>;
  /** Every accepted message, in arrival order. */
  readonly received: readonly Mail[];
  /** Messages accepted for `address` so far. */
  sentTo(address: string): Mail[];
  /** The next message not handed out yet (to `address`, when given), waiting for it to arrive. */
  nextMessage(address?: string): Promise<Mail>;
  /** The code of the next message to `address` (waits); fails when the message has no 6-digit code. */
  codeFor(address: string): Promise<string>;
  /** Answer 550 to RCPT TO for matching recipients (`null`: accept everyone again). */
  rejectRecipients(match: ((address: string) => boolean) | null): void;
}

export const MAIL_FROM = 'Chat <no-reply@chat.test>';

/** How long nextMessage waits before failing the test with a clear message (a guard, not an assertion). */
const WAIT_LIMIT_MS = 10_000;

/** The decoded body of the first MIME part of the given type (quoted-printable, base64 or plain). */
export function mimePart(raw: string, type: string): string | undefined {
  for (const part of raw.split(/\r?\n--[^\r\n]+\r?\n/)) {
    const split = part.search(/\r?\n\r?\n/);
    if (split === -1) continue;
    const headers = part.slice(0, split);
    if (!new RegExp(`^Content-Type: ${type}`, 'im').test(headers)) continue;
    const body = part.slice(split).trim();
    const encoding = /^Content-Transfer-Encoding: (\S+)/im.exec(headers)?.[1]?.toLowerCase();
    if (encoding === 'base64') return Buffer.from(body, 'base64').toString('utf8');
    if (encoding === 'quoted-printable') {
      const bytes = body.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
      return Buffer.from(bytes, 'latin1').toString('utf8');
    }
    return body;
  }
  return undefined;
}

function parse(mailFrom: string | undefined, rcptTo: string[], raw: string): Mail {
  const headers = raw.slice(0, raw.search(/\r?\n\r?\n/));
  const text = mimePart(raw, 'text/plain');
  return {
    mailFrom,
    rcptTo,
    raw,
    headers,
    subject: /^Subject: (.*)$/m.exec(headers)?.[1]?.trim(),
    text,
    html: mimePart(raw, 'text/html'),
    code: text === undefined ? undefined : /\b(\d{6})\b/.exec(text)?.[1],
  };
}

/** Resolves on the next 'arrival' event or after `ms`, whichever comes first, leaving no listener behind. */
export function arrival(emitter: EventEmitter, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      emitter.off('arrival', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    emitter.on('arrival', done);
  });
}

export async function startMailbox(t: Test): Promise<Mailbox> {
  const received: Mail[] = [];
  const handedOut = new Set<Mail>();
  const arrivals = new EventEmitter();
  let reject: ((address: string) => boolean) | null = null;

  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    closeTimeout: 1000,
    onRcptTo(address, _session, callback) {
      if (reject?.(address.address)) return callback(Object.assign(new Error('5.1.1 No such user here'), { responseCode: 550 }));
      callback();
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        const from = session.envelope.mailFrom;
        received.push(parse(from ? from.address : undefined, session.envelope.rcptTo.map((r) => r.address), Buffer.concat(chunks).toString('utf8')));
        arrivals.emit('arrival');
        callback();
      });
    },
  });
  server.listen(0, '127.0.0.1');
  await once(server.server, 'listening');
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const url = `smtp://127.0.0.1:${(server.server.address() as AddressInfo).port}`;

  const isFor = (mail: Mail, address: string) => mail.rcptTo.some((r) => r.toLowerCase() === address.toLowerCase());

  async function nextMessage(address?: string): Promise<Mail> {
    const deadline = Date.now() + WAIT_LIMIT_MS;
    for (;;) {
      const mail = received.find((m) => !handedOut.has(m) && (address === undefined || isFor(m, address)));
      if (mail) {
        handedOut.add(mail);
        return mail;
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no mail${address ? ` to ${address}` : ''} arrived within ${WAIT_LIMIT_MS} ms`);
      await arrival(arrivals, left);
    }
  }

  return {
    url,
    // Pooled (an SMTP_URL option operators may use too): smtp-server holds every new connection 100 ms
    // to catch early talkers, which a connection per mail paid on every sign-up of the suite.
    env: { SMTP_URL: `${url}?pool=true`, MAIL_FROM },
    received,
    sentTo: (address) => received.filter((m) => isFor(m, address)),
    nextMessage,
    async codeFor(address) {
      const mail = await nextMessage(address);
      if (!mail.code) throw new Error(`the mail to ${address} has no 6-digit code:\n${mail.text}`);
      return mail.code;
    },
    rejectRecipients(match) {
      reject = match;
    },
  };
}
