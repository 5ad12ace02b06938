import { randomUUID } from 'node:crypto';
import t from 'tap';
import { type FcmConfig, loadConfig } from '../../src/config.js';
import { createFcmSender } from '../../src/providers/push/fcm.js';
import type { PushNotification, PushOutcome, PushTarget } from '../../src/providers/push/push-sender.js';
import { startFcmServer } from '../support/fcm-server.js';
import { freePort } from '../support/loopback.js';

/*
 * The FCM sender (google-auth-library for the access token, fetch for messages:send) against a
 * local FCM and OAuth2 token endpoint over TLS, configured from a service account key file whose
 * token_uri points at it.
 */

const fcm = await startFcmServer(t);
const account = await fcm.serviceAccount('chat-test');
const config: FcmConfig = loadConfig({ ...process.env, FCM_SERVICE_ACCOUNT_FILE: account.file, FCM_BASE_URL: fcm.base }).push.fcm!;
const SCOPE = 'https://www.googleapis.com/auth/firebase.messaging';

const device = (): PushTarget => ({ platform: 'fcm', token: `fcm-${randomUUID()}`, p256dh: null, auth: null, appId: null });
const message = (overrides: Partial<PushNotification> = {}): PushNotification => ({
  kind: 'message',
  id: randomUUID(),
  collapseKey: 'c_0a1b2c3d4e5f',
  alert: { title: 'Alice', body: 'See you at 8?' },
  badge: 3,
  data: { type: 'message', conversationId: 'conv-7', seq: 42, messageId: 'msg-9', senderId: 'user-1', replyTo: null },
  ttlSeconds: 86_400,
  ...overrides,
});
const retraction = (): PushNotification => ({
  kind: 'retract',
  id: randomUUID(),
  collapseKey: 'c_0a1b2c3d4e5f',
  alert: null,
  badge: null,
  data: { type: 'message.deleted', conversationId: 'conv-7', messageId: 'msg-9' },
  ttlSeconds: 3600,
});

/** Every outcome of the file, checked at the end for leaked secrets. */
const outcomes: PushOutcome[] = [];
async function send(sender: ReturnType<typeof createFcmSender>, target: PushTarget, notification: PushNotification): Promise<PushOutcome> {
  const outcome = await sender.send(target, notification);
  outcomes.push(outcome);
  return outcome;
}
const bearerOf = (i: number) => /^Bearer (.+)$/.exec(fcm.requests[i]?.headers.authorization ?? '')?.[1];
const newSender = (overrides: Partial<FcmConfig & { timeoutMs: number }> = {}) => createFcmSender({ ...config, timeoutMs: 2000, ...overrides });

t.test('the key file configures the sender for this project and token endpoint', async (t) => {
  t.strictSame(config, { projectId: 'chat-test', clientEmail: account.json.client_email, privateKey: account.json.private_key, tokenUri: fcm.tokenUri, baseUrl: fcm.base });
});

t.test('a message push: an access token from token_uri, then messages:send with the rendered message', async (t) => {
  const target = device();
  const before = Math.floor(Date.now() / 1000);
  const outcome = await send(newSender(), target, message());
  const after = Math.floor(Date.now() / 1000);
  t.strictSame(outcome, { ok: true });

  t.equal(fcm.tokenRequests.length, 1, 'one token request');
  const grant = fcm.tokenRequests[0]!;
  t.equal(grant.status, 200);
  t.equal(grant.claims?.iss, config.clientEmail);
  t.equal(grant.claims?.aud, fcm.tokenUri, 'the assertion is addressed to the token endpoint it goes to');
  t.equal(grant.claims?.scope, SCOPE);

  t.equal(fcm.requests.length, 1);
  const request = fcm.requests[0]!;
  t.equal(request.project, 'chat-test');
  t.equal(request.status, 200);
  t.equal(bearerOf(0), grant.accessToken, 'bearer token is the one granted');
  t.ok(fcm.granted(bearerOf(0)!));
  t.match(request.headers['content-type'], /^application\/json/);

  const { apns, ...rest } = request.body.message as { apns: { headers: Record<string, string>; payload: unknown } } & Record<string, unknown>;
  const { 'apns-expiration': expiration, ...apnsHeaders } = apns.headers;
  t.ok(Number(expiration) >= before + 86_400 && Number(expiration) <= after + 86_400, `apns-expiration ${expiration} is now + ttl`);
  t.strictSame(apnsHeaders, { 'apns-push-type': 'alert', 'apns-priority': '10', 'apns-collapse-id': 'c_0a1b2c3d4e5f' });
  t.strictSame(apns.payload, { aps: { alert: { title: 'Alice', body: 'See you at 8?' }, badge: 3, 'thread-id': 'conv-7', sound: 'default' } });
  t.strictSame(rest, {
    token: target.token,
    data: { type: 'message', conversationId: 'conv-7', seq: '42', messageId: 'msg-9', senderId: 'user-1', title: 'Alice', body: 'See you at 8?', badge: '3' },
    android: {
      collapse_key: 'c_0a1b2c3d4e5f',
      priority: 'HIGH',
      ttl: '86400s',
      notification: { title: 'Alice', body: 'See you at 8?', tag: 'c_0a1b2c3d4e5f', notification_count: 3 },
    },
    webpush: { headers: { Topic: 'c_0a1b2c3d4e5f', TTL: '86400', Urgency: 'high' }, notification: { title: 'Alice', body: 'See you at 8?', tag: 'c_0a1b2c3d4e5f' } },
  });
  t.strictSame(Object.keys(request.body), ['message'], 'nothing beside the message');
});

t.test('without a preview the body is left out everywhere', async (t) => {
  const start = fcm.requests.length;
  t.strictSame(await send(newSender(), device(), message({ alert: { title: 'New message', body: null } })), { ok: true });
  const m = fcm.requests[start]!.body.message as { data: object; android: { notification: object }; apns: { payload: { aps: { alert: object } } }; webpush: { notification: object } };
  t.notOk('body' in m.data);
  t.strictSame(m.android.notification, { title: 'New message', tag: 'c_0a1b2c3d4e5f', notification_count: 3 });
  t.strictSame(m.apns.payload.aps.alert, { title: 'New message' });
  t.strictSame(m.webpush.notification, { title: 'New message', tag: 'c_0a1b2c3d4e5f' });
});

t.test('the access token is fetched once for several sends', async (t) => {
  const sender = newSender();
  const tokensBefore = fcm.tokenRequests.length;
  const start = fcm.requests.length;
  t.strictSame(await send(sender, device(), message()), { ok: true });
  t.strictSame(await send(sender, device(), message()), { ok: true });
  // Two at once while cached, then two at once on a fresh sender: one token request each time.
  t.strictSame(await Promise.all([send(sender, device(), message()), send(sender, device(), message())]), [{ ok: true }, { ok: true }]);
  t.equal(fcm.tokenRequests.length, tokensBefore + 1);
  t.equal(new Set([0, 1, 2, 3].map((i) => bearerOf(start + i))).size, 1, 'one bearer token for all four');

  const fresh = newSender();
  t.strictSame(await Promise.all([send(fresh, device(), message()), send(fresh, device(), message())]), [{ ok: true }, { ok: true }]);
  t.equal(fcm.tokenRequests.length, tokensBefore + 2, 'concurrent first sends share one token request');
});

t.test('a retraction is data only, high priority, background on APNs', async (t) => {
  const target = device();
  const start = fcm.requests.length;
  t.strictSame(await send(newSender(), target, retraction()), { ok: true });
  const { apns, ...rest } = fcm.requests[start]!.body.message as { apns: { headers: Record<string, string>; payload: unknown } } & Record<string, unknown>;
  const { 'apns-expiration': expiration, ...apnsHeaders } = apns.headers;
  t.match(expiration, /^\d+$/);
  t.strictSame(apnsHeaders, { 'apns-push-type': 'background', 'apns-priority': '5', 'apns-collapse-id': 'c_0a1b2c3d4e5f' });
  t.strictSame(apns.payload, { aps: { 'content-available': 1 } });
  t.strictSame(rest, {
    token: target.token,
    data: { type: 'message.deleted', conversationId: 'conv-7', messageId: 'msg-9' },
    android: { collapse_key: 'c_0a1b2c3d4e5f', priority: 'HIGH', ttl: '3600s' },
    webpush: { headers: { Topic: 'c_0a1b2c3d4e5f', TTL: '3600', Urgency: 'high' } },
  });
});

t.test('FCM errors: gone tokens are invalid targets, overload is retried, the rest is not', async (t) => {
  const sender = newSender();
  const cases: Array<[string, (typeof fcm.answers)[number], PushOutcome]> = [
    ['unregistered', { status: 404, errorCode: 'UNREGISTERED' }, { ok: false, retry: false, invalidTarget: true, error: 'fcm answered 404 UNREGISTERED' }],
    ['sender id mismatch', { status: 403, errorCode: 'SENDER_ID_MISMATCH' }, { ok: false, retry: false, invalidTarget: true, error: 'fcm answered 403 SENDER_ID_MISMATCH' }],
    ['malformed token', { status: 400, errorCode: 'INVALID_ARGUMENT', field: 'message.token' }, { ok: false, retry: false, invalidTarget: true, error: 'fcm answered 400 INVALID_ARGUMENT' }],
    ['another invalid field', { status: 400, errorCode: 'INVALID_ARGUMENT', field: 'message.android.ttl' }, { ok: false, retry: false, invalidTarget: false, error: 'fcm answered 400 INVALID_ARGUMENT' }],
    ['a 404 without UNREGISTERED (wrong project or URL)', 404, { ok: false, retry: false, invalidTarget: false, error: 'fcm answered 404 NOT_FOUND' }],
    ['permission denied', 403, { ok: false, retry: false, invalidTarget: false, error: 'fcm answered 403 PERMISSION_DENIED' }],
    ['APNs or Web Push credentials of the project', { status: 401, errorCode: 'THIRD_PARTY_AUTH_ERROR' }, { ok: false, retry: false, invalidTarget: false, error: 'fcm answered 401 THIRD_PARTY_AUTH_ERROR' }],
    ['unavailable', { status: 503, errorCode: 'UNAVAILABLE', retryAfter: '7' }, { ok: false, retry: true, invalidTarget: false, error: 'fcm answered 503 UNAVAILABLE', retryAfterMs: 7000 }],
    ['quota', { status: 429, errorCode: 'QUOTA_EXCEEDED', retryAfter: '30' }, { ok: false, retry: true, invalidTarget: false, error: 'fcm answered 429 QUOTA_EXCEEDED', retryAfterMs: 30_000 }],
    ['internal, no retry-after', { status: 500, errorCode: 'INTERNAL' }, { ok: false, retry: true, invalidTarget: false, error: 'fcm answered 500 INTERNAL' }],
  ];
  for (const [name, answer, expected] of cases) {
    fcm.answers.push(answer);
    t.strictSame(await send(sender, device(), message()), expected, name);
  }
  t.equal(fcm.answers.length, 0, 'every queued answer was used');

  fcm.answers.push({ status: 503, retryAfter: new Date(Date.now() + 60_000).toUTCString() });
  const dated = await send(sender, device(), message());
  t.ok(!dated.ok && dated.retry && dated.retryAfterMs !== undefined && dated.retryAfterMs > 55_000 && dated.retryAfterMs <= 60_000, `Retry-After as an HTTP date: ${JSON.stringify(dated)}`);
});

t.test('a refused access token is dropped: the next send fetches a new one', async (t) => {
  const sender = newSender();
  t.strictSame(await send(sender, device(), message()), { ok: true });
  const tokensBefore = fcm.tokenRequests.length;
  const start = fcm.requests.length;
  fcm.revokeTokens();
  t.strictSame(await send(sender, device(), message()), { ok: false, retry: true, invalidTarget: false, error: 'fcm answered 401 UNAUTHENTICATED' });
  t.equal(fcm.tokenRequests.length, tokensBefore, 'the refused send used the cached token');
  t.strictSame(await send(sender, device(), message()), { ok: true });
  t.equal(fcm.tokenRequests.length, tokensBefore + 1, 'a new token was fetched');
  t.not(bearerOf(start + 1), bearerOf(start), 'with the new token');
  t.ok(fcm.granted(bearerOf(start + 1)!));
});

t.test('FCM not answering: retried after the timeout', async (t) => {
  const sender = newSender({ timeoutMs: 300 });
  t.strictSame(await send(sender, device(), message()), { ok: true }, 'token cached first');
  fcm.answers.push('hang');
  const started = Date.now();
  t.strictSame(await send(sender, device(), message()), { ok: false, retry: true, invalidTarget: false, error: 'network: timeout' });
  const elapsed = Date.now() - started;
  t.ok(elapsed >= 250 && elapsed < 2000, `gave up after ${elapsed} ms`);
});

t.test('FCM unreachable: retried', async (t) => {
  const sender = newSender({ baseUrl: `https://127.0.0.1:${await freePort()}` });
  t.strictSame(await send(sender, device(), message()), { ok: false, retry: true, invalidTarget: false, error: 'network: ECONNREFUSED' });
});

t.test('token endpoint failures: retried, no message sent, the next send tries again', async (t) => {
  const sender = newSender({ timeoutMs: 300 });
  const start = fcm.requests.length;
  fcm.tokenAnswers.push(503);
  t.strictSame(await send(sender, device(), message()), { ok: false, retry: true, invalidTarget: false, error: 'token endpoint answered 503 internal_failure' });
  fcm.tokenAnswers.push('hang');
  const started = Date.now();
  t.strictSame(await send(sender, device(), message()), { ok: false, retry: true, invalidTarget: false, error: 'token endpoint: timeout' });
  t.ok(Date.now() - started < 2000, 'the token request is bounded by the timeout');
  t.equal(fcm.requests.length, start, 'nothing was sent without a token');
  t.strictSame(await send(sender, device(), message()), { ok: true }, 'recovered');

  const down = newSender({ tokenUri: `https://127.0.0.1:${await freePort()}/token` });
  t.strictSame(await send(down, device(), message()), { ok: false, retry: true, invalidTarget: false, error: 'token endpoint: ECONNREFUSED' });
});

t.test('the token endpoint checks the assertion: a key it does not know gets no token', async (t) => {
  const other = await fcm.serviceAccount('chat-test');
  const tokensBefore = fcm.tokenRequests.length;
  const sender = newSender({ privateKey: other.json.private_key });
  t.strictSame(await send(sender, device(), message()), { ok: false, retry: true, invalidTarget: false, error: 'token endpoint answered 400 invalid_grant' });
  t.equal(fcm.tokenRequests[tokensBefore]?.status, 400);
  t.equal(fcm.tokenRequests.length, tokensBefore + 1, 'not retried inside the send');
});

t.test('a service account of another project may not send to this one', async (t) => {
  const other = await fcm.serviceAccount('other-project');
  const sender = newSender({ clientEmail: other.json.client_email, privateKey: other.json.private_key });
  t.strictSame(await send(sender, device(), message()), { ok: false, retry: false, invalidTarget: false, error: 'fcm answered 403 PERMISSION_DENIED' });
});

t.test('no outcome carries an access token or the private key', async (t) => {
  const secrets = [...fcm.tokenRequests.flatMap((r) => (r.accessToken ? [r.accessToken] : [])), config.privateKey.split('\n')[1]!];
  t.ok(outcomes.length > 20 && secrets.length > 5, `${outcomes.length} outcomes, ${secrets.length} secrets`);
  t.strictSame(outcomes.filter((o) => !o.ok && secrets.some((secret) => o.error.includes(secret))), []);
});
