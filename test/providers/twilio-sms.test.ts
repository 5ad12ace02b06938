import { type ServerResponse, createServer } from 'node:http';
import type { Test } from 'tap';
import t from 'tap';
import { AppError } from '../../src/errors.js';
import { createTwilioSms } from '../../src/providers/sms/twilio-sms.js';
import { freePort, serveOnLoopback } from '../support/loopback.js';
import { rejectionOf } from '../helper.js';

/*
 * The real twilio SDK against a local HTTP stub standing in for api.twilio.com (via baseUrl).
 */

const SID = 'AC0123456789abcdef0123456789abcdef';
const TOKEN = 'tok-secret-4f2a9c';
const TEXT = 'Your Chat sign-in code is 482915.';

interface Recorded {
  method: string;
  path: string;
  authorization: string | undefined;
  contentType: string | undefined;
  form: URLSearchParams;
}

/** An HTTP server recording every request; `respond` answers it (or not). */
async function stub(t: Test, respond: (res: ServerResponse, request: Recorded) => void) {
  const requests: Recorded[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      const recorded = {
        method: req.method ?? '',
        path: req.url ?? '',
        authorization: req.headers.authorization,
        contentType: req.headers['content-type'],
        form: new URLSearchParams(body),
      };
      requests.push(recorded);
      respond(res, recorded);
    });
  });
  return { url: await serveOnLoopback(t, server), requests };
}

function json(res: ServerResponse, status: number, body: unknown) {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

/** What Twilio answers to a created message (trimmed). */
function messageResource(request: Recorded) {
  const sid = 'SM0123456789abcdef0123456789abcdef';
  return {
    sid,
    account_sid: SID,
    to: request.form.get('To'),
    from: request.form.get('From'),
    messaging_service_sid: request.form.get('MessagingServiceSid'),
    body: request.form.get('Body'),
    status: 'queued',
    direction: 'outbound-api',
    num_segments: '1',
    api_version: '2010-04-01',
    date_created: 'Mon, 02 Mar 2026 10:00:00 +0000',
    uri: `/2010-04-01/Accounts/${SID}/Messages/${sid}.json`,
  };
}



/** Nothing a caller could log or answer carries the token or the text. */
function assertClean(t: Test, error: AppError) {
  const visible = `${error.message} ${error.stack} ${JSON.stringify(error)} ${String(error.cause)}`;
  t.notMatch(visible, TOKEN, 'no auth token in the error');
  t.notMatch(visible, '482915', 'no message text in the error');
  t.equal(error.cause, undefined, 'no cause (the SDK error holds the Authorization header)');
}

const basicAuth = `Basic ${Buffer.from(`${SID}:${TOKEN}`).toString('base64')}`;

t.test('sends from a number through the SDK', async (t) => {
  const api = await stub(t, (res, request) => json(res, 201, messageResource(request)));
  const sms = createTwilioSms({ accountSid: SID, authToken: TOKEN, from: '+15550001111', baseUrl: api.url, timeoutMs: 2000 });
  t.equal(sms.name, 'twilio');
  await sms.send('+15552223333', TEXT);
  t.equal(api.requests.length, 1);
  const [request] = api.requests;
  t.equal(request?.method, 'POST');
  t.equal(request?.path, `/2010-04-01/Accounts/${SID}/Messages.json`);
  t.equal(request?.authorization, basicAuth);
  t.match(request?.contentType, /^application\/x-www-form-urlencoded/);
  t.same(Object.fromEntries(request?.form ?? []), { To: '+15552223333', From: '+15550001111', Body: TEXT });
});

t.test('sends through a messaging service', async (t) => {
  const api = await stub(t, (res, request) => json(res, 201, messageResource(request)));
  const sms = createTwilioSms({ accountSid: SID, authToken: TOKEN, messagingServiceSid: 'MG0123456789abcdef0123456789abcdef', baseUrl: api.url, timeoutMs: 2000 });
  await sms.send('+15552223333', TEXT);
  t.same(Object.fromEntries(api.requests[0]?.form ?? []), { To: '+15552223333', MessagingServiceSid: 'MG0123456789abcdef0123456789abcdef', Body: TEXT });
});

t.test('a base URL with a path prefixes the API path', async (t) => {
  const api = await stub(t, (res, request) => json(res, 201, messageResource(request)));
  const sms = createTwilioSms({ accountSid: SID, authToken: TOKEN, from: '+15550001111', baseUrl: `${api.url}/gateway/twilio`, timeoutMs: 2000 });
  await sms.send('+15552223333', TEXT);
  t.equal(api.requests[0]?.path, `/gateway/twilio/2010-04-01/Accounts/${SID}/Messages.json`);
});

t.test('a sender is required', async (t) => {
  t.throws(() => createTwilioSms({ accountSid: SID, authToken: TOKEN, timeoutMs: 2000 }), /from or messagingServiceSid/);
});

t.test('an API rejection is SMS_DELIVERY_FAILED with the Twilio error code', async (t) => {
  const api = await stub(t, (res) => json(res, 400, { code: 21211, message: "The 'To' number +1555 is not a valid phone number.", more_info: 'https://www.twilio.com/docs/errors/21211', status: 400 }));
  const sms = createTwilioSms({ accountSid: SID, authToken: TOKEN, from: '+15550001111', baseUrl: api.url, timeoutMs: 2000 });
  const error = await rejectionOf(sms.send('+1555', TEXT));
  t.equal(error.code, 'SMS_DELIVERY_FAILED');
  t.equal(error.status, 502);
  t.same(error.extensions, { providerCode: 21211 });
  t.equal(error.detail, 'The SMS provider rejected the message');
  assertClean(t, error);
});

t.test('an RFC 9457 rejection is mapped the same way', async (t) => {
  const api = await stub(t, (res) => json(res, 400, { type: 'https://www.twilio.com/docs/errors/21211', title: 'Invalid To', status: 400, code: 21211 }));
  const sms = createTwilioSms({ accountSid: SID, authToken: TOKEN, from: '+15550001111', baseUrl: api.url, timeoutMs: 2000 });
  const error = await rejectionOf(sms.send('+1555', TEXT));
  t.equal(error.code, 'SMS_DELIVERY_FAILED');
  t.same(error.extensions, { providerCode: 21211 });
});

t.test('a 503 from the provider is PROVIDER_UNAVAILABLE', async (t) => {
  const api = await stub(t, (res) => json(res, 503, { code: 20503, message: 'Service Unavailable', status: 503 }));
  const sms = createTwilioSms({ accountSid: SID, authToken: TOKEN, from: '+15550001111', baseUrl: api.url, timeoutMs: 2000 });
  const error = await rejectionOf(sms.send('+15552223333', TEXT));
  t.equal(error.code, 'PROVIDER_UNAVAILABLE');
  t.equal(error.status, 503);
  assertClean(t, error);
});

t.test('a provider that never answers is PROVIDER_UNAVAILABLE', async (t) => {
  const api = await stub(t, () => {});
  const sms = createTwilioSms({ accountSid: SID, authToken: TOKEN, from: '+15550001111', baseUrl: api.url, timeoutMs: 500 });
  const started = Date.now();
  const error = await rejectionOf(sms.send('+15552223333', TEXT));
  t.equal(error.code, 'PROVIDER_UNAVAILABLE');
  t.equal(api.requests.length, 1, 'the request did reach the stub');
  // Loose on purpose: only tells timeoutMs apart from the SDK's 30 s default.
  t.ok(Date.now() - started < 10_000, 'gave up well before the SDK default timeout');
  assertClean(t, error);
});

t.test('a closed port is PROVIDER_UNAVAILABLE', async (t) => {
  const sms = createTwilioSms({ accountSid: SID, authToken: TOKEN, from: '+15550001111', baseUrl: `http://127.0.0.1:${await freePort()}`, timeoutMs: 2000 });
  const error = await rejectionOf(sms.send('+15552223333', TEXT));
  t.equal(error.code, 'PROVIDER_UNAVAILABLE');
  assertClean(t, error);
});
