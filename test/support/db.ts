import { createHmac } from 'node:crypto';
import { count, eq, sql } from 'drizzle-orm';
import type { App } from '../../src/app.js';
import { otpChallenges, users } from '../../src/db/schema.js';

/*
 * Reads and test-setup writes on the app's real database (Postgres or PGlite), through drizzle and
 * the app's own schema: no service is bypassed for what a test asserts, only for what it arranges.
 */

export type UserDbRow = typeof users.$inferSelect;
export type ChallengeDbRow = typeof otpChallenges.$inferSelect;

export async function userRow(app: App, id: string): Promise<UserDbRow | undefined> {
  const [row] = await app.db.select().from(users).where(eq(users.id, id));
  return row;
}

/** How many rows hold this username (case-insensitively), so a test can see nothing was left behind. */
export async function usersNamed(app: App, username: string): Promise<number> {
  const [row] = await app.db.select({ n: count() }).from(users).where(sql`lower(${users.username}) = ${username.toLowerCase()}`);
  return Number(row?.n ?? 0);
}

export async function setUserStatus(app: App, id: string, status: 'active' | 'banned'): Promise<void> {
  await app.db.update(users).set({ status, bannedAt: status === 'banned' ? new Date() : null }).where(eq(users.id, id));
}

export async function challengeRow(app: App, id: string): Promise<ChallengeDbRow | undefined> {
  const [row] = await app.db.select().from(otpChallenges).where(eq(otpChallenges.id, id));
  return row;
}

/** Moves a challenge's expiry into the past (test setup: the clock is not waited out). */
export async function expireChallenge(app: App, id: string): Promise<void> {
  await app.db.update(otpChallenges).set({ expiresAt: new Date(Date.now() - 60_000) }).where(eq(otpChallenges.id, id));
}

/** The parameters of a stored `$argon2id$v=19$m=..,t=..,p=..$salt$hash` (the library may order m, t, p differently). */
export function argon2Params(hash: string): { type: string; version: number; m: number; t: number; p: number } | undefined {
  const match = /^\$(argon2(?:id|i|d))\$v=(\d+)\$([a-z]=\d+(?:,[a-z]=\d+)*)\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/.exec(hash);
  if (!match) return undefined;
  const params = Object.fromEntries(match[3]!.split(',').map((pair) => [pair[0]!, Number(pair.slice(2))]));
  if (params.m === undefined || params.t === undefined || params.p === undefined) return undefined;
  return { type: match[1]!, version: Number(match[2]), m: params.m, t: params.t, p: params.p };
}

/**
 * The code a stored challenge was issued with, found by trying all 10^6 codes against its keyed hash
 * (`app.otpSecret`). Lets a test answer a challenge whose code was never sent (a decoy) with the
 * very code it holds, so "never verifies" is shown with the right code rather than a guess.
 */
export async function recoverCode(app: App, challengeId: string): Promise<string> {
  const row = await challengeRow(app, challengeId);
  if (!row) throw new Error(`no challenge ${challengeId}`);
  for (let n = 0; n < 1_000_000; n++) {
    const code = String(n).padStart(6, '0');
    if (createHmac('sha256', app.otpSecret).update(`${challengeId}:${code}`).digest('hex') === row.codeHash) return code;
  }
  throw new Error(`no 6-digit code matches challenge ${challengeId}`);
}
