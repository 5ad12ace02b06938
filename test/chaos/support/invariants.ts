import type { Device, SocketLog, WireSeq } from './device.js';

/*
 * The delivery and storage invariants of a chaos scenario, judged from the raw wire logs of every
 * socket and the rows in the database. Each failure is one line naming the socket (user#n@instance),
 * the conversation, and the seqs expected against those received, so a red run says what broke.
 */

export interface StoredRow {
  conversationId: string;
  seq: number;
  id: string;
  senderId: string;
  clientId: string;
  body: string | null;
}

export interface ScenarioData {
  devices: Device[];
  /** userId -> device (for naming senders). */
  deviceOfUser: Map<string, Device>;
  /** conversationId -> short label (G, D0..D9, F). */
  conversationLabel: Map<string, string>;
  /** Every row of the scenario's conversations, and each conversation's counter. */
  rows: StoredRow[];
  lastSeq: Map<string, number>;
}

export type FailureKind =
  | 'repeat'
  | 'reorder'
  | 'hole'
  | 'replayAfterDone'
  | 'lost'
  | 'unacked'
  | 'storedTwice'
  | 'ackMismatch'
  | 'gap'
  | 'phantom';

export const FAILURE_TITLES: Record<FailureKind, string> = {
  repeat: 'message.created frames repeated on one socket (raw, before client dedupe), or replayed at or below its resume point',
  reorder: 'message.created frames out of seq order on one socket',
  hole: 'seqs a socket skipped: a later seq of the conversation reached it, an earlier one after its resume point never did',
  replayAfterDone: 'resume.done announced a lastSeq before every seq up to it had been sent on the socket',
  lost: 'acknowledged messages lost: not stored, or never delivered to a member device on any of its sockets',
  unacked: 'sends never acknowledged despite retries with the same clientId',
  storedTwice: 'acknowledged messages stored more than once (or a body stored twice)',
  ackMismatch: 'an acknowledgement that does not match the stored row, or two acks of one clientId that disagree',
  gap: 'conversations whose stored seqs are not exactly 1..lastSeq',
  phantom: 'stored messages no client ever sent',
};

export interface Report {
  counts: Record<FailureKind, number>;
  /** Diagnosis lines per kind (the first few of each). */
  diagnoses: Record<FailureKind, string[]>;
  figures: Record<string, number | string>;
}

const DIAGNOSES_KEPT = 12;

/** `[1,2,3,5,7,8]` -> `1-3,5,7-8`. */
export function ranges(seqs: Iterable<number>): string {
  const sorted = [...new Set(seqs)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j += 1;
    parts.push(i === j ? `${sorted[i]}` : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(',') || '(none)';
}

const seconds = (ms: number | undefined) => (ms === undefined ? '?' : `${(ms / 1000).toFixed(2)}s`);

export function judge(data: ScenarioData): Report {
  const counts = Object.fromEntries(Object.keys(FAILURE_TITLES).map((k) => [k, 0])) as Record<FailureKind, number>;
  const diagnoses = Object.fromEntries(Object.keys(FAILURE_TITLES).map((k) => [k, [] as string[]])) as Record<FailureKind, string[]>;
  const fail = (kind: FailureKind, n: number, line: () => string) => {
    if (n <= 0) return;
    counts[kind] += n;
    if (diagnoses[kind].length < DIAGNOSES_KEPT) diagnoses[kind].push(line());
  };
  const name = (conversationId: string) => data.conversationLabel.get(conversationId) ?? conversationId;

  checkStorage(data, fail, name);
  const wire = checkSockets(data, fail, name);
  checkLoss(data, fail, name);

  const sends = data.devices.flatMap((d) => [...d.sends.values()]);
  const sockets = data.devices.flatMap((d) => d.sockets);
  const codes = new Map<number, number>();
  for (const s of sockets) if (s.closeCode !== undefined && s.closedBy === 'server') codes.set(s.closeCode, (codes.get(s.closeCode) ?? 0) + 1);
  const sendErrors = new Map<string, number>();
  for (const s of sends) for (const e of s.errors) sendErrors.set(e, (sendErrors.get(e) ?? 0) + 1);
  const ackMs = sends.filter((s) => s.ackedAt !== undefined).map((s) => s.ackedAt! - s.createdAt).sort((a, b) => a - b);
  const quantile = (q: number) => (ackMs.length === 0 ? 0 : Math.round(ackMs[Math.min(ackMs.length - 1, Math.floor(q * ackMs.length))]!));
  return {
    counts,
    diagnoses,
    figures: {
      sends: sends.length,
      acked: ackMs.length,
      ackMsP50: quantile(0.5),
      ackMsP99: quantile(0.99),
      retries: sends.reduce((n, s) => n + Math.max(0, s.attempts - 1), 0),
      sendErrors: [...sendErrors].map(([code, n]) => `${code}:${n}`).join(' ') || 'none',
      stored: data.rows.length,
      sockets: sockets.length,
      reconnects: sockets.length - data.devices.length,
      failedConnects: data.devices.reduce((n, d) => n + d.failedConnects, 0),
      serverCloses: [...codes].map(([code, n]) => `${code}:${n}`).join(' ') || 'none',
      deliveries: wire.deliveries,
      replayed: wire.replayed,
      socketsWithLiveBeforeDone: wire.liveBeforeDone,
    },
  };
}

type Fail = (kind: FailureKind, n: number, line: () => string) => void;

/** Every acknowledged send is stored exactly once, as acknowledged; seqs are 1..lastSeq; nothing else is stored. */
function checkStorage(data: ScenarioData, fail: Fail, name: (id: string) => string): void {
  const byClient = new Map<string, StoredRow[]>();
  const byBody = new Map<string, number>();
  for (const row of data.rows) {
    const key = `${row.senderId}/${row.clientId}`;
    const list = byClient.get(key);
    if (list) list.push(row);
    else byClient.set(key, [row]);
    if (row.body !== null) byBody.set(row.body, (byBody.get(row.body) ?? 0) + 1);
  }
  const sent = new Set<string>();
  for (const [userId, device] of data.deviceOfUser) {
    for (const send of device.sends.values()) {
      const key = `${userId}/${send.clientId}`;
      sent.add(key);
      const stored = byClient.get(key) ?? [];
      if (send.ackedAt === undefined) {
        fail('unacked', 1, () => `${send.clientId} into ${name(send.conversationId)}: ${stored.length} row(s) stored; no answer to ${send.attempts} attempts (on ${send.attemptsOn.join(', ')}), errors [${send.errors.join(',')}]`);
        continue;
      }
      if (stored.length !== 1) fail(stored.length === 0 ? 'lost' : 'storedTwice', 1, () => `${send.clientId} into ${name(send.conversationId)} acked as seq ${send.seq}: ${stored.length} rows (seqs ${ranges(stored.map((r) => r.seq))})`);
      else if (stored[0]!.seq !== send.seq || stored[0]!.id !== send.messageId) fail('ackMismatch', 1, () => `${send.clientId}: acked ${send.messageId} seq ${send.seq}, stored ${stored[0]!.id} seq ${stored[0]!.seq}`);
      if (send.conflictingAck) fail('ackMismatch', 1, () => `${send.clientId}: two acks disagree: ${send.conflictingAck}`);
      const copies = byBody.get(send.body) ?? 0;
      if (copies > 1) fail('storedTwice', 1, () => `${send.clientId}: its body is stored ${copies} times`);
    }
  }
  for (const [key, rows] of byClient) if (!sent.has(key)) fail('phantom', rows.length, () => `${key} seqs ${ranges(rows.map((r) => r.seq))} in ${name(rows[0]!.conversationId)}`);
  const seqs = new Map<string, number[]>();
  for (const row of data.rows) {
    const list = seqs.get(row.conversationId);
    if (list) list.push(row.seq);
    else seqs.set(row.conversationId, [row.seq]);
  }
  for (const [conversationId, last] of data.lastSeq) {
    const have = (seqs.get(conversationId) ?? []).sort((a, b) => a - b);
    const missing: number[] = [];
    const present = new Set(have);
    for (let s = 1; s <= last; s++) if (!present.has(s)) missing.push(s);
    const extra = have.filter((s, i) => s > last || s < 1 || have[i - 1] === s);
    fail('gap', missing.length + extra.length, () => `${name(conversationId)}: lastSeq ${last}, ${have.length} rows; missing ${ranges(missing)}, repeated or beyond ${ranges(extra)}`);
  }
}

/** A socket gets every seq after its resume point exactly once, in order; replay precedes `resume.done`. */
function checkSockets(data: ScenarioData, fail: Fail, name: (id: string) => string): { deliveries: number; replayed: number; liveBeforeDone: number } {
  let deliveries = 0;
  let replayed = 0;
  let liveBeforeDone = 0;
  for (const device of data.devices) {
    for (const socket of device.sockets) {
      let sawLiveEarly = false;
      for (const [conversationId, list] of socket.received) {
        deliveries += list.length;
        const after = socket.resumeAfter[conversationId] ?? 0;
        const ready = socket.readyLastSeq[conversationId];
        const doneAt = socket.doneIndex?.[conversationId] ?? (socket.doneAt === undefined ? list.length : 0);
        replayed += list.slice(0, doneAt).filter((w) => ready === undefined || w.seq <= ready).length;
        if (ready !== undefined && list.slice(0, doneAt).some((w) => w.seq > ready)) sawLiveEarly = true;
        const context = () =>
          `${socket.label} ${name(conversationId)} (resume after ${after}, ready lastSeq ${ready ?? '?'} at ${seconds(socket.readyAt)}, resume.done ${socket.doneLastSeqs?.[conversationId] ?? '-'} at ${seconds(socket.doneAt)})`;
        const seen = new Set<number>();
        const repeats: number[] = [];
        const late: string[] = [];
        let firstAnomaly = -1;
        let top = after;
        list.forEach((w, i) => {
          if (w.seq <= after || seen.has(w.seq)) {
            repeats.push(w.seq);
            if (firstAnomaly < 0) firstAnomaly = i;
          } else if (w.seq < top) {
            late.push(`${w.seq} after ${top}`);
            if (firstAnomaly < 0) firstAnomaly = i;
          }
          seen.add(w.seq);
          top = Math.max(top, w.seq);
        });
        const excerpt = () => wireExcerpt(list, firstAnomaly, doneAt);
        fail('repeat', repeats.length, () => `${context()}: ${repeats.length} repeated [${repeats.join(' ')}]; wire ${excerpt()}`);
        fail('reorder', late.length, () => `${context()}: ${late.length} out of order [${late.slice(0, 8).join('; ')}]; wire ${excerpt()}`);
        if (!socket.resumeError) {
          const holes: number[] = [];
          for (let s = after + 1; s < top; s++) if (!seen.has(s)) holes.push(s);
          fail('hole', holes.length, () => `${context()}: never got ${ranges(holes)} though ${top} came (${socket.closedAt === undefined ? 'still open' : `closed ${socket.closeCode} at ${seconds(socket.closedAt)}`}); got ${ranges(seen)}`);
          const announced = socket.doneLastSeqs?.[conversationId];
          if (announced !== undefined) {
            const before = new Set(list.slice(0, doneAt).map((w) => w.seq));
            const missing: number[] = [];
            for (let s = after + 1; s <= announced; s++) if (!before.has(s)) missing.push(s);
            fail('replayAfterDone', missing.length, () => `${context()}: ${ranges(missing)} not sent before resume.done`);
          }
        }
      }
      if (sawLiveEarly) liveBeforeDone += 1;
    }
  }
  return { deliveries, replayed, liveBeforeDone };
}

/** The wire around an anomaly: `… 170 172 | 171 [172] 173 …`, `|` where resume.done came, [x] the first anomaly. */
function wireExcerpt(list: WireSeq[], at: number, doneAt: number): string {
  const from = Math.max(0, (at < 0 ? 0 : at) - 8);
  const to = Math.min(list.length, (at < 0 ? 0 : at) + 5);
  const parts: string[] = [];
  for (let i = from; i < to; i++) {
    if (i === doneAt) parts.push('|done|');
    parts.push(i === at ? `[${list[i]!.seq}]` : String(list[i]!.seq));
  }
  return `${from > 0 ? '… ' : ''}${parts.join(' ')}${to < list.length ? ' …' : ''}`;
}

/** Every acknowledged message reached every member's device (on some socket) by the end. */
function checkLoss(data: ScenarioData, fail: Fail, name: (id: string) => string): void {
  const ackedAt = new Map<string, number>();
  for (const device of data.devices) for (const s of device.sends.values()) if (s.seq !== undefined) ackedAt.set(`${s.conversationId}/${s.seq}`, s.ackedAt!);
  for (const device of data.devices) {
    for (const [conversationId, held] of device.holdings) {
      // Acknowledged messages only: one stored but not acked when the settle time ran out is an `unacked` failure.
      const last = data.lastSeq.get(conversationId) ?? 0;
      const missing: number[] = [];
      for (let s = 1; s <= last; s++) if (!held.has(s) && ackedAt.has(`${conversationId}/${s}`)) missing.push(s);
      fail('lost', missing.length, () => {
        const when = missing.map((s) => ackedAt.get(`${conversationId}/${s}`)).filter((t): t is number => t !== undefined);
        const sockets = device.sockets
          .filter((s) => s.received.has(conversationId) || s.resumeAfter[conversationId] !== undefined)
          .filter((s) => when.length === 0 || (s.openedAt <= Math.max(...when) && (s.closedAt ?? Number.POSITIVE_INFINITY) >= Math.min(...when)))
          .map((s: SocketLog) => `${s.label} resume ${s.resumeAfter[conversationId]} ready ${s.readyLastSeq[conversationId] ?? '?'} got ${ranges((s.received.get(conversationId) ?? []).map((w) => w.seq))}`);
        return `${device.label} ${name(conversationId)}: never received ${ranges(missing)} (acked ${seconds(Math.min(...when))}-${seconds(Math.max(...when))}); sockets open then: ${sockets.join('; ') || 'none'}`;
      });
    }
  }
}
