import { type Bus, type BusHandler, HandlerRegistry } from './bus.js';

/** Single-process bus for the embedded default. Same contract as the Redis bus, delivery on a microtask. */
export function createMemoryBus(onHandlerError: (error: unknown, channel: string) => void = () => {}): Bus {
  const registry = new HandlerRegistry(onHandlerError);
  let closed = false;
  return {
    kind: 'memory',
    async publish(channel, message) {
      if (closed) throw new Error('bus is closed');
      const payload = JSON.stringify(message);
      queueMicrotask(() => registry.dispatch(channel, payload));
    },
    async subscribe(channel: string, handler: BusHandler) {
      registry.add(channel, handler);
      return async () => {
        registry.remove(channel, handler);
      };
    },
    onReconnect: () => () => {},
    onOutage: () => () => {},
    ping: async () => {
      if (closed) throw new Error('bus is closed');
    },
    async close() {
      closed = true;
      registry.clear();
    },
  };
}
