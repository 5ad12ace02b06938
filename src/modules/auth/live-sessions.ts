import type { Bus } from '../../bus/bus.js';
import type { Role } from './tokens.js';

/** What an access check needs of a session that was live, with its user active, when read. */
export interface LiveSession {
  userId: string;
  role: Role;
  /** The session's own expiry (ms since the epoch): checked on every hit, never cached past. */
  expiresAt: number;
}

/** Sessions that stopped being what they were: `sessionIds`, or every session of the user when absent. */
export interface AccessChange {
  userId: string;
  sessionIds?: string[];
}

/** The bus channel every instance's cache listens on; each change of a session's or user's access is published there. */
export const ACCESS_CHANNEL = 'access';

export interface LiveSessionsOptions {
  bus: Bus;
  /** Longest an entry is trusted without the database: a bound for a change the bus lost without any sign. */
  ttlMs?: number;
  maxEntries?: number;
  now?: () => number;
}

/**
 * Per-instance cache of live sessions, so an authenticated request costs no query.
 *
 * It holds only while every change of access reaches every instance, which is what it is built on:
 * - each revocation, ban, erasure or role change calls `changed`, which forgets on this instance at
 *   once (before the caller answers) and publishes to the others on ACCESS_CHANNEL;
 * - nothing is cached until the channel is subscribed, nor from a bus outage until it is subscribed
 *   again (the cache is emptied when the outage begins: what was published meanwhile is lost);
 * - a database read that began before a change is never stored (`begin` takes the change count),
 *   so a check racing a revocation cannot put the revoked session back;
 * - entries live at most `ttlMs`, for a publish that failed while the subscribers saw no outage.
 * Only live answers are cached: a refusal always reads the database again.
 */
export function createLiveSessions({ bus, ttlMs = 30_000, maxEntries = 50_000, now = Date.now }: LiveSessionsOptions) {
  const entries = new Map<string, LiveSession & { storedAt: number }>();
  const byUser = new Map<string, Set<string>>();
  /** Bumped by every change and outage; a read stores its answer only if it is unchanged since `begin`. */
  let changes = 0;
  let trusted = false;
  let stopped = false;
  const unsubscribers: Array<() => unknown> = [];

  const remove = (sessionId: string) => {
    const entry = entries.get(sessionId);
    if (!entry) return;
    entries.delete(sessionId);
    const sessions = byUser.get(entry.userId);
    sessions?.delete(sessionId);
    if (sessions?.size === 0) byUser.delete(entry.userId);
  };

  const forget = (change: AccessChange) => {
    changes++;
    // Not a change this code publishes (another version's, or damaged): forget everything rather than guess.
    if (typeof change?.userId !== 'string' || (change.sessionIds !== undefined && !Array.isArray(change.sessionIds))) {
      entries.clear();
      byUser.clear();
      return;
    }
    for (const sessionId of change.sessionIds ?? [...(byUser.get(change.userId) ?? [])]) remove(sessionId);
  };

  const distrust = () => {
    trusted = false;
    changes++;
    entries.clear();
    byUser.clear();
  };

  return {
    /**
     * Subscribes to ACCESS_CHANNEL; caching starts once the subscription is active. Resolves then,
     * which may be long after boot (Redis down): callers must not wait for it.
     */
    async start(): Promise<void> {
      // A read that began while untrusted may have missed a change published meanwhile: trusting
      // again counts as a change, so such a read is never stored.
      const trust = () => {
        if (stopped) return;
        changes++;
        trusted = true;
      };
      unsubscribers.push(bus.onOutage(distrust));
      unsubscribers.push(bus.onReconnect(trust));
      let unsubscribe: () => Promise<void>;
      try {
        unsubscribe = await bus.subscribe(ACCESS_CHANNEL, (message) => forget(message as AccessChange));
      } catch (error) {
        if (stopped) return; // the bus closed before it was ever reachable
        throw error;
      }
      if (stopped) await unsubscribe();
      else unsubscribers.push(unsubscribe);
      trust();
    },

    stop(): void {
      stopped = true;
      distrust();
      for (const unsubscribe of unsubscribers.splice(0)) Promise.resolve().then(unsubscribe).catch(() => {});
    },

    /** The cached live session, if it is still within both its own expiry and the cache's ttl. */
    get(sessionId: string): LiveSession | undefined {
      const entry = entries.get(sessionId);
      if (!entry) return undefined;
      const at = now();
      if (entry.expiresAt <= at || at - entry.storedAt >= ttlMs) {
        remove(sessionId);
        return undefined;
      }
      return entry;
    },

    /** Call before reading a session from the database; hand the result to `store`. */
    begin(): number {
      return changes;
    },

    store(begun: number, sessionId: string, session: LiveSession): void {
      if (!trusted || begun !== changes) return;
      remove(sessionId);
      if (entries.size >= maxEntries) {
        const oldest = entries.keys().next().value;
        if (oldest !== undefined) remove(oldest);
      }
      entries.set(sessionId, { ...session, storedAt: now() });
      let sessions = byUser.get(session.userId);
      if (!sessions) byUser.set(session.userId, (sessions = new Set()));
      sessions.add(sessionId);
    },

    /** A change of access: forgotten here now, and on every other instance through the bus. */
    changed(change: AccessChange, onPublishError: (error: unknown) => void): void {
      forget(change);
      bus.publish(ACCESS_CHANNEL, change).catch(onPublishError);
    },

    get size(): number {
      return entries.size;
    },
  };
}

export type LiveSessions = ReturnType<typeof createLiveSessions>;
