import t, { type Test } from 'tap';
import type { Bus } from '../../../src/bus/bus.js';
import { createMemoryBus } from '../../../src/bus/memory-bus.js';
import { createRedisBus } from '../../../src/bus/redis-bus.js';
import { closeRedis, createRedis } from '../../../src/lib/redis.js';
import { ACCESS_CHANNEL, type LiveSession, createLiveSessions } from '../../../src/modules/auth/live-sessions.js';
import { newId } from '../../../src/lib/ids.js';
import { type Account, call, registerAndVerify, signIn } from '../../support/accounts.js';
import { buildAuthApp } from '../../support/auth-app.js';
import { createAdmin, grantRole } from '../../support/staff.js';
import { runConfig, uniqueName } from '../../helper.js';
import { buildCluster } from '../realtime/cluster-support.js';

/*
 * The per-instance cache of live sessions (src/modules/auth/live-sessions.ts): an authenticated
 * request costs no query, and still every revocation, ban, erasure and role change holds on every
 * instance once the bus has carried it, and on the instance that made it before it answers.
 * Races are driven step by step (begin / change / store), never by timing; an outage is a real
 * killed subscriber connection.
 */

const HOUR = 3_600_000;

function clock(start = 1_000_000) {
  let at = start;
  return { now: () => at, advance: (ms: number) => (at += ms) };
}

async function started(t: Test, bus: Bus, options: { now?: () => number; ttlMs?: number; maxEntries?: number } = {}) {
  const cache = createLiveSessions({ bus, ...options });
  await cache.start();
  t.teardown(() => cache.stop());
  return cache;
}

function memoryBus(t: Test): Bus {
  const bus = createMemoryBus();
  t.teardown(() => bus.close());
  return bus;
}

/** Resolves once `bus` delivered `marker` on ACCESS_CHANNEL: everything published before it on the same bus has arrived too. */
async function sentinel(bus: Bus, publisher: Bus = bus): Promise<void> {
  const marker = { userId: newId(), sessionIds: [] as string[] };
  let off: (() => Promise<void>) | undefined;
  const arrived = new Promise<void>((resolve) => {
    void bus
      .subscribe(ACCESS_CHANNEL, (message) => {
        if ((message as { userId?: string }).userId === marker.userId) resolve();
      })
      .then((unsubscribe) => {
        off = unsubscribe;
        return publisher.publish(ACCESS_CHANNEL, marker);
      });
  });
  await arrived;
  await off?.();
}

const session = (userId: string, expiresAt: number): LiveSession => ({ userId, role: 'user', expiresAt });

t.test('a live session is answered from the cache until its own expiry or the ttl, whichever comes first', async (t) => {
  const time = clock();
  const cache = await started(t, memoryBus(t), { now: time.now, ttlMs: 30_000 });
  const [user, short, long] = [newId(), newId(), newId()];
  cache.store(cache.begin(), short, session(user, time.now() + 10_000));
  cache.store(cache.begin(), long, session(user, time.now() + HOUR));
  t.equal(cache.get(short)?.userId, user, 'stored');
  time.advance(10_000);
  t.equal(cache.get(short), undefined, 'not at the session’s own expiry');
  t.equal(cache.get(long)?.userId, user, 'the other is still there');
  time.advance(20_000);
  t.equal(cache.get(long), undefined, 'not past the ttl');
  t.equal(cache.size, 0, 'both are gone');
});

t.test('a read that began before a change is not stored: a check racing a revocation cannot bring the session back', async (t) => {
  const cache = await started(t, memoryBus(t));
  const [user, sid] = [newId(), newId()];
  const begun = cache.begin();
  cache.changed({ userId: user, sessionIds: [sid] }, t.error);
  cache.store(begun, sid, session(user, Date.now() + HOUR));
  t.equal(cache.get(sid), undefined, 'the racing read was dropped');
  cache.store(cache.begin(), sid, session(user, Date.now() + HOUR));
  t.equal(cache.get(sid)?.userId, user, 'a read begun after the change is kept');
});

t.test('a change is forgotten here before `changed` returns, and on the other instances through the bus', async (t) => {
  const bus = memoryBus(t);
  const [here, there] = [await started(t, bus), await started(t, bus)];
  const [alice, bob] = [newId(), newId()];
  const [a1, a2, b1] = [newId(), newId(), newId()];
  for (const cache of [here, there]) {
    cache.store(cache.begin(), a1, session(alice, Date.now() + HOUR));
    cache.store(cache.begin(), a2, session(alice, Date.now() + HOUR));
    cache.store(cache.begin(), b1, session(bob, Date.now() + HOUR));
  }
  here.changed({ userId: alice, sessionIds: [a1] }, t.error);
  t.equal(here.get(a1), undefined, 'gone here at once');
  t.ok(there.get(a1), 'the other instance has not heard yet (the bus delivers later)');
  await sentinel(bus);
  t.equal(there.get(a1), undefined, 'gone there once the bus delivered');
  t.ok(there.get(a2) && there.get(b1), 'only the named session');

  here.changed({ userId: alice }, t.error);
  await sentinel(bus);
  for (const cache of [here, there]) {
    t.equal(cache.get(a2), undefined, 'a change without sessionIds drops every session of the user');
    t.equal(cache.get(b1)?.userId, bob, 'and no one else’s');
  }
});

t.test('a message on the channel that is not a change empties the cache rather than being ignored', async (t) => {
  const bus = memoryBus(t);
  const cache = await started(t, bus);
  const [user, sid] = [newId(), newId()];
  for (const junk of [null, 'x', { sessionIds: [sid] }, { userId: user, sessionIds: sid }]) {
    cache.store(cache.begin(), sid, session(user, Date.now() + HOUR));
    t.ok(cache.get(sid), 'stored');
    await bus.publish(ACCESS_CHANNEL, junk);
    await sentinel(bus);
    t.equal(cache.get(sid), undefined, `forgotten after ${JSON.stringify(junk)}`);
  }
});

t.test('never more than maxEntries: the oldest stored goes first', async (t) => {
  const cache = await started(t, memoryBus(t), { maxEntries: 3 });
  const user = newId();
  const ids = [newId(), newId(), newId(), newId()];
  for (const id of ids) cache.store(cache.begin(), id, session(user, Date.now() + HOUR));
  t.equal(cache.size, 3);
  t.equal(cache.get(ids[0]!), undefined, 'the first is gone');
  t.ok(ids.slice(1).every((id) => cache.get(id)), 'the last three are there');
  cache.changed({ userId: user }, t.error);
  t.equal(cache.size, 0, 'the user index followed the eviction (nothing left behind)');
});

t.test('nothing is cached before the subscription is active, nor after stop', async (t) => {
  const bus = memoryBus(t);
  const cache = createLiveSessions({ bus });
  const [user, sid] = [newId(), newId()];
  cache.store(cache.begin(), sid, session(user, Date.now() + HOUR));
  t.equal(cache.get(sid), undefined, 'before start');
  await cache.start();
  cache.store(cache.begin(), sid, session(user, Date.now() + HOUR));
  t.ok(cache.get(sid), 'after start');
  cache.stop();
  t.equal(cache.get(sid), undefined, 'emptied by stop');
  cache.store(cache.begin(), sid, session(user, Date.now() + HOUR));
  t.equal(cache.get(sid), undefined, 'and nothing stored after it');
});

if (runConfig.redis.url) {
  const url = runConfig.redis.url;
  t.test('Redis: an outage empties the cache, nothing is cached during it, caching resumes once resubscribed', async (t) => {
    const redis = createRedis(url);
    const admin = createRedis(url);
    t.teardown(() => Promise.all([closeRedis(redis), closeRedis(admin)]));
    const prefix = `${uniqueName('live')}:`;
    const bus = createRedisBus({ redis, prefix });
    t.teardown(() => bus.close());
    const cache = await started(t, bus);
    const [user, before, during, after] = [newId(), newId(), newId(), newId()];
    cache.store(cache.begin(), before, session(user, Date.now() + HOUR));
    t.ok(cache.get(before), 'cached while subscribed');

    // Listeners run in registration order: the cache's own ran first in both.
    let duringOutage: { emptied: boolean; stored: boolean } | undefined;
    let slowRead: number | undefined;
    bus.onOutage(() => {
      if (duringOutage) return;
      const emptied = cache.get(before) === undefined;
      cache.store(cache.begin(), during, session(user, Date.now() + HOUR));
      duringOutage = { emptied, stored: cache.get(during) !== undefined };
      // A database read that begins now and ends after the reconnect: a change published in between is lost.
      slowRead = cache.begin();
    });
    const reconnected = new Promise<void>((resolve) => bus.onReconnect(resolve));
    const list = String(await admin.call('CLIENT', 'LIST'));
    const id = list.split('\n').find((line) => line.split(' ').includes(`name=${prefix}bus-sub`))?.match(/(?:^| )id=(\d+)/)?.[1];
    t.ok(id, 'found the subscriber connection');
    await admin.call('CLIENT', 'KILL', 'ID', id!);
    await reconnected;
    t.strictSame(duringOutage, { emptied: true, stored: false }, 'the outage emptied the cache and refused to store');
    cache.store(slowRead!, during, session(user, Date.now() + HOUR));
    t.equal(cache.get(during), undefined, 'a read begun during the outage is not stored after it');
    cache.store(cache.begin(), after, session(user, Date.now() + HOUR));
    t.ok(cache.get(after), 'caching again once resubscribed');
    const other = createRedisBus({ redis: admin, prefix });
    t.teardown(() => other.close());
    await other.publish(ACCESS_CHANNEL, { userId: user });
    await sentinel(bus, other);
    t.equal(cache.get(after), undefined, 'and changes arrive through the new subscription');
  });
} else {
  t.comment('REDIS_URL unset: the outage case needs a Redis server');
}

t.test('Redis down at boot: the instance starts and checks every session in the database', async (t) => {
  const redis = createRedis('redis://127.0.0.1:1');
  t.teardown(() => redis.disconnect());
  const { app, mailbox } = await buildAuthApp(t, { overrides: { redis, bus: undefined } });
  const account = await registerAndVerify(app, mailbox);
  const me = () => call(app, 'GET', '/users/me', { token: account.accessToken });
  t.equal((await me()).statusCode, 200, 'authenticated requests are served');
  t.equal((await me()).statusCode, 200, 'again');
  t.equal((await call(app, 'POST', '/auth/logout', { payload: { refreshToken: account.refreshToken } })).statusCode, 204, 'logout (its publish fails)');
  t.equal((await me()).statusCode, 401, 'the revoked session is refused: nothing was cached');
});

t.test('two instances: revocation, ban and role change made on one hold on the other, which had the session cached', async (t) => {
  const c = await buildCluster(t);
  const admin = await createAdmin(c.a);
  const me = (app: typeof c.a, account: Pick<Account, 'accessToken'>) => call(app, 'GET', '/users/me', { token: account.accessToken });
  /** Once B's bus delivered this marker, A's earlier publishes on the channel have arrived at B. */
  const heardOnB = () => sentinel(c.b.bus, c.a.bus);

  const alice = await c.user('Alice');
  t.equal((await me(c.b, alice)).statusCode, 200, 'B checked (and cached) Alice’s session');
  t.equal((await me(c.b, alice)).statusCode, 200, 'and answers from it');
  const logout = await call(c.a, 'POST', '/auth/logout', { payload: { refreshToken: alice.refreshToken } });
  t.equal(logout.statusCode, 204, 'logged out through A');
  t.equal((await me(c.a, alice)).statusCode, 401, 'A refuses at once');
  await heardOnB();
  t.equal((await me(c.b, alice)).statusCode, 401, 'B refuses the revoked session');

  const bob = await c.user('Bob');
  const bobPhone = await signIn(c.a, c.mailbox, bob, 'phone');
  for (const token of [bob.accessToken, bobPhone.accessToken]) t.equal((await me(c.b, { accessToken: token })).statusCode, 200, 'B cached both of Bob’s sessions');
  const ban = await call(c.a, 'POST', `/admin/users/${bob.user.id}/ban`, { token: admin.accessToken, payload: { reason: 'spam' } });
  t.equal(ban.statusCode, 200, 'banned through A');
  await heardOnB();
  for (const token of [bob.accessToken, bobPhone.accessToken]) {
    const refused = await me(c.b, { accessToken: token });
    t.ok(refused.statusCode === 401 || refused.statusCode === 403, `B refuses the banned user’s session (${refused.statusCode})`);
  }

  const carol = await c.user('Carol');
  const staffRoute = (app: typeof c.a) => call(app, 'GET', `/admin/users/${carol.user.id}`, { token: carol.accessToken });
  t.equal((await staffRoute(c.b)).statusCode, 403, 'B cached Carol as a user');
  await grantRole(c.a, admin, carol, 'admin');
  await heardOnB();
  t.equal((await staffRoute(c.b)).statusCode, 200, 'B reads the new role');
  await grantRole(c.a, admin, carol, 'user');
  t.equal((await staffRoute(c.a)).statusCode, 403, 'A: the demotion holds at once');
  await heardOnB();
  t.equal((await staffRoute(c.b)).statusCode, 403, 'B: the demotion holds');
});
