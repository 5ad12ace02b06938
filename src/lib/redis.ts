import { Redis } from 'ioredis';

/**
 * The command connection shared by the bus (publish), rate limiting and presence. Commands fail fast
 * during an outage (one retry) instead of queueing forever; reconnects go on in the background.
 * Commands issued in the same tick leave in one write (auto-pipelining): a batch of sends publishes
 * its events with one syscall, not one each.
 */
export function createRedis(url: string): Redis {
  const client = new Redis(url, {
    enableAutoPipelining: true,
    maxRetriesPerRequest: 1,
    connectTimeout: 2000,
    retryStrategy: (attempt) => Math.min(attempt * 100, 2000),
  });
  // Errors surface through failing commands and /health/ready; an unhandled 'error' event would crash.
  client.on('error', () => {});
  return client;
}

/** Logs each change between reachable and unreachable once (not every retry), from the first failed connect on. */
export function logRedisState(client: Redis, log: { warn(obj: object, msg: string): void; info(msg: string): void }): void {
  let down = false;
  client.on('error', (error: Error) => {
    if (down) return;
    down = true;
    log.warn({ error: error.message }, 'Redis is unreachable (REDIS_URL); retrying in the background, cross-instance delivery and shared limits wait for it');
  });
  client.on('ready', () => {
    if (!down) return;
    down = false;
    log.info('Redis is reachable again');
  });
}

/** Resolves when the server answers PING within `timeoutMs`. */
export async function pingRedis(client: Redis, timeoutMs = 1000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('redis ping timed out')), timeoutMs);
  });
  try {
    await Promise.race([client.ping(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export async function closeRedis(client: Redis): Promise<void> {
  if (client.status === 'end') return;
  // QUIT needs a live connection: on one still trying to connect (Redis down) it would wait forever.
  if (client.status !== 'ready') {
    client.disconnect();
    return;
  }
  try {
    await client.quit();
  } catch {
    client.disconnect();
  }
}
