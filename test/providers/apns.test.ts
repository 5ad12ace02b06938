import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { type AddressInfo, type Socket, connect, createServer as createNetServer } from 'node:net';
import type { Test } from 'tap';
import t from 'tap';
import type { ApnsConfig } from '../../src/config.js';
import { createApnsSender } from '../../src/providers/push/apns.js';
import type { PushNotification, PushSender, PushTarget } from '../../src/providers/push/push-sender.js';
import { apnsDeviceToken, createApnsKey, decodeProviderToken, startApnsServer } from '../support/apns-server.js';
import { freePort } from '../support/loopback.js';

/*
 * The APNs sender against APNs on loopback (test/support/apns-server.ts): HTTP/2 over TLS, the
 * provider token verified with the test key's public half, Apple's answers queued per test.
 */

const device = (token = apnsDeviceToken(), appId: string | null = null): PushTarget => ({ platform: 'apns', token, p256dh: null, auth: null, appId });

const message = (overrides: Partial<PushNotification> = {}): PushNotification => ({
  kind: 'message',
  id: randomUUID(),
  collapseKey: 'c_4f2a9c',
  alert: { title: 'Alice', body: 'hello Bob' },
  badge: 3,
  data: { type: 'message', conversationId: 'conv-1', seq: 7, messageId: 'msg-1', senderId: 'alice' },
  ttlSeconds: 3600,
  ...overrides,
});

const retraction = (): PushNotification => ({
  kind: 'retract',
  id: randomUUID(),
  collapseKey: 'c_4f2a9c',
  alert: null,
  badge: null,
  data: { type: 'message.deleted', conversationId: 'conv-1', messageId: 'msg-1' },
  ttlSeconds: 600,
});

function sender(t: Test, config: ApnsConfig, timeoutMs = 5000): PushSender {
  const s = createApnsSender({ ...config, timeoutMs });
  t.teardown(() => s.close?.());
  return s;
}

/**
 * A TCP relay to 127.0.0.1:`port`. `silence()` turns the connections open now into half-open ones
 * (nothing forwarded either way, nothing closed), as after a NAT or a peer vanished; it answers a
 * promise of the client side's close.
 */
async function relay(t: Test, port: number) {
  const pairs = new Set<{ client: Socket; silent: boolean }>();
  const server = createNetServer((client) => {
    const pair = { client, silent: false };
    pairs.add(pair);
    const upstream = connect(port, '127.0.0.1');
    const forward = (from: Socket, to: Socket) => {
      from.on('data', (chunk: Buffer) => void (pair.silent || to.write(chunk)));
      from.on('error', () => {});
      from.on('close', () => (pair.silent ? undefined : to.destroy()));
    };
    forward(client, upstream);
    forward(upstream, client);
    client.on('close', () => {
      pairs.delete(pair);
      upstream.destroy();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => {
    for (const { client } of pairs) client.destroy();
    server.close();
  });
  return {
    port: (server.address() as AddressInfo).port,
    silence: () => Promise.all([...pairs].map((pair) => ((pair.silent = true), once(pair.client, 'close')))),
  };
}

/** Runs `fn` with the wall clock moved by `offsetMs` (timers are not affected: they use a monotonic clock). */
async function shiftedClock<T>(offsetMs: number, fn: () => Promise<T>): Promise<T> {
  const realNow = Date.now;
  Date.now = () => realNow() + offsetMs;
  try {
    return await fn();
  } finally {
    Date.now = realNow;
  }
}

t.test('a message is an alert push to /3/device/<token> with the topic, priority 10, collapse id, apns-id and a future expiration', async (t) => {
  const apns = await startApnsServer(t);
  const push = sender(t, apns.config);
  const target = device();
  const notification = message();
  const before = Math.floor(Date.now() / 1000);
  t.same(await push.send(target, notification), { ok: true });
  const [request] = apns.requests;
  t.equal(request?.status, 200, 'APNs accepted it (token verified, headers valid)');
  t.equal(request!.path, `/3/device/${target.token}`);
  t.match(request!.headers, {
    'apns-topic': 'com.example.chat',
    'apns-push-type': 'alert',
    'apns-priority': '10',
    'apns-collapse-id': 'c_4f2a9c',
    'apns-id': notification.id,
  });
  const expiration = Number(request!.headers['apns-expiration']);
  t.ok(expiration >= before + 3600 && expiration <= Math.ceil(Date.now() / 1000) + 3600, `expires in ttlSeconds (${expiration - before} s)`);
  t.same(request!.body, {
    aps: { alert: { title: 'Alice', body: 'hello Bob' }, badge: 3, sound: 'default', 'thread-id': 'conv-1', 'mutable-content': 1 },
    type: 'message',
    conversationId: 'conv-1',
    seq: 7,
    messageId: 'msg-1',
    senderId: 'alice',
  });
  const { header, claims } = decodeProviderToken(request!.jwt!);
  t.same(header, { alg: 'ES256', kid: apns.key.keyId }, 'ES256 with the key id');
  t.equal(claims.iss, apns.key.teamId, 'issued by the team');
  t.ok(Math.abs(claims.iat - Date.now() / 1000) < 5, 'issued now (seconds)');
});

t.test('the provider token and the HTTP/2 session are reused; the token is renewed after 50 minutes', async (t) => {
  const apns = await startApnsServer(t);
  const push = sender(t, apns.config);
  const target = device();
  t.same(await push.send(target, message()), { ok: true });
  t.same(await push.send(target, message()), { ok: true });
  t.same(await shiftedClock(49 * 60_000, () => push.send(target, message())), { ok: true }, 'at 49 minutes');
  const late = await shiftedClock(51 * 60_000, () => push.send(target, message()));
  t.same(late, { ok: true }, 'at 51 minutes');
  const jwts = apns.requests.map((r) => r.jwt);
  t.equal(new Set(jwts.slice(0, 3)).size, 1, 'one token for the first three pushes');
  t.not(jwts[3], jwts[0], 'a new token at 51 minutes');
  t.ok(apns.requests[3]!.claims!.iat - apns.requests[0]!.claims!.iat >= 51 * 60, 'issued then');
  t.same([apns.connections, apns.requests.map((r) => r.session)], [1, [1, 1, 1, 1]], 'all on one HTTP/2 session');
});

t.test("a device registered with an appId is pushed on that topic", async (t) => {
  const apns = await startApnsServer(t);
  const push = sender(t, apns.config);
  t.same(await push.send(device(apnsDeviceToken(), 'com.example.chat.beta'), message()), { ok: true });
  t.equal(apns.requests[0]?.headers['apns-topic'], 'com.example.chat.beta');
});

t.test('without a preview or a badge, the alert has only the title and no badge', async (t) => {
  const apns = await startApnsServer(t);
  const push = sender(t, apns.config);
  t.same(await push.send(device(), message({ alert: { title: 'Alice', body: null }, badge: null })), { ok: true });
  t.same(apns.requests[0]?.body?.aps, { alert: { title: 'Alice' }, sound: 'default', 'thread-id': 'conv-1', 'mutable-content': 1 });
});

t.test('a retraction is a background push: content-available only, priority 5', async (t) => {
  const apns = await startApnsServer(t);
  const push = sender(t, apns.config);
  const notification = retraction();
  t.same(await push.send(device(), notification), { ok: true });
  const [request] = apns.requests;
  t.equal(request?.status, 200);
  t.match(request!.headers, { 'apns-push-type': 'background', 'apns-priority': '5', 'apns-collapse-id': 'c_4f2a9c', 'apns-id': notification.id });
  t.same(request!.body, { aps: { 'content-available': 1 }, type: 'message.deleted', conversationId: 'conv-1', messageId: 'msg-1' });
});

t.test('a device APNs no longer knows is an invalid target: 410 Unregistered, 400 BadDeviceToken, 400 DeviceTokenNotForTopic', async (t) => {
  const apns = await startApnsServer(t);
  const push = sender(t, apns.config);
  apns.answers.push({ status: 410, reason: 'Unregistered' });
  t.same(await push.send(device(), message()), { ok: false, retry: false, invalidTarget: true, error: 'apns answered 410 Unregistered' });
  t.same(await push.send(device('not-a-device-token'), message()), { ok: false, retry: false, invalidTarget: true, error: 'apns answered 400 BadDeviceToken' }, 'a malformed token, refused by the server itself');
  apns.answers.push({ status: 400, reason: 'DeviceTokenNotForTopic' });
  t.same(await push.send(device(), message()), { ok: false, retry: false, invalidTarget: true, error: 'apns answered 400 DeviceTokenNotForTopic' });
  t.same(
    apns.requests.map((r) => [r.status, r.reason]),
    [
      [410, 'Unregistered'],
      [400, 'BadDeviceToken'],
      [400, 'DeviceTokenNotForTopic'],
    ],
  );
});

t.test('429 and 5xx are worth a retry, after Retry-After when given; other 4xx are not', async (t) => {
  const apns = await startApnsServer(t);
  const push = sender(t, apns.config);
  apns.answers.push({ status: 503, reason: 'ServiceUnavailable', retryAfter: '2' }, { status: 429, reason: 'TooManyRequests', retryAfter: '7' }, 500, { status: 400, reason: 'TopicDisallowed' });
  t.same(await push.send(device(), message()), { ok: false, retry: true, invalidTarget: false, error: 'apns answered 503 ServiceUnavailable', retryAfterMs: 2000 });
  t.same(await push.send(device(), message()), { ok: false, retry: true, invalidTarget: false, error: 'apns answered 429 TooManyRequests', retryAfterMs: 7000 });
  const noRetryAfter = await push.send(device(), message());
  t.same(noRetryAfter, { ok: false, retry: true, invalidTarget: false, error: 'apns answered 500 InternalServerError' });
  t.notOk('retryAfterMs' in noRetryAfter, 'no Retry-After: none in the outcome');
  t.same(await push.send(device(), message()), { ok: false, retry: false, invalidTarget: false, error: 'apns answered 400 TopicDisallowed' });
  t.same(await push.send(device(), message()), { ok: true }, 'the session survived them all');
  t.equal(apns.connections, 1);
});

t.test('a topic HTTP/2 cannot carry (a registered appId with a line break) injects nothing and is not retried', async (t) => {
  const apns = await startApnsServer(t);
  const push = sender(t, apns.config);
  t.same(await push.send(device(apnsDeviceToken(), 'com.example\r\nx-injected: 1'), message()), { ok: false, retry: false, invalidTarget: false, error: 'apns answered 400 MissingTopic' });
  t.same([apns.requests[0]?.headers['apns-topic'], apns.requests[0]?.headers['x-injected']], [undefined, undefined], 'the field was dropped whole');
  t.same(await push.send(device(), message()), { ok: true }, 'the next push goes through');
});

t.test('403 ExpiredProviderToken: retried, with a new token on the next request', async (t) => {
  const apns = await startApnsServer(t);
  const push = sender(t, apns.config);
  t.same(await push.send(device(), message()), { ok: true });
  apns.answers.push({ status: 403, reason: 'ExpiredProviderToken' });
  t.same(await push.send(device(), message()), { ok: false, retry: true, invalidTarget: false, error: 'apns answered 403 ExpiredProviderToken' });
  t.same(await push.send(device(), message()), { ok: true });
  t.same(await push.send(device(), message()), { ok: true });
  const [first, expired, renewed, again] = apns.requests.map((r) => r.jwt);
  t.equal(expired, first, 'the refused request carried the old token');
  t.not(renewed, first, 'the next one a new token');
  t.equal(again, renewed, 'which is then reused');
});

t.test('a token signed with another key is refused (403 InvalidProviderToken): no retry, and the token is not in the error', async (t) => {
  const apns = await startApnsServer(t);
  const push = sender(t, { ...apns.config, key: createApnsKey(t).pem });
  const outcome = await push.send(device(), message());
  t.same(outcome, { ok: false, retry: false, invalidTarget: false, error: 'apns answered 403 InvalidProviderToken' });
  t.equal(apns.requests[0]?.status, 403, 'the server checked the signature');
  t.notOk(JSON.stringify(outcome).includes(apns.requests[0]!.jwt!.split('.')[2]!), 'no token in the outcome');
});

t.test('no answer within timeoutMs: retry, the stream is cancelled, the live session is kept', async (t) => {
  const apns = await startApnsServer(t);
  const push = sender(t, apns.config, 200);
  apns.answers.push('hang');
  const started = performance.now();
  const outcome = await push.send(device(), message());
  const elapsed = performance.now() - started;
  t.match(outcome, { ok: false, retry: true, invalidTarget: false, error: /timeout/ });
  t.ok(elapsed >= 190 && elapsed < 2000, `answered after the timeout (${Math.round(elapsed)} ms)`);
  t.same(await push.send(device(), message()), { ok: true }, 'the next push goes through');
  t.same([apns.connections, apns.requests.map((r) => r.session)], [1, [1, 1]], 'on the same session (it answered the PING)');
  t.same(apns.requests.map((r) => r.cancelled), [true, false], 'the timed-out stream was reset (seen before the next request on the connection)');
});

t.test('a connection gone silent (no answer, not even to a PING) is dropped after a timeout; the next push reconnects', async (t) => {
  const apns = await startApnsServer(t);
  const via = await relay(t, Number(new URL(apns.baseUrl).port));
  const push = sender(t, { ...apns.config, baseUrl: `https://127.0.0.1:${via.port}` }, 200);
  t.same(await push.send(device(), message()), { ok: true });
  const closed = via.silence();
  t.match(await push.send(device(), message()), { ok: false, retry: true, error: /timeout/ });
  const timer = (ms: number) => new Promise<'still open'>((resolve) => setTimeout(() => resolve('still open'), ms).unref());
  t.not(await Promise.race([closed.then(() => 'closed'), timer(2000)]), 'still open', 'the sender closed the silent connection (its PING went unanswered)');
  t.same(await push.send(device(), message()), { ok: true }, 'on a new one');
  t.same([apns.connections, apns.requests.map((r) => r.session)], [2, [1, 2]], 'the silenced request never reached APNs');
});

t.test('a refused stream (not processed, e.g. past a GOAWAY) is sent again at once, with the same apns-id', async (t) => {
  const apns = await startApnsServer(t);
  const push = sender(t, apns.config);
  apns.answers.push('refuse');
  const notification = message();
  t.same(await push.send(device(), notification), { ok: true });
  t.same(
    apns.requests.map((r) => [r.status, r.headers['apns-id']]),
    [
      [0, notification.id],
      [200, notification.id],
    ],
  );
});

t.test('APNs closes the session (GOAWAY): the next push opens a new one', async (t) => {
  const apns = await startApnsServer(t);
  const push = sender(t, apns.config);
  t.same(await push.send(device(), message()), { ok: true });
  await apns.goAway();
  t.same(await push.send(device(), message()), { ok: true }, 'right after the GOAWAY');
  apns.answers.push('goaway');
  t.same(await push.send(device(), message()), { ok: true }, 'answered, then GOAWAY');
  t.same(await push.send(device(), message()), { ok: true });
  t.same([apns.connections, apns.requests.map((r) => r.session)], [3, [1, 2, 2, 3]]);
});

t.test('the connection drops mid-request: retry; the next push reconnects', async (t) => {
  const apns = await startApnsServer(t);
  const push = sender(t, apns.config);
  apns.answers.push('drop');
  t.match(await push.send(device(), message()), { ok: false, retry: true, invalidTarget: false, error: /^network: / });
  t.same(await push.send(device(), message()), { ok: true });
  t.same([apns.connections, apns.requests.map((r) => r.session)], [2, [1, 2]]);
});

t.test('nothing listening: a network error worth a retry', async (t) => {
  const apns = await startApnsServer(t);
  const push = sender(t, { ...apns.config, baseUrl: `https://127.0.0.1:${await freePort()}` });
  t.same(await push.send(device(), message()), { ok: false, retry: true, invalidTarget: false, error: 'network: ECONNREFUSED' });
});

t.test('close() ends the session; later pushes are not sent', async (t) => {
  const apns = await startApnsServer(t);
  const push = sender(t, apns.config);
  t.same(await push.send(device(), message()), { ok: true });
  await push.close!();
  t.match(await push.send(device(), message()), { ok: false, retry: true });
  t.equal(apns.requests.length, 1, 'nothing sent after close');
});

t.test('a key that is not a P-256 private key is refused at creation, without its text', async (t) => {
  const apns = await startApnsServer(t);
  t.throws(() => createApnsSender({ ...apns.config, key: 'not a key', timeoutMs: 1000 }), /not a PEM private key/);
  const p384 = generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  t.throws(() => createApnsSender({ ...apns.config, key: p384, timeoutMs: 1000 }), /not a P-256/);
});
