import { AppError } from '../../errors.js';

/**
 * A sync token names a point in the database's commit history: a Postgres snapshot (`xmin:xmax:xip`,
 * what `pg_current_snapshot()` returns), so "what changed since the token" is "every row of the log
 * whose transaction the snapshot does not see". While a /sync answer is paged, the token also carries
 * where the page ended and the snapshot the whole answer stops at. Opaque to clients: base64url JSON.
 */
export interface SyncToken {
  /** Changes committed after this snapshot are new. */
  since: string;
  /** When the snapshot was taken (ms since the epoch): old tokens expire. */
  issuedAt: number;
  /** Within a paged answer: the snapshot it stops at, and the conversation and seq the last page ended at. */
  page?: { until: string; conversationId: string; after: number };
}

/** A token is a few hundred bytes unless thousands of transactions were in flight when it was taken. */
export const SYNC_TOKEN_MAX_LENGTH = 8192;
const SNAPSHOT = /^(\d{1,20}):(\d{1,20}):(\d{1,20}(,\d{1,20})*)?$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function encodeSyncToken(token: SyncToken): string {
  const body: Record<string, unknown> = { v: 1, s: token.since, t: token.issuedAt };
  if (token.page) Object.assign(body, { u: token.page.until, c: token.page.conversationId, a: token.page.after });
  return Buffer.from(JSON.stringify(body)).toString('base64url');
}

const invalid = () => new AppError('SYNC_TOKEN_INVALID');
const isSnapshot = (value: unknown): value is string => typeof value === 'string' && SNAPSHOT.test(value);

/** Parses a token from a client; anything that is not one of ours is SYNC_TOKEN_INVALID. */
export function decodeSyncToken(text: string): SyncToken {
  if (text.length > SYNC_TOKEN_MAX_LENGTH || !/^[A-Za-z0-9_-]+$/.test(text)) throw invalid();
  let body: unknown;
  try {
    body = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    throw invalid();
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw invalid();
  const { v, s, t, u, c, a } = body as Record<string, unknown>;
  if (v !== 1 || !isSnapshot(s) || typeof t !== 'number' || !Number.isSafeInteger(t) || t < 0) throw invalid();
  if (u === undefined && c === undefined && a === undefined) return { since: s, issuedAt: t };
  if (!isSnapshot(u) || typeof c !== 'string' || !UUID.test(c) || typeof a !== 'number' || !Number.isSafeInteger(a) || a < 0) throw invalid();
  return { since: s, issuedAt: t, page: { until: u, conversationId: c, after: a } };
}

/** Throws SYNC_TOKEN_EXPIRED for a token older than `ttlMs`: the client takes a fresh snapshot. */
export function assertFresh(token: SyncToken, ttlMs: number, now = Date.now()): void {
  if (now - token.issuedAt > ttlMs) throw new AppError('SYNC_TOKEN_EXPIRED', `Sync tokens are kept ${Math.round(ttlMs / 86_400_000)} days: take a fresh snapshot (GET /sync without since)`);
}
