import type { Bus } from '../bus/bus.js';

/**
 * Typed domain events, published on the bus after the write they describe has committed. The bus is
 * a doorbell (at most once): every event carries the conversation id and, for messages, the seq, so a
 * receiver can see a gap and catch up from Postgres.
 *
 * Channels: `conversation:<id>` carries everything that every member may see; `user:<id>` carries what
 * concerns one user only (their own settings, and joins and leaves of that user, so a gateway can
 * start or stop listening to the conversation). The realtime gateway subscribes to these.
 */
export interface ChatEventMap {
  'message.created': unknown;
  'message.updated': unknown;
  'message.deleted': unknown;
  'reaction.updated': { messageId: string; userId: string; emoji: string; action: 'added' | 'removed'; reactions: Array<{ emoji: string; count: number }> };
  'receipt.updated': { conversationId: string; userId: string; readSeq: number; deliveredSeq: number };
  'conversation.created': { conversationId: string; kind: string };
  'conversation.updated': Record<string, unknown>;
  'conversation.settings': Record<string, unknown>;
  'member.joined': { conversationId: string; userId: string; role: string };
  'member.left': { conversationId: string; userId: string; removedBy: string | null };
  'member.updated': { conversationId: string; userId: string; role: string };
  'pin.updated': { messageId: string; pinned: boolean; by: string };
  /** Relayed only, never stored. */
  typing: { conversationId: string; userId: string; state: 'start' | 'stop' };
}

export type ChatEventType = keyof ChatEventMap;

export interface ChatEvent<K extends ChatEventType = ChatEventType> {
  type: K;
  conversationId: string;
  data: ChatEventMap[K];
  at: string;
  /** On message.created: false when the message was not stored (ephemeral conversation), so nobody waits for it in the log. */
  stored?: boolean;
}

export const conversationChannel = (conversationId: string) => `conversation:${conversationId}`;
export const userChannel = (userId: string) => `user:${userId}`;

/** On `user:<id>`: these sessions of the user ended; their sockets close (4401). */
export interface SessionsRevokedEvent {
  type: 'session.revoked';
  data: { sessionIds: string[] };
  at: string;
}

/** On `user:<id>` of each viewer in a status's audience (and the author's): a status appeared or was deleted. */
export interface StatusEvent {
  type: 'status.created' | 'status.deleted';
  data: unknown;
  at: string;
}

export interface ChatEvents {
  /** To every member of the conversation (and the given users' own channels, e.g. someone added or removed). */
  publish<K extends ChatEventType>(type: K, conversationId: string, data: ChatEventMap[K], alsoUsers?: readonly string[], extra?: { stored?: boolean }): void;
  /** To one user only. */
  publishToUser<K extends ChatEventType>(userId: string, type: K, conversationId: string, data: ChatEventMap[K]): void;
  sessionsRevoked(userId: string, sessionIds: string[]): void;
  /** To each of `userIds` (their own channel). */
  status(type: StatusEvent['type'], userIds: readonly string[], data: unknown): void;
}

/** Fire and forget: a failed publish is logged and never fails the request that caused it. */
export function createChatEvents(bus: Bus, onError: (error: unknown, channel: string) => void): ChatEvents {
  const send = (channel: string, event: ChatEvent) => {
    bus.publish(channel, event).catch((error: unknown) => onError(error, channel));
  };
  const envelope = <K extends ChatEventType>(type: K, conversationId: string, data: ChatEventMap[K]): ChatEvent => ({
    type,
    conversationId,
    data,
    at: new Date().toISOString(),
  });
  return {
    publish(type, conversationId, data, alsoUsers = [], extra = {}) {
      const event = { ...envelope(type, conversationId, data), ...extra };
      send(conversationChannel(conversationId), event);
      for (const userId of alsoUsers) send(userChannel(userId), event);
    },
    publishToUser(userId, type, conversationId, data) {
      send(userChannel(userId), envelope(type, conversationId, data));
    },
    sessionsRevoked(userId, sessionIds) {
      const event: SessionsRevokedEvent = { type: 'session.revoked', data: { sessionIds }, at: new Date().toISOString() };
      bus.publish(userChannel(userId), event).catch((error: unknown) => onError(error, userChannel(userId)));
    },
    status(type, userIds, data) {
      const event: StatusEvent = { type, data, at: new Date().toISOString() };
      for (const userId of userIds) bus.publish(userChannel(userId), event).catch((error: unknown) => onError(error, userChannel(userId)));
    },
  };
}
