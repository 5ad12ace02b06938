import t from 'tap';
import { closeRedis, createRedis } from '../../../src/lib/redis.js';
import { createRedisPresence } from '../../../src/realtime/presence-store.js';
import { runConfig, uniqueName } from '../../helper.js';

/*
 * An instance that dies holds claims it never releases. They expire after the TTL, and then exactly
 * one live instance must learn of each such user (to announce them offline), while users who still
 * hold a socket on a live instance are left alone. Real Redis (CI's first pass), a fake clock for the
 * claim scores (the keys' own Redis expiry is far beyond the test).
 */

const url = runConfig.redis.url;
if (url) t.test('claims of a dead instance expire into exactly one sweeper; live claims stay', async (t) => {
  const redis = createRedis(url);
  t.teardown(() => closeRedis(redis));
  let now = 1_000_000;
  const options = { prefix: `${uniqueName('t')}:`, ttlMs: 60_000, now: () => now };
  const dead = createRedisPresence(redis, { ...options, instanceId: 'dead' });
  const alive = createRedisPresence(redis, { ...options, instanceId: 'alive' });
  const other = createRedisPresence(redis, { ...options, instanceId: 'other' });

  t.equal(await dead.connected('u-gone'), true, 'u-gone comes online on the instance that will die');
  await dead.connected('u-both');
  await alive.connected('u-both');
  await alive.connected('u-here');
  t.strictSame(await alive.expired(), [], 'nothing expired yet');

  now += 30_000;
  await alive.refresh(['u-both', 'u-here']); // the live instance keeps its claims; the dead one cannot
  now += 40_000; // the dead instance's claims are now 70 s old, the live ones 40 s
  const [first, second] = await Promise.all([alive.expired(), other.expired()]);
  t.strictSame([...first, ...second], ['u-gone'], "the dead instance's only-user is handed out once, to one sweeper");
  t.strictSame(await alive.expired(), [], 'and never again');
  t.strictSame([...(await alive.online(['u-gone', 'u-both', 'u-here']))].sort(), ['u-both', 'u-here'], 'users with a live claim stay online');

  await alive.disconnected('u-here');
  now += 30_000;
  await alive.refresh(['u-both']);
  now += 40_000; // u-here's claim would have expired by now, had it not left the index on disconnect
  t.strictSame(await other.expired(), [], 'a user who disconnected cleanly is not swept; a refreshed one neither');
});
