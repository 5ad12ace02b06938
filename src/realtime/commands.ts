import { AppError } from '../errors.js';
import type { ChatEvents, StreamName } from '../events/chat-events.js';
import type { Services } from '../plugins/services.js';
import type { Connection } from './connection.js';
import type { ClientFrameType } from './frames.js';

export interface CommandContext {
  connection: Connection;
  services: Services;
  events: ChatEvents;
  /** Re-authenticates with a fresh access token (auth.refresh). */
  refresh(accessToken: string): Promise<void>;
  /** Starts watching the presence of those of `userIds` the user may watch; answers their state. */
  watchPresence(userIds: string[]): Promise<unknown[]>;
  /** Whether a typing start from this user in this conversation may be relayed now (throttle). */
  typingAllowed(conversationId: string, state: 'start' | 'stop'): boolean;
}

/** A command's answer: the reply frame's type and data (`undefined`: no reply). */
export type CommandResult = { type: string; data: unknown } | undefined;
type Command = (context: CommandContext, data: any) => Promise<CommandResult>;

const ack = (data: unknown): CommandResult => ({ type: 'ack', data });

/** The conversation a frame is about: its own conversationId, else the room of a room socket. */
function target(connection: Connection, conversationId: string | undefined): string {
  const id = conversationId ?? connection.roomConversationId;
  if (!id) throw new AppError('VALIDATION_FAILED', 'data.conversationId is required on /ws', {}, [{ field: 'data.conversationId', message: 'is required' }]);
  return id;
}

/**
 * The frame dispatch table: one entry per client frame type, each a thin adapter over the same
 * service call its REST route makes. Errors are AppErrors and become `error` frames.
 */
const table: Record<ClientFrameType, Command> = {
  ping: async () => ({ type: 'pong', data: undefined }),

  'message.send': async ({ connection, services }, data) => {
    const { message } = await services.messages.send(connection.actor, { ...data, conversationId: target(connection, data.conversationId) });
    return { type: 'message.ack', data: message };
  },

  'message.edit': async ({ connection, services }, data) => ack(await services.messages.edit(connection.actor, data.messageId, data.body)),

  'message.delete': async ({ connection, services }, data) => {
    await services.messages.remove(connection.actor, data.messageId, data.for ?? 'me');
    return ack(null);
  },

  'reaction.set': async ({ connection, services }, data) => ack(await services.reactions.add(connection.actor, data.messageId, data.emoji)),
  'reaction.remove': async ({ connection, services }, data) => ack(await services.reactions.remove(connection.actor, data.messageId, data.emoji)),

  receipt: async ({ connection, services }, data) => {
    const to: { read?: number; delivered?: number } = {};
    if (data.read !== undefined) to.read = data.read;
    if (data.delivered !== undefined) to.delivered = data.delivered;
    return ack(await services.receipts.mark(connection.actor, target(connection, data.conversationId), to));
  },

  /** Relayed to the other members over the bus, never stored; starts are throttled per conversation. */
  typing: async ({ connection, services, events, typingAllowed }, data) => {
    const conversationId = target(connection, data.conversationId);
    await services.messages.assertCanType(connection.actor, conversationId);
    if (typingAllowed(conversationId, data.state)) events.publish('typing', conversationId, { conversationId, userId: connection.userId, state: data.state });
    return undefined;
  },

  /**
   * The client's positions: what it lacks is replayed from the log in seq order, merged with live
   * events, nothing twice; `resume.done` once every point is caught up to the log's end at the request.
   */
  resume: async ({ connection, services }, data) => {
    if (data.after === undefined && data.since === undefined && data.streams === undefined) {
      throw new AppError('VALIDATION_FAILED', 'Send after, since, streams, or several', {}, [{ field: 'data', message: 'must have after, since or streams' }]);
    }
    if (data.streams !== undefined && connection.roomConversationId) throw new AppError('VALIDATION_FAILED', 'A room socket carries no streams', {}, [{ field: 'data.streams', message: 'only on /ws' }]);
    const explicit: Array<[string, number]> =
      data.after === undefined ? [] : typeof data.after === 'number' ? [[target(connection, data.conversationId), data.after]] : (Object.entries(data.after) as Array<[string, number]>);
    if (connection.roomConversationId && explicit.some(([id]) => id !== connection.roomConversationId)) throw new AppError('CONVERSATION_NOT_FOUND');
    // `since`: every conversation and stream that changed after the token, from where it stood then (or from `after`/`streams`, when further).
    const sync = data.since === undefined ? undefined : await services.sync.positions(connection.actor, data.since);
    const byConversation = new Map(explicit);
    for (const [id, position] of sync?.positions ?? []) {
      if (connection.roomConversationId && id !== connection.roomConversationId) continue;
      byConversation.set(id, Math.max(position, byConversation.get(id) ?? 0));
    }
    const byStream = new Map<StreamName, number>(connection.roomConversationId ? [] : (Object.entries(data.streams ?? {}) as Array<[StreamName, number]>));
    for (const [stream, position] of connection.roomConversationId ? [] : (sync?.streams ?? [])) byStream.set(stream, Math.max(position, byStream.get(stream) ?? 0));
    const points = [...byConversation];
    const followed = new Map((await services.conversations.followed(connection.actor)).map((c) => [c.id, c.lastSeq]));
    const requests = [];
    for (const [conversationId, after] of points) {
      const target = followed.get(conversationId) ?? (await services.conversations.get(connection.actor, conversationId)).lastSeq;
      requests.push({ conversationId, after, target });
    }
    const heads = byStream.size > 0 ? await services.sync.streamHeads(connection.actor) : undefined;
    const streamRequests = [...byStream].map(([stream, after]) => ({ stream, after, target: heads![stream] }));
    const positions = await connection.resume(requests, streamRequests);
    const [single] = points;
    const token = sync ? { syncToken: sync.token } : {};
    const streams = byStream.size > 0 ? { streams: connection.streamPositions() } : {};
    return {
      type: 'resume.done',
      data:
        points.length === 1 && single && typeof data.after === 'number'
          ? { conversationId: single[0], lastSeq: positions.get(single[0]), ...token }
          : { lastSeqs: Object.fromEntries(positions), ...streams, ...token },
    };
  },

  'presence.subscribe': async ({ watchPresence }, data) => ack({ items: await watchPresence(data.userIds) }),

  'auth.refresh': async ({ refresh }, data) => {
    await refresh(data.accessToken);
    return ack(null);
  },
};

/** Keyed by frame type; a Map, so no client-supplied name reaches an object's prototype. */
export const commands = new Map(Object.entries(table) as Array<[ClientFrameType, Command]>);
