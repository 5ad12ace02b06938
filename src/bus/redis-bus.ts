import type { Redis } from 'ioredis';
import { closeRedis, pingRedis } from '../lib/redis.js';
import { type Bus, type BusHandler, HandlerRegistry } from './bus.js';

export interface RedisBusOptions {
  /** Command connection used for PUBLISH; the bus opens its own subscriber connection from it. */
  redis: Redis;
  /** Prepended to every channel, so several deployments (or test runs) can share one Redis. */
  prefix: string;
  onHandlerError?: (error: unknown, channel: string) => void;
}

/**
 * Redis pub/sub bus. The subscriber connection reconnects by itself; after a reconnect the bus
 * re-subscribes every channel that still has local handlers and only then calls `onReconnect`
 * listeners, so they can catch up from the database knowing new messages already flow.
 */
export function createRedisBus({ redis, prefix, onHandlerError = () => {} }: RedisBusOptions): Bus {
  const subscriber = redis.duplicate({ enableAutoPipelining: false, autoResubscribe: false, maxRetriesPerRequest: null, connectionName: `${prefix}bus-sub` });
  subscriber.on('error', () => {});
  const registry = new HandlerRegistry(onHandlerError);
  const reconnectListeners = new Set<() => void>();
  const outageListeners = new Set<() => void>();
  /** Per-channel chain of SUBSCRIBE/UNSUBSCRIBE so they reach Redis in the order handlers changed. */
  const chains = new Map<string, Promise<void>>();
  /** The SUBSCRIBE of each channel with local handlers; every handler waits for (and fails with) it. */
  const subscriptions = new Map<string, Promise<void>>();
  let wasReady = false;

  const external = (channel: string) => prefix + channel;

  const enqueue = (channel: string, operation: () => Promise<unknown>): Promise<void> => {
    const next = (chains.get(channel) ?? Promise.resolve()).then(operation).then(() => undefined);
    const settled = next.catch(() => undefined);
    chains.set(channel, settled);
    void settled.then(() => {
      if (chains.get(channel) === settled) chains.delete(channel);
    });
    return next;
  };

  subscriber.on('message', (channel: string, payload: string) => {
    if (channel.startsWith(prefix)) registry.dispatch(channel.slice(prefix.length), payload);
  });

  subscriber.on('close', () => {
    for (const listener of outageListeners) listener();
  });

  subscriber.on('ready', () => {
    if (!wasReady) {
      wasReady = true;
      return;
    }
    const channels = registry.channels();
    const resubscribed = channels.length > 0 ? subscriber.subscribe(...channels.map(external)) : Promise.resolve();
    resubscribed.then(
      () => {
        for (const listener of reconnectListeners) listener();
      },
      () => {
        // The connection dropped again; the next 'ready' retries.
      },
    );
  });

  return {
    kind: 'redis',
    async publish(channel, message) {
      await redis.publish(external(channel), JSON.stringify(message));
    },
    async subscribe(channel: string, handler: BusHandler) {
      if (registry.add(channel, handler)) subscriptions.set(channel, enqueue(channel, () => subscriber.subscribe(external(channel))));
      try {
        await subscriptions.get(channel);
      } catch (error) {
        if (registry.remove(channel, handler)) subscriptions.delete(channel);
        throw error;
      }
      return async () => {
        if (registry.remove(channel, handler)) {
          subscriptions.delete(channel);
          await enqueue(channel, async () => {
            if (!registry.has(channel)) await subscriber.unsubscribe(external(channel));
          });
        }
      };
    },
    onReconnect(listener) {
      reconnectListeners.add(listener);
      return () => reconnectListeners.delete(listener);
    },
    onOutage(listener) {
      outageListeners.add(listener);
      return () => outageListeners.delete(listener);
    },
    ping: () => pingRedis(redis),
    async close() {
      registry.clear();
      reconnectListeners.clear();
      outageListeners.clear();
      await closeRedis(subscriber);
    },
  };
}
