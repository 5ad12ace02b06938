import type { Bus } from '../bus/bus.js';
import type { ConversationRepository } from '../modules/conversations/conversation.repository.js';
import type { UserRepository } from '../modules/users/user.repository.js';
import type { PresenceStore } from './presence-store.js';

export const presenceChannel = (userId: string) => `presence:${userId}`;

export interface PresenceData {
  userId: string;
  online: boolean;
  /** When the user was last online; null while online, when never seen, or when they hide it. */
  lastSeenAt: string | null;
}

/** At most this many users watched per presence.subscribe. */
export const PRESENCE_SUBSCRIBE_MAX = 100;

/**
 * Online/offline across instances. This instance counts its sockets per user (synchronously, so
 * concurrent opens cannot both miss the first); the first one claims the user in the store and the
 * last releases it. A change everywhere publishes `presence` on `presence:<userId>`. Who may watch:
 * people who currently share a conversation with the user and neither blocked the other.
 */
export function createPresence(deps: { store: PresenceStore; bus: Bus; users: UserRepository; conversations: ConversationRepository; onError: (error: unknown) => void }) {
  const { store, bus, users, conversations, onError } = deps;
  const local = new Map<string, number>();

  const publish = (data: PresenceData) => bus.publish(presenceChannel(data.userId), { type: 'presence', data }).catch(onError);

  return {
    opened(userId: string): void {
      const count = (local.get(userId) ?? 0) + 1;
      local.set(userId, count);
      if (count > 1) return;
      void store
        .connected(userId)
        .then((cameOnline) => (cameOnline ? publish({ userId, online: true, lastSeenAt: null }) : undefined))
        .catch(onError);
    },

    closed(userId: string): void {
      const count = (local.get(userId) ?? 1) - 1;
      if (count > 0) {
        local.set(userId, count);
        return;
      }
      local.delete(userId);
      void (async () => {
        if (!(await store.disconnected(userId))) return;
        const seen = await users.markSeen(userId);
        await publish({ userId, online: false, lastSeenAt: seen?.toISOString() ?? null });
      })().catch(onError);
    },

    /** Announces offline the users of instances that died (their claims expired); any instance may call it. */
    async sweep(): Promise<void> {
      try {
        for (const userId of await store.expired()) {
          if (local.has(userId)) continue;
          const seen = await users.markSeen(userId);
          await publish({ userId, online: false, lastSeenAt: seen?.toISOString() ?? null });
        }
      } catch (error) {
        onError(error);
      }
    },

    /** Users online anywhere. */
    onlineCount: () => store.count(),

    /** Keeps this instance's claims alive (call more often than the store's TTL). */
    refresh: () => store.refresh([...local.keys()]).catch(onError),

    /** Which of `userIds` the viewer may watch, and how each is now. */
    async snapshot(viewerId: string, userIds: readonly string[]): Promise<PresenceData[]> {
      const peers = await conversations.conversationPeers(viewerId, userIds.filter((id) => id !== viewerId));
      const allowed = (await conversations.reachableUsers(viewerId, peers)).map((u) => u.id);
      const [online, lastSeen] = await Promise.all([store.online(allowed), users.lastSeen(allowed)]);
      return allowed.map((userId) => ({
        userId,
        online: online.has(userId),
        lastSeenAt: online.has(userId) ? null : (lastSeen.get(userId)?.toISOString() ?? null),
      }));
    },
  };
}

export type Presence = ReturnType<typeof createPresence>;
