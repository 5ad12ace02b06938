import type { Bus } from '../bus/bus.js';
import type { RecordedChange } from '../modules/conversations/change-log.js';

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
  'member.joined': { conversationId: string; userId: string; role: string; readSeq: number; deliveredSeq: number };
  'member.left': { conversationId: string; userId: string; removedBy: string | null };
  'member.updated': { conversationId: string; userId: string; role: string; readSeq: number; deliveredSeq: number };
  'pin.updated': { messageId: string; pinned: boolean; by: string };
  /** The user cleared their history of the conversation up to `clearedSeq` (their other devices too). */
  'conversation.cleared': { conversationId: string; userId: string; clearedSeq: number };
  /** The user deleted a message for themselves (their other devices hide it too). */
  'message.hidden': { conversationId: string; messageId: string; userId: string };
  /**
   * Internal, never sent: a seq taken by a change only `audienceUserId` sees. The other members'
   * sockets pass over it instead of waiting for it.
   */
  'change.private': { audienceUserId: string };
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
  /**
   * The event's position in the conversation (messages and recorded changes share one counter): a
   * socket delivers these in seq order, once each. Absent on events that are not recorded (typing).
   */
  seq?: number;
  /**
   * Internal, never sent: on a change about a message, that message's seq. A socket whose member's
   * history starts after it (a later join, a clear) settles the seq without sending it, as the log
   * read does.
   */
  about?: number;
}

/** The wire frame of a conversation event. */
export const eventFrame = (event: ChatEvent) =>
  JSON.stringify(event.seq === undefined ? { type: event.type, conversationId: event.conversationId, data: event.data } : { type: event.type, conversationId: event.conversationId, seq: event.seq, data: event.data });

export const conversationChannel = (conversationId: string) => `conversation:${conversationId}`;
export const userChannel = (userId: string) => `user:${userId}`;

/** On `user:<id>`: these sessions of the user ended; their sockets close (4401). */
export interface SessionsRevokedEvent {
  type: 'session.revoked';
  data: { sessionIds: string[] };
  at: string;
}

/**
 * The two logs that belong to no conversation: each user's own (`user`: blocks, the status updates they
 * may see, the announcements they read) and the one every user shares (`announcements`).
 */
export type StreamName = 'user' | 'announcements';

/**
 * On `user:<id>` (the user stream) or BROADCAST_CHANNEL (announcements): a change of that log with its
 * seq there. Without `data` it is a doorbell: the socket reads the log, where the event is rendered
 * for its reader (a status with fresh media links).
 */
export interface StreamEvent {
  type: string;
  stream: StreamName;
  seq: number;
  data?: unknown;
  at: string;
}

/** The wire frame of a stream event (`data` read from the log when the event came without it). */
export const streamFrame = (event: { type: string; stream: StreamName; seq: number; data: unknown }) =>
  JSON.stringify({ type: event.type, stream: event.stream, seq: event.seq, data: event.data });

/** Every instance's gateway listens here and passes notices on to all of its sockets (announcements). */
export const BROADCAST_CHANNEL = 'broadcast';

/**
 * On `user:<id>` (to that user's sockets) or BROADCAST_CHANNEL (to every socket): a server frame
 * `{type, data}` passed on as is. Like every bus event, at most once: the REST lists are the record.
 */
export interface NoticeEvent {
  type: 'notice';
  frame: { type: string; data: unknown };
  at: string;
}

export interface ChatEvents {
  /** To every member of the conversation (and the given users' own channels, e.g. someone added or removed). */
  publish<K extends ChatEventType>(type: K, conversationId: string, data: ChatEventMap[K], alsoUsers?: readonly string[], extra?: { stored?: boolean; seq?: number }): void;
  /**
   * Recorded changes, each with its seq: to every member (and `alsoUsers`' own channels), or, for a
   * change with an audience, to that user's channel while the conversation learns only that the seq
   * is taken.
   */
  publishChanges(changes: readonly RecordedChange[], alsoUsers?: readonly string[]): void;
  /** Changes recorded in a user's log (`userId`) or the announcements log (null); see StreamEvent. */
  publishStream(stream: StreamName, userId: string | null, changes: ReadonlyArray<{ type: string; seq: number; data?: unknown }>): void;
  /** To one user only. */
  publishToUser<K extends ChatEventType>(userId: string, type: K, conversationId: string, data: ChatEventMap[K]): void;
  sessionsRevoked(userId: string, sessionIds: string[]): void;
  /** A frame to every socket of one user (e.g. feedback.replied). */
  notifyUser(userId: string, type: string, data: unknown): void;
  /** A frame to every connected socket, on every instance (e.g. announcement). */
  notifyAll(type: string, data: unknown): void;
}

/** Fire and forget: a failed publish is logged and never fails the request that caused it. */
export function createChatEvents(bus: Bus, onError: (error: unknown, channel: string) => void): ChatEvents {
  const send = (channel: string, event: ChatEvent) => {
    bus.publish(channel, event).catch((error: unknown) => onError(error, channel));
  };
  const notice = (channel: string, type: string, data: unknown) => {
    const event: NoticeEvent = { type: 'notice', frame: { type, data }, at: new Date().toISOString() };
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
    publishChanges(changes, alsoUsers = []) {
      for (const change of changes) {
        const event: ChatEvent = { ...envelope(change.type, change.conversationId, change.data as never), seq: change.seq, ...(change.messageSeq === undefined ? {} : { about: change.messageSeq }) };
        if (change.audienceUserId) {
          send(userChannel(change.audienceUserId), event);
          send(conversationChannel(change.conversationId), { ...envelope('change.private', change.conversationId, { audienceUserId: change.audienceUserId }), seq: change.seq });
          continue;
        }
        send(conversationChannel(change.conversationId), event);
        for (const userId of alsoUsers) send(userChannel(userId), event);
      }
    },
    publishStream(stream, userId, changes) {
      const channel = userId === null ? BROADCAST_CHANNEL : userChannel(userId);
      for (const change of changes) {
        const event: StreamEvent = { type: change.type, stream, seq: change.seq, ...(change.data === undefined ? {} : { data: change.data }), at: new Date().toISOString() };
        bus.publish(channel, event).catch((error: unknown) => onError(error, channel));
      }
    },
    publishToUser(userId, type, conversationId, data) {
      send(userChannel(userId), envelope(type, conversationId, data));
    },
    sessionsRevoked(userId, sessionIds) {
      const event: SessionsRevokedEvent = { type: 'session.revoked', data: { sessionIds }, at: new Date().toISOString() };
      bus.publish(userChannel(userId), event).catch((error: unknown) => onError(error, userChannel(userId)));
    },
    notifyUser(userId, type, data) {
      notice(userChannel(userId), type, data);
    },
    notifyAll(type, data) {
      notice(BROADCAST_CHANNEL, type, data);
    },
  };
}
