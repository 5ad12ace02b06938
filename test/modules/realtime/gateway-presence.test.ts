import { randomUUID } from 'node:crypto';
import t from 'tap';
import { createMemoryPresence, createRedisPresence } from '../../../src/realtime/presence-store.js';
import { createRedis, closeRedis } from '../../../src/lib/redis.js';
import { runConfig, uniqueName } from '../../helper.js';
import { call, expectStatus } from '../../support/accounts.js';
import { block, buildChatApp, createGroup, directChat } from '../../support/chat.js';
import { socketBase } from '../../support/ws-client.js';
import { alive, framesOf, open, sleep, waitFrame } from './gateway-helpers.js';

/*
 * Presence: online while a user has a socket anywhere; offline (with lastSeenAt, unless hidden) when
 * the last one closes. Only people who share a conversation, and did not block each other, may watch.
 */

const h = await buildChatApp(t);
const base = await socketBase(t, h.app);

const presenceOf = (client: Parameters<typeof framesOf>[0], userId: string) => framesOf(client, 'presence').filter((f) => f.data?.userId === userId);

t.test('a watcher sees a contact come online and go offline, with lastSeenAt', async (t) => {
  const [a, b] = [await h.user(), await h.user()];
  await directChat(h.app, a, b);
  const watcher = (await open(t, base, a)).client;
  const ack = await watcher.request('presence.subscribe', { userIds: [b.user.id] });
  t.equal(ack.type, 'ack');
  t.same(ack.data.items, [{ userId: b.user.id, online: false, lastSeenAt: null }], 'offline, never seen');

  const phone = (await open(t, base, b)).client;
  const online = await waitFrame(watcher, (f) => f.type === 'presence' && f.data.online === true);
  t.same(online.data, { userId: b.user.id, online: true, lastSeenAt: null });
  const laptop = (await open(t, base, b)).client;
  phone.close();
  await sleep(300);
  t.equal(presenceOf(watcher, b.user.id).length, 1, 'still online while another socket is open');
  const before = Date.now();
  laptop.close();
  const offline = await waitFrame(watcher, (f) => f.type === 'presence' && f.data.online === false);
  t.equal(offline.data.userId, b.user.id);
  t.ok(Date.parse(offline.data.lastSeenAt) >= before - 1000, 'lastSeenAt is when the last socket closed');
  const again = await watcher.request('presence.subscribe', { userIds: [b.user.id] });
  t.same(again.data.items, [{ userId: b.user.id, online: false, lastSeenAt: offline.data.lastSeenAt }], 'the snapshot agrees');
});

t.test('hiding last seen: offline without lastSeenAt, in events and snapshots', async (t) => {
  const [a, b] = [await h.user(), await h.user()];
  await createGroup(h.app, a, [b]);
  const refused = await call(h.app, 'PATCH', '/users/me', { token: b.accessToken, payload: { hideLastSeen: 'sometimes' } });
  t.equal(refused.statusCode, 400, 'hideLastSeen takes a boolean');
  t.equal((await call(h.app, 'GET', '/users/me', { token: b.accessToken })).json().hideLastSeen, false, 'and nothing changed');
  const hidden = await call(h.app, 'PATCH', '/users/me', { token: b.accessToken, payload: { hideLastSeen: true } });
  t.equal(expectStatus<{ hideLastSeen: boolean }>(hidden, 200, 'hide').hideLastSeen, true);
  const watcher = (await open(t, base, a)).client;
  await watcher.request('presence.subscribe', { userIds: [b.user.id] });
  const socket = (await open(t, base, b)).client;
  await waitFrame(watcher, (f) => f.type === 'presence' && f.data.online === true);
  socket.close();
  const offline = await waitFrame(watcher, (f) => f.type === 'presence' && f.data.online === false);
  t.equal(offline.data.lastSeenAt, null, 'the event hides it');
  t.same((await watcher.request('presence.subscribe', { userIds: [b.user.id] })).data.items[0].lastSeenAt, null, 'so does the snapshot');
});

t.test('strangers, blocked users, unknown ids and yourself are left out; bad frames are refused', async (t) => {
  const [a, contact, stranger, blocker] = [await h.user(), await h.user(), await h.user(), await h.user()];
  await directChat(h.app, a, contact);
  await directChat(h.app, a, blocker);
  await block(h.app, blocker, a);
  const watcher = (await open(t, base, a)).client;
  const ack = await watcher.request('presence.subscribe', { userIds: [contact.user.id, stranger.user.id, blocker.user.id, randomUUID(), a.user.id] });
  t.same(ack.data.items.map((i: { userId: string }) => i.userId), [contact.user.id], 'only the contact');
  const strangerSocket = (await open(t, base, stranger)).client;
  await sleep(300);
  t.equal(presenceOf(watcher, stranger.user.id).length, 0, 'no events about a stranger');
  t.ok(await alive(strangerSocket));
  for (const data of [{ userIds: [] }, { userIds: ['nope'] }, { userIds: Array.from({ length: 101 }, () => randomUUID()) }, {}]) {
    const refused = await watcher.request('presence.subscribe', data);
    t.equal(refused.data.code, 'VALIDATION_FAILED', `refused: ${JSON.stringify(data).slice(0, 40)}`);
  }
});

t.test('presence store contract (memory): claims per instance', async (t) => {
  const store = createMemoryPresence();
  t.equal(await store.connected('u1'), true, 'the first claim brings the user online');
  t.same([...(await store.online(['u1', 'u2']))], ['u1']);
  t.equal(await store.disconnected('u1'), true, 'the claim gone: offline');
  t.same([...(await store.online(['u1']))], []);
});

// Declared only where Redis is configured (CI's first pass); the embedded run has no shared store to test.
if (runConfig.redis.url) t.test('presence store contract (redis): shared by instances, a crashed instance stops counting after the TTL', async (t) => {
  const redis = createRedis(runConfig.redis.url!);
  t.teardown(() => closeRedis(redis));
  const prefix = `${uniqueName('presence')}:`;
  const first = createRedisPresence(redis, { prefix, instanceId: 'one', ttlMs: 400 });
  const second = createRedisPresence(redis, { prefix, instanceId: 'two', ttlMs: 400 });
  t.equal(await first.connected('u1'), true, 'the first claim brings the user online');
  t.same([...(await second.online(['u1', 'u2']))], ['u1'], 'every instance sees it');
  t.equal(await second.connected('u1'), false, 'a claim from a second instance: already online');
  t.equal(await first.disconnected('u1'), false, 'one instance letting go: still online through the other');
  await sleep(600);
  t.same([...(await first.online(['u1']))], [], 'the other stopped refreshing (a crash): offline after the TTL');
  t.equal(await first.connected('u1'), true, 'so the next claim is an arrival');
  for (let i = 0; i < 3; i++) {
    await sleep(200);
    await first.refresh(['u1']);
  }
  t.same([...(await second.online(['u1']))], ['u1'], 'refreshing keeps a claim alive past the TTL');
  t.equal(await first.disconnected('u1'), true, 'the last claim gone: offline');
  t.same([...(await second.online(['u1']))], [], 'everywhere');
});
