import type { Twilio } from 'twilio';
import type RequestClient from 'twilio/lib/base/RequestClient.js';
import { AppError } from '../../errors.js';
import type { SmsSender } from './sms-sender.js';

export interface TwilioSmsOptions {
  accountSid: string;
  authToken: string;
  /** Sender number (E.164); at least one of from / messagingServiceSid is required. */
  from?: string | undefined;
  messagingServiceSid?: string | undefined;
  /** Replaces https://api.twilio.com (Twilio-compatible gateways, tests); may carry a path prefix. */
  baseUrl?: string | undefined;
  /** Applied to each HTTP request (connect, and socket inactivity after it). */
  timeoutMs: number;
}

/**
 * The SDK's own HTTP client with the origin of every request swapped for `base`. A custom
 * `httpClient` is the SDK's extension point for transport concerns; the URI it receives is
 * absolute (https://api.twilio.com/2010-04-01/...), so only the origin and a path prefix change.
 * The SDK (hundreds of modules) is loaded with the first text, not at every boot.
 */
async function twilioClient(options: TwilioSmsOptions): Promise<Twilio> {
  const { default: twilio } = await import('twilio');
  const base = options.baseUrl ? new URL(options.baseUrl) : undefined;
  class RebasingRequestClient extends twilio.RequestClient {
    override request<TData>(opts: RequestClient.RequestOptions<TData>) {
      return super.request({ ...opts, uri: base ? rebase(opts.uri, base) : opts.uri });
    }
  }
  return twilio(options.accountSid, options.authToken, { httpClient: new RebasingRequestClient({ timeout: options.timeoutMs }) });
}

function rebase(uri: string, base: URL): string {
  const original = new URL(uri);
  const target = new URL(base.href);
  target.pathname = base.pathname.replace(/\/+$/, '') + original.pathname;
  target.search = original.search;
  return target.href;
}

/** Provider answers that mean "down or overloaded", not "this message is refused". */
const UNAVAILABLE_STATUSES = new Set([502, 503, 504]);

/**
 * Maps what the SDK throws to AppErrors carrying nothing secret. The SDK throws RestException (or,
 * for RFC 9457 bodies, TwilioServiceException) for non-2xx answers: both have a numeric `status`
 * and Twilio's numeric `code`. Transport failures surface as axios errors, whose `config` holds
 * the Authorization header: they are never passed on, not even as a cause.
 */
function toAppError(error: unknown): unknown {
  if (typeof error !== 'object' || error === null) return error;
  const candidate = error as { isAxiosError?: unknown; status?: unknown; code?: unknown };
  if (candidate.isAxiosError === true) return new AppError('PROVIDER_UNAVAILABLE');
  if (typeof candidate.status === 'number') {
    if (UNAVAILABLE_STATUSES.has(candidate.status)) return new AppError('PROVIDER_UNAVAILABLE');
    const providerCode = typeof candidate.code === 'number' && candidate.code > 0 ? candidate.code : undefined;
    return new AppError('SMS_DELIVERY_FAILED', 'The SMS provider rejected the message', providerCode === undefined ? {} : { providerCode });
  }
  return error;
}

export function createTwilioSms(options: TwilioSmsOptions): SmsSender {
  if (!options.from && !options.messagingServiceSid) throw new Error('Twilio needs a sender: from or messagingServiceSid');
  let client: Promise<Twilio> | undefined;
  const sender = {
    ...(options.from ? { from: options.from } : {}),
    ...(options.messagingServiceSid ? { messagingServiceSid: options.messagingServiceSid } : {}),
  };
  return {
    name: 'twilio',
    async send(to, text) {
      try {
        await (await (client ??= twilioClient(options))).messages.create({ to, body: text, ...sender });
      } catch (error) {
        throw toAppError(error);
      }
    },
  };
}
