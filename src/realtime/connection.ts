import type { WebSocket } from 'ws';
import type { ChatEvent } from '../events/chat-events.js';
import type { Actor } from '../modules/auth/tokens.js';
import type { MessageView } from '../modules/messages/message.views.js';
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

/** Reads a conversation's stored messages after a seq, a page at a time, as the socket's user may see them. */
export type ReadAfter = (actor: Actor, conversationId: string, after: number) => Promise<{ items: MessageView[]; more: boolean }>;

export interface ConnectionOptions {
  socket: WebSocket;
  actor: Actor;
  /** Set for /ws/chat/:room sockets: the one conversation they carry. */
  roomConversationId: string | null;
  maxBufferedBytes: number;
  readAfter: ReadAfter;
  onError: (error: unknown, context: string) => void;
}

interface Lane {
  /** Highest seq of message.created delivered on this socket. */
  delivered: number | undefined;
  /** Events held back while the gap below them is filled from the log. */
  held: ChatEvent[] | null;
  /** The fill in progress, if any: there is at most one per lane. */
  filling: Promise<number | undefined> | null;
  /** Set while a gap waits for the bus to bring the missing events before the log is read. */
  grace: NodeJS.Timeout | null;
}

/** Reads of the log per fill before a hole it cannot fill (an expired message) is skipped. */
const FILL_ATTEMPTS = 3;
/**
 * How long a gap may wait for the bus before the log is read. Publishes from several instances
 * reach a subscriber out of order within a few milliseconds, so most gaps close by themselves;
 * only events the bus really lost cost a read, and at most this much latency.
 */
const GAP_GRACE_MS = 25;
const newLane = (delivered: number | undefined): Lane => ({ delivered, held: null, filling: null, grace: null });
const seqOf = (event: ChatEvent) => (event.data as MessageView).seq;

/**
 * One socket. Delivery contract: `message.created` of a stored message reaches the socket once per
 * seq, in seq order per conversation, and nothing comes before `ready`. A later seq than expected
 * (the bus carries publishes from several instances, and loses some during outages) holds the event
 * back while the missing ones are read from the log; an old or repeated seq is dropped. Other events
 * pass through as they come.
 */
export class Connection implements HubConnection {
  readonly userId: string;
  readonly followsUser: boolean;
  actor: Actor;
  readonly followed = new Set<string>();
  /** Users whose presence this socket watches. */
  readonly watching = new Set<string>();
  private readonly lanes = new Map<string, Lane>();
  /** Events that arrived before `ready` was sent; replayed right after it. */
  private early: Array<[ChatEvent, string]> | null = [];

  constructor(private readonly options: ConnectionOptions) {
    this.actor = options.actor;
    this.userId = options.actor.userId;
    this.followsUser = options.roomConversationId === null;
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

  /** Where message.created delivery of a conversation stands (the `ready` lastSeq, or a resume point). */
  setPosition(conversationId: string, seq: number): void {
    const lane = this.lanes.get(conversationId);
    if (lane) lane.delivered = seq;
    else this.lanes.set(conversationId, newLane(seq));
  }

  /** The last message.created seq delivered for a conversation, if any. */
  position(conversationId: string): number | undefined {
    return this.lanes.get(conversationId)?.delivered;
  }

  /** The user joined a conversation: everything they may see in it is new to this socket. */
  joined(conversationId: string): void {
    this.followed.add(conversationId);
    this.setPosition(conversationId, 0);
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
    const lane = this.lanes.get(event.conversationId);
    if (!lane || lane.delivered === undefined) {
      this.lanes.set(event.conversationId, newLane(seq));
      this.sendText(frame);
      return;
    }
    if (lane.held) {
      lane.held.push(event);
      if (lane.grace) this.closeGapIfFilled(lane, event.conversationId);
      return;
    }
    if (seq <= lane.delivered) return;
    if (seq === lane.delivered + 1) {
      lane.delivered = seq;
      this.sendText(frame);
      return;
    }
    lane.held = [event];
    const conversationId = event.conversationId;
    lane.grace = setTimeout(() => {
      lane.grace = null;
      void this.fill(conversationId);
    }, GAP_GRACE_MS);
  }

  /** During the grace: delivers what now continues the lane; the gap is closed once nothing is held. */
  private closeGapIfFilled(lane: Lane, conversationId: string): void {
    this.releaseConsecutive(lane, conversationId);
    if (lane.held!.length > 0) return;
    clearTimeout(lane.grace!);
    lane.grace = null;
    lane.held = null;
  }

  /**
   * Delivers from the log everything after the lane's position, then what was held back, in order:
   * a held event goes out only once every seq below it has. Whatever is below a committed seq is
   * committed too, so reading again fills a gap that opened while reading; a hole the log cannot
   * fill (the message expired) is skipped after FILL_ATTEMPTS reads. Resolves with the last seq delivered.
   */
  fill(conversationId: string): Promise<number | undefined> {
    let lane = this.lanes.get(conversationId);
    if (!lane) this.lanes.set(conversationId, (lane = newLane(0)));
    if (lane.filling) return lane.filling;
    if (lane.grace) clearTimeout(lane.grace);
    lane.grace = null;
    const current = lane;
    current.held ??= [];
    current.filling = (async () => {
      try {
        for (let attempt = 0; attempt < FILL_ATTEMPTS; attempt++) {
          for (let more = true; more; ) {
            const page = await this.options.readAfter(this.actor, conversationId, current.delivered ?? 0);
            for (const message of page.items) this.deliverStored(current, conversationId, message);
            more = page.more && page.items.length > 0;
          }
          this.releaseConsecutive(current, conversationId);
          if (current.held!.length === 0) break;
        }
      } catch (error) {
        this.options.onError(error, `catching up ${conversationId}`);
      }
      for (const event of current.held!.sort((a, b) => seqOf(a) - seqOf(b))) this.deliverStored(current, conversationId, event.data as MessageView);
      current.held = null;
      current.filling = null;
      return current.delivered;
    })();
    return current.filling;
  }

  /** Delivers held events that continue the lane without a gap; keeps the rest held. */
  private releaseConsecutive(lane: Lane, conversationId: string): void {
    const held = lane.held!.sort((a, b) => seqOf(a) - seqOf(b));
    while (held.length > 0 && seqOf(held[0]!) <= (lane.delivered ?? 0) + 1) this.deliverStored(lane, conversationId, held.shift()!.data as MessageView);
  }

  private deliverStored(lane: Lane, conversationId: string, message: MessageView): void {
    if (lane.delivered !== undefined && message.seq <= lane.delivered) return;
    lane.delivered = message.seq;
    this.send({ type: 'message.created', conversationId, data: message });
  }

  sessionsRevoked(sessionIds: readonly string[]): void {
    if (sessionIds.includes(this.actor.sessionId)) this.close(CLOSE.unauthorized, 'session ended');
  }

  dropped(conversationId: string): void {
    this.followed.delete(conversationId);
    const lane = this.lanes.get(conversationId);
    if (lane?.grace) clearTimeout(lane.grace);
    this.lanes.delete(conversationId);
  }

  /** The socket closed: no gap waits any longer. */
  dispose(): void {
    for (const lane of this.lanes.values()) if (lane.grace) clearTimeout(lane.grace);
    this.lanes.clear();
  }
}
