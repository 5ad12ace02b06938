import { AppError } from '../../errors.js';
import { hmac, safeEqual } from '../../lib/crypto.js';
import { STREAMS } from './streams.js';

/**
 * A sync token names a point in the database's commit history: a Postgres snapshot (`xmin:xmax:xip`,
 * what `pg_current_snapshot()` returns), so "what changed since the token" is "every row of the log
 * whose transaction the snapshot does not see". While a /sync answer is paged, the token also carries
 * where the page ended and the snapshot the whole answer stops at. Opaque to clients: base64url JSON,
 * a dot and an HMAC of it with the server's sync key, so only tokens the server issued reach a query
 * (a forged snapshot could make one walk a whole history).
 */
export interface SyncToken {
  /** Changes committed after this snapshot are new. */
  since: string;
  /** When the snapshot was taken (ms since the epoch): old tokens expire. */
  issuedAt: number;
  /** The database history it was taken on (system identifier and timeline); absent on tokens from before it was carried. */
  origin?: string;
  /**
   * Within a paged answer: the snapshot it stops at (taken at `untilAt`, which the answer's last token
   * carries as its issuedAt: that token stands there), and where the last page ended: in a stream
   * (`announcements`, `user`) or a conversation (its id), at a seq.
   */
  page?: { until: string; untilAt: number; conversationId: string; after: number };
}

/** A token is a few hundred bytes unless thousands of transactions were in flight when it was taken. */
export const SYNC_TOKEN_MAX_LENGTH = 8192;
const SNAPSHOT = /^(\d{1,20}):(\d{1,20}):(\d{1,20}(,\d{1,20})*)?$/;
const MAC_LENGTH = 32;
const ORIGIN = /^\d{1,20}:\d{1,10}$/;
const sign = (body: string, key: string) => hmac(key, body).slice(0, MAC_LENGTH);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function encodeSyncToken(token: SyncToken, key: string): string {
  const fields: Record<string, unknown> = { v: 1, s: token.since, t: token.issuedAt, ...(token.origin === undefined ? {} : { o: token.origin }) };
  if (token.page) Object.assign(fields, { u: token.page.until, w: token.page.untilAt, c: token.page.conversationId, a: token.page.after });
  const body = Buffer.from(JSON.stringify(fields)).toString('base64url');
  return `${body}.${sign(body, key)}`;
}

const invalid = () => new AppError('SYNC_TOKEN_INVALID');
const isSnapshot = (value: unknown): value is string => typeof value === 'string' && SNAPSHOT.test(value);

/** Parses a token from a client; anything that is not one of ours (shape or signature) is SYNC_TOKEN_INVALID. */
export function decodeSyncToken(text: string, key: string): SyncToken {
  if (text.length > SYNC_TOKEN_MAX_LENGTH) throw invalid();
  const match = /^([A-Za-z0-9_-]+)\.([0-9a-f]+)$/.exec(text);
  if (!match || !safeEqual(match[2]!, sign(match[1]!, key))) throw invalid();
  let body: unknown;
  try {
    body = JSON.parse(Buffer.from(match[1]!, 'base64url').toString('utf8'));
  } catch {
    throw invalid();
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw invalid();
  const { v, s, t, o, u, w, c, a } = body as Record<string, unknown>;
  if (v !== 1 || !isSnapshot(s) || typeof t !== 'number' || !Number.isSafeInteger(t) || t < 0) throw invalid();
  if (o !== undefined && (typeof o !== 'string' || !ORIGIN.test(o))) throw invalid();
  const base = { since: s, issuedAt: t, ...(o === undefined ? {} : { origin: o }) };
  if (u === undefined && w === undefined && c === undefined && a === undefined) return base;
  // Page tokens issued before `w` existed: the since token's time, which is older (the safe side).
  const untilAt = w === undefined ? t : w;
  if (typeof untilAt !== 'number' || !Number.isSafeInteger(untilAt) || untilAt < 0) throw invalid();
  if (!isSnapshot(u) || typeof c !== 'string' || !(UUID.test(c) || (STREAMS as readonly string[]).includes(c)) || typeof a !== 'number' || !Number.isSafeInteger(a) || a < 0) throw invalid();
  return { ...base, page: { until: u, untilAt, conversationId: c, after: a } };
}

/** Throws SYNC_TOKEN_EXPIRED for a token older than `ttlMs`: the client takes a fresh snapshot. */
export function assertFresh(token: SyncToken, ttlMs: number, now = Date.now()): void {
  if (now - token.issuedAt > ttlMs) throw new AppError('SYNC_TOKEN_EXPIRED', `Sync tokens are kept ${Math.round(ttlMs / 86_400_000)} days: take a fresh snapshot (GET /sync without since)`);
}
