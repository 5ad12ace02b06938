/**
 * The cross-instance doorbell. Contract (same for every implementation):
 * - `publish` delivers to every current subscriber of the channel on every instance, this one included,
 *   at most once and in publish order per publisher. Nothing is stored: a subscriber that was not
 *   listening (or a transport outage) misses the message, so the durable log (Postgres, by seq) is
 *   the source of truth and subscribers catch up from it after `onReconnect`.
 * - Messages are JSON values; subscribers receive a fresh copy.
 * - `subscribe` resolves once the subscription is active; the returned function removes exactly that
 *   handler. The transport subscription is shared: taken on the first local handler of a channel,
 *   dropped with the last.
 * - A throwing handler does not affect other handlers.
 */
export type BusHandler = (message: unknown, channel: string) => void;
export type Unsubscribe = () => Promise<void>;

export interface Bus {
  readonly kind: 'memory' | 'redis';
  publish(channel: string, message: unknown): Promise<void>;
  subscribe(channel: string, handler: BusHandler): Promise<Unsubscribe>;
  /** Called after the transport recovered from an outage, once its subscriptions are active again. */
  onReconnect(listener: () => void): () => void;
  /** Called when the transport stops delivering (its connection closed): what is published until `onReconnect` is lost. */
  onOutage(listener: () => void): () => void;
  /** Resolves when the transport is reachable. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** Local handler bookkeeping shared by the implementations. */
export class HandlerRegistry {
  private readonly handlers = new Map<string, Set<BusHandler>>();

  private readonly onHandlerError: (error: unknown, channel: string) => void;

  constructor(onHandlerError: (error: unknown, channel: string) => void) {
    this.onHandlerError = onHandlerError;
  }

  /** Adds a handler; returns true when it is the channel's first. */
  add(channel: string, handler: BusHandler): boolean {
    let set = this.handlers.get(channel);
    const first = !set;
    if (!set) {
      set = new Set();
      this.handlers.set(channel, set);
    }
    set.add(handler);
    return first;
  }

  /** Removes a handler; returns true when the channel has none left. */
  remove(channel: string, handler: BusHandler): boolean {
    const set = this.handlers.get(channel);
    if (!set || !set.delete(handler)) return false;
    if (set.size > 0) return false;
    this.handlers.delete(channel);
    return true;
  }

  has(channel: string): boolean {
    return this.handlers.has(channel);
  }

  channels(): string[] {
    return [...this.handlers.keys()];
  }

  dispatch(channel: string, payload: string): void {
    const set = this.handlers.get(channel);
    if (!set) return;
    for (const handler of [...set]) {
      try {
        handler(JSON.parse(payload), channel);
      } catch (error) {
        this.onHandlerError(error, channel);
      }
    }
  }

  clear(): void {
    this.handlers.clear();
  }
}
