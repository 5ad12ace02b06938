import type { WebSocket } from 'ws';
import { type ChatEvent, type StreamEvent, type StreamName, streamFrame } from '../events/chat-events.js';
import type { Actor } from '../modules/auth/tokens.js';
import type { LogEvent } from '../modules/messages/conversation-log.js';
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

/** Reads a conversation's log after a seq, a page at a time, as the socket's user may see it (see LogPage). */
export type ReadAfter = (actor: Actor, conversationId: string, after: number) => Promise<{ items: LogEvent[]; more: boolean; upTo: number }>;

/** Reads a stream after a seq, a page at a time (see StreamPage). */
export type ReadStream = (actor: Actor, stream: StreamName, after: number) => Promise<{ items: Array<{ type: string; seq: number; data: unknown }>; more: boolean; upTo: number }>;

export interface ConnectionOptions {
  socket: WebSocket;
  actor: Actor;
  /** Set for /ws/chat/:room sockets: the one conversation they carry. */
  roomConversationId: string | null;
  maxBufferedBytes: number;
  readAfter: ReadAfter;
  /** Reads a stream (the user's own log, the announcements) after a seq, a page at a time. */
  readStream: ReadStream;
  /** The client announced a resume on connect (`?resume=1`): message.created waits for its first frame. */
  holdUntilFirstFrame?: boolean;
  /** Whether a failed log read is worth retrying (the database is away) or final (access is gone). */
  readFailure: (error: unknown) => 'retry' | 'stop';
  onError: (error: unknown, context: string) => void;
  timing?: LaneTiming;
  wait?: (ms: number) => Promise<void>;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

/**
 * One socket. Delivery contract: every event with a seq (stored messages and recorded changes)
 * reaches the socket once per seq, in seq order per conversation, nothing comes before `ready`, and
 * nothing the user may see is skipped; each conversation is a DeliveryLane (see there). When the
 * user leaves a conversation, its lane ends with their `member.left`: nothing after it follows.
 * Events without a seq (typing, presence, notices) pass through as they come.
 */
export class Connection implements HubConnection {
  readonly userId: string;
  readonly followsUser: boolean;
  actor: Actor;
  readonly followed = new Set<string>();
  /** Users whose presence this socket watches. */
  readonly watching = new Set<string>();
  private readonly lanes = new Map<string, DeliveryLane>();
  /** Device sockets (/ws) also carry the streams: the user's own log and the announcements, a lane each. */
  private readonly streamLanes = new Map<StreamName, DeliveryLane>();
  /** Conversations the user left while this socket was open: no lane starts for them again until they rejoin. */
  private readonly left = new Set<string>();
  /** The seq of a rejoin that came while the lane of an earlier membership was still open (its leave not yet delivered). */
  private readonly rejoins = new Map<string, number>();
  /**
   * Where the user's history of each conversation starts, as it moved on this socket: from the event
   * at seq `from` on, messages at or below `lower` are not theirs (a later join, a clear). Live changes
   * about such messages are settled unsent, as the log read leaves them out.
   */
  private readonly history = new Map<string, Array<{ from: number; lower: number }>>();
  /** Events that arrived before `ready` was sent; delivered right after it. */
  private early: Array<() => void> | null = [];
  private holding: boolean;

  private readonly options: ConnectionOptions;

  constructor(options: ConnectionOptions) {
    this.options = options;
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
    for (const deliver of early) deliver();
  }

  /** The user's own `member.left`: the last event of the conversation this socket may have. */
  private leaves(event: { type: string; data: unknown }): boolean {
    return event.type === 'member.left' && (event.data as { userId?: unknown }).userId === this.userId;
  }

  private lane(conversationId: string, position: number): DeliveryLane {
    let lane = this.lanes.get(conversationId);
    if (lane) return lane;
    const io: LaneIo = {
      read: async (after) => {
        const page = await this.options.readAfter(this.actor, conversationId, after);
        for (const event of page.items) {
          const data = event.data as { userId?: unknown; clearedSeq?: number };
          if (event.type === 'conversation.cleared' && data.userId === this.userId) this.historyMovesAt(conversationId, event.seq, data.clearedSeq!);
        }
        const items = page.items.map((event) => ({
          seq: event.seq,
          text: JSON.stringify({ type: event.type, conversationId, seq: event.seq, data: event.data }),
          final: this.leaves(event),
        }));
        return { items, upTo: page.upTo, more: page.more };
      },
      send: (entry) => this.sendText(entry.text!),
      failed: (error) => {
        const verdict = this.options.readFailure(error);
        if (verdict === 'retry') this.options.onError(error, `catching up ${conversationId}`);
        return verdict;
      },
      overflow: () => this.close(CLOSE.tryAgainLater, 'too far behind: reconnect and resume'),
      wait: this.options.wait ?? sleep,
      ended: () => {
        const leftAt = this.lanes.get(conversationId)?.delivered ?? 0;
        const rejoinedAt = this.rejoins.get(conversationId);
        this.lanes.delete(conversationId);
        this.rejoins.delete(conversationId);
        if (rejoinedAt !== undefined && rejoinedAt > leftAt) {
          // Back in already: the new membership's lane goes on from the leave.
          this.lane(conversationId, leftAt).catchUp();
          return;
        }
        this.followed.delete(conversationId);
        this.left.add(conversationId);
        if (this.roomConversationId === conversationId) this.close(CLOSE.forbidden, 'you left the conversation');
      },
    };
    lane = new DeliveryLane(position, io, this.holding, this.options.timing);
    this.lanes.set(conversationId, lane);
    return lane;
  }

  private streamLane(stream: StreamName, position: number): DeliveryLane {
    let lane = this.streamLanes.get(stream);
    if (lane) return lane;
    const io: LaneIo = {
      read: async (after) => {
        const page = await this.options.readStream(this.actor, stream, after);
        return { items: page.items.map((item) => ({ seq: item.seq, text: streamFrame({ ...item, stream }) })), upTo: page.upTo, more: page.more };
      },
      send: (entry) => this.sendText(entry.text!),
      failed: (error) => {
        this.options.onError(error, `catching up the ${stream} stream`);
        return 'retry';
      },
      overflow: () => this.close(CLOSE.tryAgainLater, 'too far behind: reconnect and resume'),
      wait: this.options.wait ?? sleep,
      ended: () => this.streamLanes.delete(stream),
    };
    lane = new DeliveryLane(position, io, this.holding, this.options.timing);
    this.streamLanes.set(stream, lane);
    return lane;
  }

  /** Where delivery of a stream starts (the `ready` streams). */
  setStreamPosition(stream: StreamName, seq: number): void {
    if (this.followsUser) this.streamLane(stream, seq);
  }

  /** The last seq settled on this socket of each stream. */
  streamPositions(): Partial<Record<StreamName, number>> {
    return Object.fromEntries([...this.streamLanes].map(([stream, lane]) => [stream, lane.delivered]));
  }

  /** A stream event from the bus: sent in seq order once, or, without data (a doorbell), read from the log. */
  deliverStream(event: StreamEvent): void {
    if (!this.followsUser) return;
    if (this.early) {
      this.early.push(() => this.deliverStream(event));
      return;
    }
    const lane = this.streamLane(event.stream, event.seq - 1);
    if (event.data === undefined) lane.catchUp(event.seq);
    else lane.live({ seq: event.seq, text: streamFrame({ ...event, data: event.data }) });
  }

  /** Reads every stream to its end (the bus was away). */
  catchUpStreams(): void {
    for (const lane of this.streamLanes.values()) lane.catchUp();
  }

  /** Where delivery of a conversation starts (the `ready` lastSeq), and where the user's history of it starts. */
  setPosition(conversationId: string, seq: number, historyFrom = 0): void {
    this.history.set(conversationId, [{ from: 0, lower: historyFrom }]);
    this.lane(conversationId, seq);
  }

  private historyMovesAt(conversationId: string, from: number, lower: number): void {
    const steps = (this.history.get(conversationId) ?? []).filter((step) => step.from < from);
    this.history.set(conversationId, [...steps, { from, lower }]);
  }

  /** Whether the event at `seq` is about a message outside the user's history as it stood then. */
  private beforeHistory(conversationId: string, seq: number, about: number): boolean {
    const steps = this.history.get(conversationId) ?? [];
    let lower = 0;
    for (const step of steps) if (step.from <= seq) lower = step.lower;
    return about <= lower;
  }

  /** The last seq settled on this socket for a conversation, if any. */
  position(conversationId: string): number | undefined {
    return this.lanes.get(conversationId)?.delivered;
  }

  /**
   * The user joined a conversation (at `seq`): everything they may see in it is new to this socket.
   * A lane still open from an earlier membership first delivers up to that leave, then goes on.
   */
  joined(conversationId: string, seq?: number): void {
    if (seq !== undefined) this.historyMovesAt(conversationId, seq, seq);
    this.left.delete(conversationId);
    this.followed.add(conversationId);
    if (this.lanes.has(conversationId) && seq !== undefined) this.rejoins.set(conversationId, seq);
    else this.lane(conversationId, 0);
  }

  /** Reads from the log what the socket has not had: up to `target`, or to the log's end. */
  catchUp(conversationId: string, target?: number): void {
    if (this.left.has(conversationId)) return;
    this.lane(conversationId, 0).catchUp(target);
  }

  /**
   * Applies the client's positions (`points`: conversation, the seq it holds, the log's end read for
   * the request), starts delivery if it waited for this frame, and resolves once every point is
   * settled up to that end, with the positions reached.
   */
  async resume(
    points: Array<{ conversationId: string; after: number; target: number }>,
    streams: Array<{ stream: StreamName; after: number; target: number }> = [],
  ): Promise<Map<string, number>> {
    const done = points.map(({ conversationId, after, target }) => this.lane(conversationId, after).resume(after, target).then((seq) => [conversationId, seq] as const));
    const streamsDone = this.followsUser ? streams.map(({ stream, after, target }) => this.streamLane(stream, after).resume(after, target)) : [];
    this.release();
    await Promise.all(streamsDone);
    return new Map(await Promise.all(done));
  }

  /** The client's first frame was handled: held message.created start to flow. */
  release(): void {
    if (!this.holding) return;
    this.holding = false;
    for (const lane of [...this.lanes.values(), ...this.streamLanes.values()]) lane.release();
  }

  deliver(event: ChatEvent, frame: string): void {
    if (this.early) {
      this.early.push(() => this.deliver(event, frame));
      return;
    }
    if (event.type === 'typing' && (event.data as { userId: string }).userId === this.userId) return;
    if (this.left.has(event.conversationId)) return;
    const { seq } = event;
    if (seq === undefined) {
      this.sendText(frame);
      return;
    }
    if (event.type === 'change.private') {
      // Another member's change: the seq is settled here with nothing to send. Ours comes on our own
      // channel to a device socket; a room socket reads it from the log.
      const lane = this.lane(event.conversationId, seq - 1);
      if ((event.data as { audienceUserId: string }).audienceUserId !== this.userId) lane.live({ seq, text: null });
      else if (!this.followsUser) lane.catchUp(seq);
      return;
    }
    if (event.type === 'conversation.cleared' && (event.data as { userId?: unknown }).userId === this.userId) {
      this.historyMovesAt(event.conversationId, seq, (event.data as { clearedSeq: number }).clearedSeq);
    }
    const hidden = event.about !== undefined && this.beforeHistory(event.conversationId, seq, event.about);
    this.lane(event.conversationId, seq - 1).live({ seq, text: hidden ? null : frame, final: this.leaves(event) });
  }

  sessionsRevoked(sessionIds: readonly string[]): void {
    if (sessionIds.includes(this.actor.sessionId)) this.close(CLOSE.unauthorized, 'session ended');
  }

  /** The socket closed: no lane reads any longer. */
  dispose(): void {
    for (const lane of [...this.lanes.values(), ...this.streamLanes.values()]) lane.close();
    this.lanes.clear();
    this.streamLanes.clear();
  }
}
