import { sql } from 'drizzle-orm';
import t from 'tap';
import type { App } from '../../../src/app.js';
import { type Account, call, expectStatus, registerAndVerify } from '../../support/accounts.js';
import { createGroup, directChat, sendText } from '../../support/chat.js';
import { rest } from '../../support/sync-client.js';
import { type BrowserSubscription, startWebPushEndpoint, verifyVapid } from '../../support/web-push-endpoint.js';
import { expectProblem } from '../messages/fixtures.js';
import { buildCluster } from '../realtime/cluster-support.js';
import { buildAuthApp } from '../../support/auth-app.js';

/*
 * Push through Web Push, end to end: the web-push client library sends to a push service on
 * loopback that decrypts each payload with the subscription's key and checks the VAPID signature.
 * Two instances share one database; their workers are driven round by round (runOnce) instead of on
 * a timer, so every interleaving here is chosen, not hoped for.
 */

const endpoint = await startWebPushEndpoint(t);
const c = await buildCluster(t, {
  envA: { WEB_PUSH_ALLOW_PRIVATE: 'true', PUSH_GRACE_MS: '0', PUSH_POLL_MS: '60000' },
  envB: { WEB_PUSH_ALLOW_PRIVATE: 'true', PUSH_GRACE_MS: '0', PUSH_POLL_MS: '60000' },
});
const { a, b } = c;

async function registerBrowser(app: App, account: Account): Promise<{ subscription: BrowserSubscription; id: string }> {
  const subscription = endpoint.subscribe();
  const device = expectStatus<{ id: string }>(await call(app, 'POST', '/push/devices', { token: account.accessToken, payload: { platform: 'webpush', subscription: subscription.json, locale: 'en' } }), 201, 'register');
  return { subscription, id: device.id };
}

/** Rounds of both workers until neither has anything left to do now. */
async function drain(): Promise<void> {
  for (let round = 0; round < 10; round++) {
    const results = await Promise.all([a.services.push.runOnce(), b.services.push.runOnce()]);
    if (results.every((r) => r.planned === 0 && Object.keys(r.outcomes).length === 0)) return;
  }
}

const payloads = (subscription: BrowserSubscription) => endpoint.received(subscription).map((r) => subscription.decrypt(r.body) as Record<string, unknown>);

t.test('an offline member gets one push per message, encrypted for their browser and signed with the VAPID key; the sender gets none', async (t) => {
  const [alice, bob] = [await c.user('Alice'), await c.user('Bob')];
  const chat = await directChat(a, alice, bob);
  const bobs = await registerBrowser(b, bob);
  const alices = await registerBrowser(a, alice);
  const message = await sendText(a, alice, chat.id, 'hello Bob');
  await drain();
  const [push] = endpoint.received(bobs.subscription);
  t.ok(push, 'Bob got a push');
  t.same(bobs.subscription.decrypt(push!.body), { type: 'message', conversationId: chat.id, seq: message.seq, messageId: message.id, title: 'Alice', body: 'hello Bob', senderId: alice.user.id, badge: 1 }, 'the payload decrypts with his key');
  const { publicKey } = expectStatus<{ publicKey: string }>(await call(a, 'GET', '/push/vapid-key'), 200, 'vapid key');
  const vapid = verifyVapid(push!.headers.authorization, bobs.subscription.json.endpoint);
  t.equal(vapid.key, publicKey, 'signed with the key browsers subscribe with (the same on both instances)');
  t.equal(vapid.claims.sub, 'mailto:operator@example.invalid', 'with the operator subject');
  t.same([push!.headers['content-encoding'], push!.headers.urgency], ['aes128gcm', 'high'], 'aes128gcm, high urgency');
  t.match(push!.headers.topic, /^[A-Za-z0-9_-]{1,32}$/, 'a Topic, so the next push of the conversation replaces it');
  t.ok(Number(push!.headers.ttl) > 0, 'a TTL');
  t.equal(endpoint.received(alices.subscription).length, 0, 'the sender got nothing');
  await sendText(b, alice, chat.id, 'again');
  await drain();
  t.equal(payloads(bobs.subscription)[1]?.badge, 2, 'the badge counts both unread messages');
  const topics = endpoint.received(bobs.subscription).map((r) => r.headers.topic);
  t.same([topics.length, new Set(topics).size], [2, 1], 'two pushes, one Topic: one notification per conversation');
});

t.test('no push to whom it would not reach or concern: delivered in time, muted, blocking the sender, logged out, not yet a member', async (t) => {
  const [alice, bob, carol, dave, erin] = [await c.user('Alice'), await c.user('Bob'), await c.user('Carol'), await c.user('Dave'), await c.user('Erin')];
  const group = await createGroup(a, alice, [bob, carol, dave]);
  const devices = new Map<Account, BrowserSubscription>();
  for (const who of [bob, carol, dave, erin]) devices.set(who, (await registerBrowser(a, who)).subscription);
  await rest(b, carol, 'PATCH', `/chat/${group.id}/settings`, { muted: true });
  await rest(a, dave, 'POST', `/users/${alice.user.id}/block`);
  const message = await sendText(a, alice, group.id, 'to the group');
  await rest(b, bob, 'POST', `/chat/${group.id}/delivered`, { seq: message.seq });
  await rest(a, alice, 'POST', `/chat/${group.id}/members`, { userIds: [erin.user.id] });
  await drain();
  t.same(
    [bob, carol, dave, erin].map((who) => endpoint.received(devices.get(who)!).length),
    [0, 0, 0, 0],
    'Bob acknowledged delivery, Carol muted the group, Dave blocks Alice, Erin joined after the message',
  );
  const later = await sendText(a, alice, group.id, 'later');
  await call(a, 'POST', '/auth/logout', { token: bob.accessToken, payload: { refreshToken: bob.refreshToken } });
  await drain();
  t.equal(endpoint.received(devices.get(bob)!).length, 0, 'Bob logged out: his device ends with the session');
  t.same(payloads(devices.get(erin)!).map((p) => p.seq), [later.seq], 'Erin gets the one after she joined');
});

t.test('a push service that answers 503 gets the push again later, and it is shown once; 410 removes the device', async (t) => {
  const [alice, bob, carol] = [await c.user('Alice'), await c.user('Bob'), await c.user('Carol')];
  const chat = await directChat(a, alice, bob);
  const bobs = await registerBrowser(a, bob);
  endpoint.answers.push(503);
  await sendText(a, alice, chat.id, 'retry me');
  await drain();
  t.equal(endpoint.received(bobs.subscription).length, 0, 'nothing shown after the 503');
  // Arranged: the backoff passes (the clock is not waited out).
  await a.db.execute(sql`update push_deliveries set send_after = now() where device_id = ${bobs.id} and state = 'pending'`);
  await drain();
  t.same(payloads(bobs.subscription).map((p) => p.body), ['retry me'], 'then sent, once');
  await drain();
  t.equal(endpoint.received(bobs.subscription).length, 1, 'and never again');

  const carols = await registerBrowser(b, carol);
  const direct = await directChat(a, alice, carol);
  endpoint.answers.push(410);
  await sendText(a, alice, direct.id, 'gone');
  await drain();
  const list = expectStatus<{ items: Array<{ id: string }> }>(await call(b, 'GET', '/push/devices', { token: carol.accessToken }), 200, 'list');
  t.notOk(list.items.some((d) => d.id === carols.id), 'the subscription the service says is gone is deleted');
});

t.test('two instances never both send one push, and a worker that dies holding pushes loses none', async (t) => {
  const [alice, bob] = [await c.user('Alice'), await c.user('Bob')];
  const chat = await directChat(a, alice, bob);
  const bobs = await registerBrowser(a, bob);
  const sent = [];
  for (let i = 0; i < 12; i++) {
    sent.push(await sendText(i % 2 ? a : b, alice, chat.id, `m${i}`));
    // Both workers at once, on every message (a burst would be collapsed into its last push).
    await drain();
  }
  const seqs = payloads(bobs.subscription).map((p) => p.seq as number);
  t.same([...seqs].sort((x, y) => x - y), sent.map((m) => m.seq), 'each message pushed exactly once across both workers');

  const held = await sendText(a, alice, chat.id, 'held by a worker that died');
  t.ok((await a.services.push.plan()) >= 1, 'planned');
  // Arranged: a worker claims it (as claimDue does) and dies before sending.
  await a.db.execute(sql`update push_deliveries set claimed_until = now() + interval '1 minute', attempts = attempts + 1 where device_id = ${bobs.id} and state = 'pending'`);
  await drain();
  t.notOk(payloads(bobs.subscription).some((p) => p.seq === held.seq), 'nobody else sends it while the lease holds');
  await a.db.execute(sql`update push_deliveries set claimed_until = now() - interval '1 second' where device_id = ${bobs.id} and state = 'pending'`);
  await drain();
  t.same(payloads(bobs.subscription).filter((p) => p.seq === held.seq).length, 1, 'once the lease is over another round sends it, once');
});

t.test('registration: https on public addresses only, platforms this server sends on, a bounded number, the same subscription moves', async (t) => {
  const keys = endpoint.subscribe().json.keys;
  const post = (app: App, who: Account, payload: unknown) => call(app, 'POST', '/push/devices', { token: who.accessToken, payload: payload as Record<string, unknown> });
  const strict = await buildAuthApp(t, { env: { AUTH_LOGIN_OTP: 'false', PUSH_MAX_DEVICES_PER_USER: '2', PUSH_POLL_MS: '60000', PUSH_GRACE_MS: '0' } });
  const zoe = await registerAndVerify(strict.app, strict.mailbox);
  for (const url of [`${endpoint.base}/x`, 'https://localhost/x', 'https://10.1.2.3/x', 'https://[::1]/x', 'https://169.254.169.254/latest', 'http://93.184.216.34/x', 'https://user:pw@93.184.216.34/x', 'not a url']) {
    expectProblem(t, await post(strict.app, zoe, { platform: 'webpush', subscription: { endpoint: url, keys } }), url === 'not a url' ? 400 : 400, url.length < 10 ? 'VALIDATION_FAILED' : 'PUSH_ENDPOINT_REFUSED', url);
  }
  for (const n of [1, 2]) expectStatus(await post(strict.app, zoe, { platform: 'webpush', subscription: { endpoint: `https://93.184.216.34/push/${n}`, keys } }), 201, `a public endpoint (${n})`);
  expectProblem(t, await post(strict.app, zoe, { platform: 'webpush', subscription: { endpoint: 'https://93.184.216.34/push/3', keys } }), 409, 'PUSH_DEVICE_LIMIT_REACHED', 'one more than PUSH_MAX_DEVICES_PER_USER');
  expectStatus(await post(strict.app, zoe, { platform: 'webpush', subscription: { endpoint: 'https://93.184.216.34/push/2', keys } }), 201, 'registering one again is not one more');
  // Arranged: a device row that points into the operator's network anyway (as a name resolving there would): the push is never sent, the device goes.
  const yan = await registerAndVerify(strict.app, strict.mailbox);
  const chat = await directChat(strict.app, yan, zoe);
  const before = endpoint.requests.length;
  await strict.app.db.execute(sql`update push_devices set token = ${`${endpoint.base}/inside`} where user_id = ${zoe.user.id} and token like '%/push/1'`);
  await sendText(strict.app, yan, chat.id, 'to a device inside');
  await strict.app.services.push.runOnce();
  t.equal(endpoint.requests.length, before, 'no request reached the private address');
  const left = expectStatus<{ items: unknown[] }>(await call(strict.app, 'GET', '/push/devices', { token: zoe.accessToken }), 200, 'list').items.length;
  t.equal(left, 1, 'and that device is deleted');

  const alice = await c.user('Alice');
  expectProblem(t, await post(a, alice, { platform: 'fcm', token: 'abc' }), 400, 'PUSH_PLATFORM_UNAVAILABLE', 'FCM is not configured');
  expectProblem(t, await post(a, alice, { platform: 'webpush' }), 400, 'VALIDATION_FAILED', 'webpush without a subscription');
  expectProblem(t, await post(a, alice, { platform: 'webpush', subscription: { endpoint: `${endpoint.base}/x`, keys: { p256dh: 'short', auth: keys.auth } } }), 400, 'VALIDATION_FAILED', 'a malformed key');
  const bob = await c.user('Bob');
  const shared = endpoint.subscribe();
  for (const who of [alice, bob]) expectStatus(await post(a, who, { platform: 'webpush', subscription: shared.json }), 201, 'register the same subscription');
  const lists = await Promise.all([alice, bob].map(async (who) => expectStatus<{ items: unknown[] }>(await call(a, 'GET', '/push/devices', { token: who.accessToken }), 200, 'list').items.length));
  t.same(lists, [0, 1], 'the subscription moved to the last user who registered it (a shared browser)');
  const [mine] = expectStatus<{ items: Array<{ id: string; current: boolean }> }>(await call(a, 'GET', '/push/devices', { token: bob.accessToken }), 200, 'list').items;
  t.equal(mine!.current, true, 'registered by this session');
  expectProblem(t, await call(a, 'DELETE', `/push/devices/${mine!.id}`, { token: alice.accessToken }), 404, 'NOT_FOUND', "someone else's device");
  t.equal((await call(a, 'DELETE', `/push/devices/${mine!.id}`, { token: bob.accessToken })).statusCode, 204, 'his own: deleted');
});

t.test('PUSH_PREVIEW=false: the push says only that there is a new message', async (t) => {
  const quiet = await buildCluster(t, { envA: { WEB_PUSH_ALLOW_PRIVATE: 'true', PUSH_GRACE_MS: '0', PUSH_POLL_MS: '60000', PUSH_PREVIEW: 'false' } });
  const [alice, bob] = [await quiet.user('Alice'), await quiet.user('Bob')];
  const chat = await directChat(quiet.a, alice, bob);
  const subscription = endpoint.subscribe();
  expectStatus(await call(quiet.a, 'POST', '/push/devices', { token: bob.accessToken, payload: { platform: 'webpush', subscription: subscription.json } }), 201, 'register');
  const message = await sendText(quiet.a, alice, chat.id, 'private words');
  await quiet.a.services.push.runOnce();
  const [push] = endpoint.received(subscription);
  t.same(subscription.decrypt(push!.body), { type: 'message', conversationId: chat.id, seq: message.seq, messageId: message.id, title: 'New message', body: null, badge: 1 }, 'no sender, no text');
});
