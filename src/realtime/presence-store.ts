import type { Redis } from 'ioredis';

/**
 * Who is online, across instances. Contract (both implementations):
 * - `connected` marks that this instance holds a socket of the user; it answers true when the user
 *   was offline everywhere before (they just came online).
 * - `disconnected` says this instance holds none any more; true when the user is now offline everywhere.
 * - An instance calls `refresh` for its users more often than `ttlMs`; an instance that stops doing so
 *   (it crashed) stops counting after `ttlMs`, so its users go offline within that time.
 */
export interface PresenceStore {
  connected(userId: string): Promise<boolean>;
  disconnected(userId: string): Promise<boolean>;
  refresh(userIds: readonly string[]): Promise<void>;
  online(userIds: readonly string[]): Promise<Set<string>>;
  /** How many users are online anywhere (admin stats; Redis: a SCAN of the presence keys). */
  count(): Promise<number>;
  /**
   * Users whose last claim expired without a `disconnected` (their instance died): each is handed to
   * exactly one caller across instances, once, so exactly one instance announces them offline.
   */
  expired(): Promise<string[]>;
}

/** One process: a socket count per user. */
export function createMemoryPresence(): PresenceStore {
  const holders = new Map<string, number>();
  return {
    async connected(userId) {
      const before = holders.get(userId) ?? 0;
      holders.set(userId, before + 1);
      return before === 0;
    },
    async disconnected(userId) {
      holders.delete(userId);
      return true;
    },
    async refresh() {},
    async online(userIds) {
      return new Set(userIds.filter((id) => holders.has(id)));
    },
    count: async () => holders.size,
    expired: async () => [],
  };
}

/** Pops up to ARGV[2] claims that expired before ARGV[1] from the claims index, atomically. */
const POP_EXPIRED = `
local items = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
if #items > 0 then redis.call('ZREM', KEYS[1], unpack(items)) end
return items`;

/**
 * Redis: a sorted set per user, `${prefix}presence:<userId>`, whose members are the instances holding
 * a socket of the user, scored by when that claim expires. Expired claims are dropped on every write
 * and ignored on every read; the key itself expires with its last claim. `${prefix}presence-claims`
 * indexes every claim (`<instanceId> <userId>`) by expiry, so a dead instance's claims are found
 * without a scan and popped by one sweeper.
 */
export function createRedisPresence(redis: Redis, options: { prefix: string; instanceId: string; ttlMs: number; now?: () => number }): PresenceStore {
  const clock = options.now ?? Date.now;
  const key = (userId: string) => `${options.prefix}presence:${userId}`;
  const live = (results: Array<[Error | null, unknown]> | null, index: number) => Number(results?.[index]?.[1] ?? 0);
  const claims = `${options.prefix}presence-claims`;
  const claim = (userId: string) => `${options.instanceId} ${userId}`;
  const store: PresenceStore = {
    async connected(userId) {
      const now = clock();
      const results = await redis
        .multi()
        .zremrangebyscore(key(userId), '-inf', now)
        .zcard(key(userId))
        .zadd(key(userId), now + options.ttlMs, options.instanceId)
        .pexpire(key(userId), options.ttlMs)
        .zadd(claims, now + options.ttlMs, claim(userId))
        .exec();
      return live(results, 1) === 0;
    },
    async disconnected(userId) {
      const results = await redis.multi().zrem(key(userId), options.instanceId).zremrangebyscore(key(userId), '-inf', clock()).zcard(key(userId)).zrem(claims, claim(userId)).exec();
      return live(results, 2) === 0;
    },
    async refresh(userIds) {
      if (userIds.length === 0) return;
      const expiry = clock() + options.ttlMs;
      const pipeline = redis.pipeline();
      for (const userId of userIds) pipeline.zadd(key(userId), expiry, options.instanceId).pexpire(key(userId), options.ttlMs).zadd(claims, expiry, claim(userId));
      await pipeline.exec();
    },
    async online(userIds) {
      if (userIds.length === 0) return new Set();
      const pipeline = redis.pipeline();
      const now = clock();
      for (const userId of userIds) pipeline.zcount(key(userId), `(${now}`, '+inf');
      const results = await pipeline.exec();
      return new Set(userIds.filter((_, i) => live(results, i) > 0));
    },
    async count() {
      let online = 0;
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${options.prefix}presence:*`, 'COUNT', 1000);
        cursor = next;
        if (keys.length === 0) continue;
        const pipeline = redis.pipeline();
        for (const k of keys) pipeline.zcount(k, `(${clock()}`, '+inf');
        const results = await pipeline.exec();
        online += keys.filter((_, i) => live(results, i) > 0).length;
      } while (cursor !== '0');
      return online;
    },
    async expired() {
      const popped = (await redis.eval(POP_EXPIRED, 1, claims, clock(), 500)) as string[];
      const userIds = [...new Set(popped.map((item) => item.slice(item.indexOf(' ') + 1)))];
      const online = await store.online(userIds);
      return userIds.filter((userId) => !online.has(userId));
    },
  };
  return store;
}
