import t from 'tap';
import { directChat } from '../../support/chat.js';
import { TRANSPORT, buildCluster, openSocket, waitUntil } from './cluster-support.js';

/*
 * Presence across instances: a user is online while they hold a socket on any instance, and goes
 * offline only when the last one, wherever it is, closes. Several instances share presence through
 * Redis only (without REDIS_URL the service is a single instance), so this file declares its test
 * only where Redis is configured: CI's first pass.
 */

if (TRANSPORT === 'redis') t.test('online on either instance counts; offline only when the last socket anywhere closes', async (t) => {
  const c = await buildCluster(t);
  const alice = await c.user('Alice');
  const bob = await c.user('Bob');
  const bobLaptop = await c.device(bob, 'laptop');
  await directChat(c.a, alice, bob);
  const watcher = await openSocket(t, c.a, alice);
  const ack = await watcher.request('presence.subscribe', { userIds: [bob.user.id] });
  t.same(ack.data.items, [{ userId: bob.user.id, online: false, lastSeenAt: null }]);

  const presence = () => watcher.frames.filter((f) => f.type === 'presence').map((f) => f.data.online);
  const onB = await openSocket(t, c.b, bob);
  await waitUntil('Alice on A sees Bob come online on B', () => presence().length === 1);
  const onA = await openSocket(t, c.a, bobLaptop);
  onB.close();
  await new Promise((resolve) => setTimeout(resolve, 500));
  t.same(presence(), [true], 'closing the socket on B while one is open on A: still online, no event');
  t.same((await watcher.request('presence.subscribe', { userIds: [bob.user.id] })).data.items[0].online, true, 'the snapshot says online');
  onA.close();
  await waitUntil('Alice sees Bob go offline', () => presence().length === 2);
  t.same(presence(), [true, false]);
});
