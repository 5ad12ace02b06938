import type { WebSocket } from 'ws';
import type { ChatEvent } from '../events/chat-events.js';
import type { Actor } from '../modules/auth/tokens.js';
import type { MessageView } from '../modules/messages/message.views.js';
import { DeliveryLane, type LaneIo, type LaneTiming } from './delivery-lane.js';
import type { HubConnection } from './hub.js';

export const CLOSE = {
  goingAway: 1001,
  policy: 1008,
  tooBig: 1009,
  tryAgainLater: 1013,
  unauthorized: 4401,
  forbidden: 4403,
  tokenExpired: 4408,
} as const;

/** Reads a conversation's stored messages after a seq, a page at a time, as the socket's user may see them (see LogPage). */
export type ReadAfter = (actor: Actor, conversationId: string, after: number) => Promise<{ items: MessageView[]; more: boolean; upTo: number }>;

export interface ConnectionOptions {
  socket: WebSocket;
  actor: Actor;
  /** Set for /ws/chat/:room sockets: the one conversation they carry. */
  roomConversationId: string | null;
  maxBufferedBytes: number;
  readAfter: ReadAfter;
  /** The client announced a resume on connect (`?resume=1`): message.created waits for its first frame. */
  holdUntilFirstFrame?: boolean;
  /** Whether a failed log read is worth retrying (the database is away) or final (access is gone). */
  readFailure: (error: unknown) => 'retry' | 'stop';
  onError: (error: unknown, context: string) => void;
  timing?: LaneTiming;
  wait?: (ms: number) => Promise<void>;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());
const seqOf = (event: ChatEvent) => (event.data as MessageView).seq;

/**
 * One socket. Delivery contract: `message.created` of a stored message reaches the socket once per
 * seq, in seq order per conversation, nothing comes before `ready`, and nothing the user may see is
 * skipped; each conversation is a DeliveryLane (see there). Other events pass through as they come.
 */
export class Connection implements HubConnection {
  readonly userId: string;
  readonly followsUser: boolean;
  actor: Actor;
  readonly followed = new Set<string>();
  /** Users whose presence this socket watches. */
  readonly watching = new Set<string>();
  private readonly lanes = new Map<string, DeliveryLane>();
  /** Events that arrived before `ready` was sent; replayed right after it. */
  private early: Array<[ChatEvent, string]> | null = [];
  private holding: boolean;

  constructor(private readonly options: ConnectionOptions) {
    this.actor = options.actor;
    this.userId = options.actor.userId;
    this.followsUser = options.roomConversationId === null;
    this.holding = options.holdUntilFirstFrame ?? false;
  }

  get roomConversationId(): string | null {
    return this.options.roomConversationId;
  }

  /** Sends a serialized frame; a consumer this far behind is closed rather than buffered without bound. */
  sendText(text: string): void {
    const { socket } = this.options;
    if (socket.readyState !== socket.OPEN) return;
    if (socket.bufferedAmount > this.options.maxBufferedBytes) {
      socket.close(CLOSE.tryAgainLater, 'too slow: reconnect and resume');
      return;
    }
    socket.send(text);
  }

  send(frame: { type: string; id?: string | undefined; conversationId?: string; data?: unknown }): void {
    this.sendText(JSON.stringify(frame));
  }

  close(code: number, reason: string): void {
    this.options.socket.close(code, reason);
  }

  /** Sends `ready`, then what arrived while the socket was being set up (positions are known by now). */
  ready(data: unknown): void {
    this.send({ type: 'ready', data });
    const early = this.early ?? [];
    this.early = null;
    for (const [event, frame] of early) this.deliver(event, frame);
  }

  private lane(conversationId: string, position: number): DeliveryLane {
    let lane = this.lanes.get(conversationId);
    if (lane) return lane;
    const io: LaneIo = {
      read: async (after) => {
        const page = await this.options.readAfter(this.actor, conversationId, after);
        return { items: page.items.map((message) => ({ seq: message.seq, text: JSON.stringify({ type: 'message.created', conversationId, data: message }) })), upTo: page.upTo, more: page.more };
      },
      send: (entry) => this.sendText(entry.text),
      failed: (error) => {
        const verdict = this.options.readFailure(error);
        if (verdict === 'retry') this.options.onError(error, `catching up ${conversationId}`);
        return verdict;
      },
      overflow: () => this.close(CLOSE.tryAgainLater, 'too far behind: reconnect and resume'),
      wait: this.options.wait ?? sleep,
    };
    lane = new DeliveryLane(position, io, this.holding, this.options.timing);
    this.lanes.set(conversationId, lane);
    return lane;
  }

  /** Where message.created delivery of a conversation starts (the `ready` lastSeq). */
  setPosition(conversationId: string, seq: number): void {
    this.lane(conversationId, seq);
  }

  /** The last message.created seq settled for a conversation, if any. */
  position(conversationId: string): number | undefined {
    return this.lanes.get(conversationId)?.delivered;
  }

  /** The user joined a conversation: everything they may see in it is new to this socket. */
  joined(conversationId: string): void {
    this.followed.add(conversationId);
    this.lane(conversationId, 0);
  }

  /** Reads from the log what the socket has not had: up to `target`, or to the log's end. */
  catchUp(conversationId: string, target?: number): void {
    this.lane(conversationId, 0).catchUp(target);
  }

  /**
   * Applies the client's positions (`points`: conversation, the seq it holds, the log's end read for
   * the request), starts delivery if it waited for this frame, and resolves once every point is
   * settled up to that end, with the positions reached.
   */
  async resume(points: Array<{ conversationId: string; after: number; target: number }>): Promise<Map<string, number>> {
    const done = points.map(({ conversationId, after, target }) => this.lane(conversationId, after).resume(after, target).then((seq) => [conversationId, seq] as const));
    this.release();
    return new Map(await Promise.all(done));
  }

  /** The client's first frame was handled: held message.created start to flow. */
  release(): void {
    if (!this.holding) return;
    this.holding = false;
    for (const lane of this.lanes.values()) lane.release();
  }

  deliver(event: ChatEvent, frame: string): void {
    if (this.early) {
      this.early.push([event, frame]);
      return;
    }
    if (event.type === 'typing' && (event.data as { userId: string }).userId === this.userId) return;
    if (event.type !== 'message.created' || event.stored === false) {
      this.sendText(frame);
      return;
    }
    const seq = seqOf(event);
    this.lane(event.conversationId, seq - 1).live({ seq, text: frame });
  }

  sessionsRevoked(sessionIds: readonly string[]): void {
    if (sessionIds.includes(this.actor.sessionId)) this.close(CLOSE.unauthorized, 'session ended');
  }

  dropped(conversationId: string): void {
    this.followed.delete(conversationId);
    this.lanes.get(conversationId)?.close();
    this.lanes.delete(conversationId);
  }

  /** The socket closed: no lane reads any longer. */
  dispose(): void {
    for (const lane of this.lanes.values()) lane.close();
    this.lanes.clear();
  }
}
