/** One event of a conversation's log ready for the wire: its seq and its serialized frame. */
export interface LaneEntry {
  seq: number;
  /** Null: the seq is settled with nothing to send (a change another member alone may see). */
  text: string | null;
  /** The socket's user left the conversation with this event: it is the lane's last. */
  final?: boolean;
}

/** A page of a conversation's log after a seq, as the socket's user may see it. */
export interface LogPage {
  /** Visible messages after the requested seq, ascending. */
  items: LaneEntry[];
  /**
   * Every seq at or below this is settled: it is in `items` (or was before the request), or this
   * user may not see it (hidden for them, expired, outside their membership). Never above a seq the
   * log had committed when the read began, so no seq that may still become visible is passed over.
   */
  upTo: number;
  /** The page was full: the log may have more after `upTo`. */
  more: boolean;
}

export interface LaneIo {
  read(after: number): Promise<LogPage>;
  send(entry: LaneEntry): void;
  /** A read failed: `retry` (transient, e.g. the database is restarting) or `stop` (the user lost access). */
  failed(error: unknown): 'retry' | 'stop';
  /** More events are held than a socket may hold: the connection should be closed (reconnect and resume). */
  overflow(): void;
  /** Resolves after `ms`; the grace before a read and the backoff between failed reads. */
  wait(ms: number): Promise<void>;
  /** The lane ended for good: it sent its final entry, or a read found the conversation is no longer the user's. */
  ended(): void;
}

export interface LaneTiming {
  /** How long a gap waits for the bus (publishes of two instances arrive out of order) before the log is read. */
  graceMs: number;
  /** First wait after a failed read or a read that settled nothing new; doubles up to `maxBackoffMs`. */
  backoffMs: number;
  maxBackoffMs: number;
  /** Live events held at most while a gap is filled. */
  maxHeld: number;
}

export const defaultLaneTiming: LaneTiming = { graceMs: 25, backoffMs: 50, maxBackoffMs: 5_000, maxHeld: 5_000 };

/**
 * Delivery of one conversation's events (messages and recorded changes) to one socket: a state machine whose only
 * position moves forward and whose only reader is one loop.
 *
 * - `position`: every seq at or below it is settled on this socket (sent, or not for this user).
 * - Live events continue the position at once; any later seq is held (never dropped, never sent
 *   early) and the loop reads the log from the position, merging what it reads with what is held,
 *   in seq order, until nothing is missing. An older or repeated seq is dropped.
 * - A hole is never skipped on a timer: the loop reads until the log settles it (a read started after
 *   an event arrived sees its commit and every lower one). Failed reads are retried with backoff.
 * - `resume(after)` is the client's position. Above ours: we move up to it. Below ours while this
 *   socket has sent nothing above its start: the position goes back and the loop replays in order
 *   (live events meanwhile are held and merged). Below the start after live events went out: only the
 *   never-sent range (after, start] is read and sent (a backfill), never anything twice.
 * - While `holding` (the client announced a resume on connect) nothing is sent; `release()` starts.
 */
export class DeliveryLane {
  private position: number;
  /** Seqs at or below this were never sent by this lane (its starting point, lowered by backfills). */
  private start: number;
  private readonly held = new Map<number, LaneEntry>();
  /** The loop reads until the position reaches this. */
  private want: number;
  /** Read once more to the log's current end (a join, a bus reconnect). */
  private refresh = false;
  /** Never-sent ranges (from, to] below the start, oldest request first. */
  private readonly backfills: Array<{ from: number; to: number }> = [];
  private running = false;
  private closed = false;
  private waiters: Array<{ seq: number; resolve: (position: number) => void }> = [];

  private readonly io: LaneIo;
  private holding: boolean;
  private readonly timing: LaneTiming;

  constructor(position: number, io: LaneIo, holding = false, timing: LaneTiming = defaultLaneTiming) {
    this.io = io;
    this.holding = holding;
    this.timing = timing;
    this.position = this.start = this.want = position;
  }

  get delivered(): number {
    return this.position;
  }

  /** A live event from the bus. */
  live(entry: LaneEntry): void {
    if (this.closed || entry.seq <= this.position || this.held.has(entry.seq)) return;
    if (!this.holding && entry.seq === this.position + 1) {
      this.sendNext(entry);
      this.drain();
      return;
    }
    this.held.set(entry.seq, entry);
    if (this.held.size > this.timing.maxHeld) {
      this.close();
      this.io.overflow();
      return;
    }
    this.want = Math.max(this.want, entry.seq - 1);
    this.kick(this.timing.graceMs);
  }

  /** Reads up to `target` (a seq known to be committed), or once to the log's end when omitted. */
  catchUp(target?: number): void {
    if (target === undefined) this.refresh = true;
    else this.want = Math.max(this.want, target);
    this.kick(0);
  }

  /**
   * The client holds everything up to `after`; `target` is the log's end read for the request.
   * Resolves with the position once everything up to `target` is settled on this socket.
   */
  resume(after: number, target: number): Promise<number> {
    if (after >= this.position) {
      if (this.position === this.start) this.start = after;
      this.position = after;
      for (const seq of this.held.keys()) if (seq <= after) this.held.delete(seq);
    } else if (this.position === this.start) {
      this.position = this.start = after;
    } else if (after < this.start) {
      this.backfills.push({ from: after, to: this.start });
      this.start = after;
    }
    this.want = Math.max(this.want, target);
    this.drain();
    this.kick(0);
    return this.until(target);
  }

  /** The client's first frame was handled: delivery starts. */
  release(): void {
    if (!this.holding) return;
    this.holding = false;
    this.drain();
    this.kick(0);
  }

  close(): void {
    this.closed = true;
    this.held.clear();
    for (const waiter of this.waiters.splice(0)) waiter.resolve(this.position);
  }

  private until(seq: number): Promise<number> {
    if (this.settled(seq)) return Promise.resolve(this.position);
    return new Promise((resolve) => this.waiters.push({ seq, resolve }));
  }

  private settled(seq: number): boolean {
    return this.closed || (this.position >= seq && this.backfills.length === 0);
  }

  private sendNext(entry: LaneEntry): void {
    this.position = entry.seq;
    if (entry.text !== null) this.io.send(entry);
    if (entry.final) this.end();
  }

  /** The lane is over for good: its user left, or lost access to the conversation. */
  private end(): void {
    if (this.closed) return;
    this.close();
    this.io.ended();
  }

  /** Sends held events that continue the position; wakes resumes that are complete. */
  private drain(): void {
    if (this.holding) return;
    for (let next = this.held.get(this.position + 1); next; next = this.held.get(this.position + 1)) {
      this.held.delete(next.seq);
      this.sendNext(next);
    }
    this.waiters = this.waiters.filter((waiter) => (this.settled(waiter.seq) ? (waiter.resolve(this.position), false) : true));
  }

  private needsRead(): boolean {
    return !this.closed && !this.holding && (this.backfills.length > 0 || this.refresh || this.position < this.want);
  }

  private kick(delayMs: number): void {
    if (this.running || !this.needsRead()) return;
    this.running = true;
    void this.run(delayMs).finally(() => {
      this.running = false;
      if (this.needsRead()) this.kick(0);
    });
  }

  /** The one reader. */
  private async run(delayMs: number): Promise<void> {
    if (delayMs > 0) await this.io.wait(delayMs);
    let backoff = this.timing.backoffMs;
    while (this.needsRead()) {
      const progressed = this.backfills.length > 0 ? await this.readBackfill() : await this.readForward();
      if (progressed === 'stop') return this.end();
      if (progressed || !this.needsRead()) {
        backoff = this.timing.backoffMs;
        continue;
      }
      await this.io.wait(backoff);
      backoff = Math.min(backoff * 2, this.timing.maxBackoffMs);
    }
  }

  private async readPage(after: number): Promise<LogPage | 'stop' | null> {
    try {
      return await this.io.read(after);
    } catch (error) {
      return this.io.failed(error) === 'stop' ? 'stop' : null;
    }
  }

  /** Reads after the position and merges the page with what is held. False: nothing new was settled. */
  private async readForward(): Promise<boolean | 'stop'> {
    const from = this.position;
    this.refresh = false;
    const page = await this.readPage(from);
    if (page === 'stop' || this.closed) return 'stop';
    if (page === null) {
      this.refresh = true;
      return false;
    }
    // A resume lowered the position during the read: the page does not cover (position, from].
    if (this.position < from) return true;
    if (page.more) this.refresh = true;
    const merged = new Map<number, LaneEntry>();
    for (const [seq, entry] of this.held) if (seq <= page.upTo) merged.set(seq, entry);
    for (const item of page.items) merged.set(item.seq, item);
    for (const seq of merged.keys()) this.held.delete(seq);
    for (const entry of [...merged.values()].sort((a, b) => a.seq - b.seq)) {
      if (this.closed) return 'stop';
      if (entry.seq > this.position) this.sendNext(entry);
    }
    if (this.closed) return 'stop';
    this.position = Math.max(this.position, page.upTo);
    this.drain();
    return this.position > from;
  }

  /** Sends the never-sent range below the start, page by page. */
  private async readBackfill(): Promise<boolean | 'stop'> {
    const range = this.backfills[0]!;
    const page = await this.readPage(range.from);
    if (page === 'stop' || this.closed) return 'stop';
    if (page === null) return false;
    for (const item of page.items) if (item.seq > range.from && item.seq <= range.to && item.text !== null) this.io.send(item);
    const reached = page.more ? Math.min(Math.max(page.upTo, page.items.at(-1)?.seq ?? range.from), range.to) : range.to;
    if (reached >= range.to) this.backfills.shift();
    else range.from = reached;
    this.drain();
    return true;
  }
}
