import t from 'tap';
import { closeRedis, createRedis } from '../../../src/lib/redis.js';
import { createRedisPresence } from '../../../src/realtime/presence-store.js';
import { runConfig, uniqueName } from '../../helper.js';

/*
 * An instance that dies holds claims it never releases. They expire after the TTL, and then exactly
 * one live instance must learn of each such user (to announce them offline), while users who still
 * hold a socket on a live instance are left alone. Real Redis only (CI's first pass).
 */

const url = runConfig.redis.url;
if (url) t.test('claims of a dead instance expire into exactly one sweeper; live claims stay', async (t) => {
  const redis = createRedis(url);
  t.teardown(() => closeRedis(redis));
  const prefix = `${uniqueName('t')}:`;
  const ttlMs = 150;
  const dead = createRedisPresence(redis, { prefix, instanceId: 'dead', ttlMs });
  const alive = createRedisPresence(redis, { prefix, instanceId: 'alive', ttlMs });
  const other = createRedisPresence(redis, { prefix, instanceId: 'other', ttlMs });

  t.equal(await dead.connected('u-gone'), true, 'u-gone comes online on the instance that will die');
  await dead.connected('u-both');
  await alive.connected('u-both');
  await alive.connected('u-here');
  t.strictSame(await alive.expired(), [], 'nothing expired yet');

  await new Promise((resolve) => setTimeout(resolve, ttlMs / 2));
  await alive.refresh(['u-both', 'u-here']); // the live instance keeps its claims; the dead one cannot
  await new Promise((resolve) => setTimeout(resolve, ttlMs));
  await alive.refresh(['u-both', 'u-here']);

  const [first, second] = await Promise.all([alive.expired(), other.expired()]);
  t.strictSame([...first, ...second], ['u-gone'], 'the dead instance\'s only-user is handed out once, to one sweeper');
  t.strictSame(await alive.expired(), [], 'and never again');
  t.strictSame([...(await alive.online(['u-gone', 'u-both', 'u-here']))].sort(), ['u-both', 'u-here'], 'users with a live claim stay online');

  await alive.disconnected('u-here');
  for (let i = 0; i < 3; i++) {
    await new Promise((resolve) => setTimeout(resolve, ttlMs / 2));
    await alive.refresh(['u-both']);
  }
  t.strictSame(await other.expired(), [], 'a user who disconnected cleanly is not swept (their claim left the index)');
});
