import { EventEmitter } from 'node:events';
import { type ServerResponse, createServer } from 'node:http';
import type { Test } from 'tap';
import { arrival } from './mailbox.js';
import { serveOnLoopback } from './loopback.js';

/*
 * A local HTTP server standing in for api.twilio.com. The app's real twilio SDK is pointed at it with
 * TWILIO_BASE_URL; it records what the SDK posted (To, From, Body) and answers like Twilio, or fails
 * on demand with a Twilio 400 rejection or a 503.
 */

export const TWILIO_SID = 'AC0123456789abcdef0123456789abcdef';
export const TWILIO_TOKEN = 'tok-secret-4f2a9c';
export const TWILIO_FROM = '+15550001111';

export interface SmsRequest {
  method: string;
  path: string;
  authorization: string | undefined;
  to: string | null;
  from: string | null;
  body: string | null;
  /** The 6-digit code in Body, when there is one. */
  code: string | undefined;
}

export type GatewayMode = 'accept' | 'reject' | 'unavailable';

export interface SmsGateway {
  url: string;
  /** What an app needs to send here (SMS_PROVIDER=twilio and the TWILIO_* variables). */
  env: Record<string, string>;
  /** Every request the SDK made, in arrival order (rejected ones included). */
  readonly requests: readonly SmsRequest[];
  /** Accepted messages to `phone` so far. */
  sentTo(phone: string): SmsRequest[];
  /** The next accepted message to `phone` not handed out yet, waiting for it to arrive. */
  nextMessage(phone: string): Promise<SmsRequest>;
  /** The code of the next accepted message to `phone` (waits). */
  codeFor(phone: string): Promise<string>;
  /** accept (201), reject (400 with Twilio error 21211) or unavailable (503). */
  setMode(mode: GatewayMode): void;
}

const WAIT_LIMIT_MS = 10_000;

function json(res: ServerResponse, status: number, body: unknown) {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

/** What Twilio answers for a created message (trimmed). */
function messageResource(form: URLSearchParams, index: number) {
  const sid = `SM${index.toString(16).padStart(32, '0')}`;
  return {
    sid,
    account_sid: TWILIO_SID,
    to: form.get('To'),
    from: form.get('From'),
    messaging_service_sid: form.get('MessagingServiceSid'),
    body: form.get('Body'),
    status: 'queued',
    direction: 'outbound-api',
    num_segments: '1',
    api_version: '2010-04-01',
    date_created: new Date().toUTCString(),
    uri: `/2010-04-01/Accounts/${TWILIO_SID}/Messages/${sid}.json`,
  };
}

export async function startSmsGateway(t: Test): Promise<SmsGateway> {
  const requests: SmsRequest[] = [];
  const accepted: SmsRequest[] = [];
  const handedOut = new Set<SmsRequest>();
  const arrivals = new EventEmitter();
  let mode: GatewayMode = 'accept';

  const server = createServer((req, res) => {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (raw += chunk));
    req.on('end', () => {
      const form = new URLSearchParams(raw);
      const body = form.get('Body');
      const request: SmsRequest = {
        method: req.method ?? '',
        path: req.url ?? '',
        authorization: req.headers.authorization,
        to: form.get('To'),
        from: form.get('From'),
        body,
        code: body === null ? undefined : /\b(\d{6})\b/.exec(body)?.[1],
      };
      requests.push(request);
      if (mode === 'reject') {
        return json(res, 400, { code: 21211, message: `The 'To' number ${request.to} is not a valid phone number.`, more_info: 'https://www.twilio.com/docs/errors/21211', status: 400 });
      }
      if (mode === 'unavailable') return json(res, 503, { code: 20503, message: 'Service Unavailable', status: 503 });
      accepted.push(request);
      arrivals.emit('arrival');
      json(res, 201, messageResource(form, accepted.length));
    });
  });
  const url = await serveOnLoopback(t, server);

  async function nextMessage(phone: string): Promise<SmsRequest> {
    const deadline = Date.now() + WAIT_LIMIT_MS;
    for (;;) {
      const message = accepted.find((m) => !handedOut.has(m) && m.to === phone);
      if (message) {
        handedOut.add(message);
        return message;
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no text message to ${phone} arrived within ${WAIT_LIMIT_MS} ms`);
      await arrival(arrivals, left);
    }
  }

  return {
    url,
    env: { SMS_PROVIDER: 'twilio', TWILIO_ACCOUNT_SID: TWILIO_SID, TWILIO_AUTH_TOKEN: TWILIO_TOKEN, TWILIO_FROM, TWILIO_BASE_URL: url },
    requests,
    sentTo: (phone) => accepted.filter((m) => m.to === phone),
    nextMessage,
    async codeFor(phone) {
      const message = await nextMessage(phone);
      if (!message.code) throw new Error(`the text to ${phone} has no 6-digit code: ${message.body}`);
      return message.code;
    },
    setMode(next) {
      mode = next;
    },
  };
}
