import WebSocket from 'ws';
import type { Prng } from './prng.js';

/*
 * One user's device as a well-behaved client: it keeps one `/ws?resume=1` socket open, moving to the
 * other instance on every drop, and sends `resume` (the highest seq below which it holds every
 * message, per conversation) as its first frame. It sends text messages at a steady, seeded rate and
 * retries each one with the same clientId until it is acknowledged (after a drop, or an error frame).
 * Every socket's `message.created` frames are logged raw, in wire order, before any dedupe: the
 * invariants are checked on that log, not on what the client kept.
 */

export interface Endpoint {
  name: string;
  /** ws://host:port */
  url: string;
}

/** One message.created frame as it came off the wire. */
export interface WireSeq {
  seq: number;
  /** ms since the scenario began */
  at: number;
}

export interface SocketLog {
  /** `u03#2@B`: user, the device's nth socket, instance. */
  label: string;
  instance: string;
  openedAt: number;
  /** The resume point sent per conversation (the first frame). */
  resumeAfter: Record<string, number>;
  readyAt?: number;
  readyLastSeq: Record<string, number>;
  doneAt?: number;
  doneLastSeqs?: Record<string, number>;
  /** How many frames of each conversation had arrived when `resume.done` did. */
  doneIndex?: Record<string, number>;
  /** The `resume` was refused (error frame): the socket is closed at once and its holes are not judged. */
  resumeError?: string;
  received: Map<string, WireSeq[]>;
  closedAt?: number;
  closeCode?: number;
  closedBy?: 'client' | 'server';
}

export interface SendRecord {
  clientId: string;
  conversationId: string;
  body: string;
  createdAt: number;
  attempts: number;
  /** The sockets each attempt was written to. */
  attemptsOn: string[];
  errors: string[];
  ackedAt?: number;
  seq?: number;
  messageId?: string;
  /** After an error frame: not before this time. */
  retryAt?: number;
  /** A later ack for the same clientId named another message or seq (idempotency broken). */
  conflictingAck?: string;
}

export interface DeviceOptions {
  label: string;
  token: string;
  conversations: string[];
  endpoints: Endpoint[];
  /** Index into endpoints of the first socket; each reconnect goes to the next one. */
  home: number;
  rng: Prng;
  clock: () => number;
  /** Text put in front of every body (the scenario's name), so a body names its run. */
  tag: string;
}

/** Sends awaiting an answer on one socket at most. */
const SEND_WINDOW = 8;
/** A socket that opened but got no `ready` this long after is abandoned (and the next one tried). */
const READY_WITHIN_MS = 15_000;

export class Device {
  readonly sockets: SocketLog[] = [];
  readonly sends = new Map<string, SendRecord>();
  /** Seqs held per conversation, whichever socket brought them. */
  readonly holdings = new Map<string, Set<number>>();
  private readonly contiguous = new Map<string, number>();
  private socket: WebSocket | undefined;
  private current: SocketLog | undefined;
  private nextEndpoint: number;
  private stopped = false;
  private sendTimer: NodeJS.Timeout | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private readonly timers = new Set<NodeJS.Timeout>();
  /** Unacknowledged sends, oldest first. */
  private readonly pending = new Set<SendRecord>();
  /** clientId -> when it was last written to the current socket (cleared on a new socket). */
  private inFlight = new Map<string, number>();
  private sequence = 0;
  private frameSequence = 0;
  failedConnects = 0;
  /** Close codes seen, for scenario checks (1013 for the slow consumer, 1001 for SIGTERM). */
  readonly closeCodes: number[] = [];

  private readonly options: DeviceOptions;

  constructor(options: DeviceOptions) {
    this.options = options;
    this.nextEndpoint = options.home;
    for (const id of options.conversations) {
      this.holdings.set(id, new Set());
      this.contiguous.set(id, 0);
    }
  }

  get label(): string {
    return this.options.label;
  }

  get open(): boolean {
    return this.socket?.readyState === WebSocket.OPEN && this.current?.readyAt !== undefined;
  }

  /** The highest seq below which every seq of the conversation is held: the resume point. */
  heldThrough(conversationId: string): number {
    return this.contiguous.get(conversationId) ?? 0;
  }

  unacked(): SendRecord[] {
    return [...this.pending];
  }

  connect(): void {
    if (this.stopped) return;
    const endpoint = this.options.endpoints[this.nextEndpoint % this.options.endpoints.length]!;
    this.nextEndpoint += 1;
    const socket = new WebSocket(`${endpoint.url}/ws?resume=1`, { headers: { authorization: `Bearer ${this.options.token}` }, perMessageDeflate: false });
    this.socket = socket;
    let log: SocketLog | undefined;
    socket.on('open', () => {
      const { clock } = this.options;
      log = {
        label: `${this.options.label}#${this.sockets.length + 1}@${endpoint.name}`,
        instance: endpoint.name,
        openedAt: clock(),
        resumeAfter: Object.fromEntries(this.options.conversations.map((id) => [id, this.heldThrough(id)])),
        readyLastSeq: {},
        received: new Map(),
      };
      this.sockets.push(log);
      this.current = log;
      const opened = log;
      this.later(READY_WITHIN_MS, () => {
        if (opened.readyAt === undefined && opened.closedAt === undefined) {
          opened.closedBy = 'client';
          socket.terminate();
        }
      });
      this.inFlight = new Map();
      socket.send(JSON.stringify({ type: 'resume', id: 'r1', data: { after: log.resumeAfter } }));
      this.pump();
    });
    socket.on('message', (raw) => {
      if (log) this.onFrame(socket, log, String(raw));
    });
    socket.on('error', () => {});
    socket.on('unexpected-response', (_request, response) => {
      response.resume();
      socket.terminate();
    });
    socket.on('close', (code) => {
      if (log) {
        log.closedAt = this.options.clock();
        log.closeCode = code;
        log.closedBy ??= 'server';
        this.closeCodes.push(code);
      } else {
        this.failedConnects += 1;
      }
      if (this.socket !== socket) return;
      this.socket = undefined;
      this.current = undefined;
      if (this.stopped) return;
      const delay = log ? this.options.rng.int(20, 250) : this.options.rng.int(100, 400);
      this.reconnectTimer = setTimeout(() => this.connect(), delay);
    });
  }

  /** The instance of the open socket, if any. */
  get instance(): string | undefined {
    return this.current?.instance;
  }

  /** Closes the socket so that the next one goes to `endpoint`. */
  moveTo(endpoint: number): void {
    this.nextEndpoint = endpoint;
    this.drop('close');
  }

  /** Drops the socket from this side: `close` with a close frame, `terminate` as a vanished network. */
  drop(how: 'close' | 'terminate'): void {
    const socket = this.socket;
    if (!socket || socket.readyState !== WebSocket.OPEN) return;
    if (this.current) this.current.closedBy = 'client';
    if (how === 'close') socket.close(1000, 'blip');
    else socket.terminate();
  }

  /** Stops reading the socket (TCP backpressure builds up on the server) / reads again. */
  pauseReading(): void {
    this.socket?.pause();
  }

  resumeReading(): void {
    this.socket?.resume();
  }

  /** Sends at `perSecond` on average (Poisson) into `targets`, the group with probability `groupShare`. */
  startSending(perSecond: number, directs: string[], group: string | undefined, groupShare: number): void {
    const { rng } = this.options;
    const tick = () => {
      const target = group && (directs.length === 0 || rng.next() < groupShare) ? group : rng.pick(directs);
      this.sendMessage(target);
      this.sendTimer = setTimeout(tick, rng.exp(1000 / perSecond));
    };
    this.sendTimer = setTimeout(tick, rng.exp(1000 / perSecond));
  }

  stopSending(): void {
    clearTimeout(this.sendTimer);
    this.sendTimer = undefined;
  }

  /** Queues a text message (body padded to `length` characters when given) and sends it if connected. */
  sendMessage(conversationId: string, length?: number): SendRecord {
    this.sequence += 1;
    const clientId = `${this.options.label}-${this.sequence}`;
    let body = `${this.options.tag} ${clientId}`;
    if (length !== undefined && length > body.length) body += ` ${'x'.repeat(length - body.length - 1)}`;
    const record: SendRecord = { clientId, conversationId, body, createdAt: this.options.clock(), attempts: 0, attemptsOn: [], errors: [] };
    this.sends.set(clientId, record);
    this.pending.add(record);
    this.pump();
    return record;
  }

  /** Closes for good (end of scenario). */
  shutdown(): void {
    this.stopped = true;
    this.stopSending();
    clearTimeout(this.reconnectTimer);
    for (const timer of this.timers) clearTimeout(timer);
    if (this.current) this.current.closedBy = 'client';
    this.socket?.terminate();
  }

  private later(ms: number, run: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      run();
    }, ms);
    this.timers.add(timer);
  }

  /**
   * Writes unacknowledged sends, oldest first, while fewer than SEND_WINDOW are awaiting an answer on
   * the current socket (as an app sends its outbox: a backlog after an outage is not flooded at once).
   */
  private pump(): void {
    const socket = this.socket;
    if (!socket || socket.readyState !== WebSocket.OPEN || this.stopped) return;
    const now = this.options.clock();
    for (const record of this.pending) {
      if (this.inFlight.size >= SEND_WINDOW) return;
      if (this.inFlight.has(record.clientId) || (record.retryAt ?? 0) > now) continue;
      this.transmit(socket, record);
    }
  }

  private transmit(socket: WebSocket, record: SendRecord): void {
    this.inFlight.set(record.clientId, this.options.clock());
    record.attempts += 1;
    record.attemptsOn.push(`${this.current?.label ?? '?'} at ${(this.options.clock() / 1000).toFixed(2)}s`);
    this.frameSequence += 1;
    const { conversationId, clientId, body } = record;
    socket.send(JSON.stringify({ type: 'message.send', id: `s${this.frameSequence}:${clientId}`, data: { conversationId, clientId, type: 'text', body } }));
  }

  private onFrame(socket: WebSocket, log: SocketLog, text: string): void {
    const frame = JSON.parse(text) as { type: string; id?: string; conversationId?: string; data?: any };
    const at = this.options.clock();
    switch (frame.type) {
      case 'ready':
        log.readyAt = at;
        for (const c of (frame.data?.conversations ?? []) as Array<{ id: string; lastSeq: number }>) log.readyLastSeq[c.id] = c.lastSeq;
        return;
      case 'message.created': {
        const conversationId = frame.conversationId!;
        const seq = frame.data.seq as number;
        let list = log.received.get(conversationId);
        if (!list) log.received.set(conversationId, (list = []));
        list.push({ seq, at });
        const held = this.holdings.get(conversationId);
        if (!held) return;
        held.add(seq);
        let through = this.contiguous.get(conversationId) ?? 0;
        while (held.has(through + 1)) through += 1;
        this.contiguous.set(conversationId, through);
        return;
      }
      case 'resume.done': {
        log.doneAt = at;
        const data = frame.data as { lastSeqs?: Record<string, number>; conversationId?: string; lastSeq?: number };
        log.doneLastSeqs = data.lastSeqs ?? (data.conversationId ? { [data.conversationId]: data.lastSeq! } : {});
        log.doneIndex = Object.fromEntries([...log.received].map(([id, list]) => [id, list.length]));
        return;
      }
      case 'message.ack':
        this.acked(frame.data as { clientId: string; seq: number; id: string }, at);
        return;
      case 'error': {
        const code = String(frame.data?.code);
        if (frame.id === 'r1') {
          // No valid resume point on this socket: leave it and resume on the next one.
          log.resumeError = code;
          log.closedBy = 'client';
          socket.close(1000, 'resume failed');
          return;
        }
        const clientId = frame.id?.split(':')[1];
        const record = clientId ? this.sends.get(clientId) : undefined;
        if (!record || record.ackedAt !== undefined) return;
        record.errors.push(code);
        this.inFlight.delete(record.clientId);
        // Retryable or not, the same clientId is tried again later: a send is never given up.
        const delay = this.options.rng.int(200, 600);
        record.retryAt = this.options.clock() + delay;
        this.later(delay, () => this.pump());
        return;
      }
      default:
        return;
    }
  }

  private acked(message: { clientId: string; seq: number; id: string }, at: number): void {
    const record = this.sends.get(message.clientId);
    if (!record) return;
    if (record.ackedAt === undefined) {
      record.ackedAt = at;
      record.seq = message.seq;
      record.messageId = message.id;
      this.inFlight.delete(record.clientId);
      this.pending.delete(record);
      this.pump();
    } else if (record.seq !== message.seq || record.messageId !== message.id) {
      record.conflictingAck = `first ${record.messageId} seq ${record.seq}, then ${message.id} seq ${message.seq}`;
    }
  }
}
