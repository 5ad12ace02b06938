import { and, eq, gt, isNull, sql } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { otpChallenges } from '../../db/schema.js';

export type OtpChallengeRow = typeof otpChallenges.$inferSelect;
export type NewOtpChallengeRow = typeof otpChallenges.$inferInsert;

export function createOtpRepository(db: Database) {
  return {
    async insert(values: NewOtpChallengeRow, tx: Database = db): Promise<OtpChallengeRow> {
      const [row] = await tx.insert(otpChallenges).values(values).returning();
      return row!;
    },

    async findById(id: string): Promise<OtpChallengeRow | undefined> {
      const [row] = await db.select().from(otpChallenges).where(eq(otpChallenges.id, id));
      return row;
    },

    /** Codes sent to a destination, or requested from a client address, since `since` (both indexed). */
    async countSends(by: 'destination' | 'ip', value: string, since: Date, tx: Database = db): Promise<number> {
      const column = by === 'destination' ? otpChallenges.destination : otpChallenges.ip;
      const [row] = await tx
        .select({ sends: sql<number>`coalesce(sum(${otpChallenges.sendCount}), 0)::int` })
        .from(otpChallenges)
        .where(and(eq(column, value), gt(otpChallenges.createdAt, since)));
      return row?.sends ?? 0;
    },

    /** Codes sent to a destination at the request of one client address since `since`. */
    async countSendsFrom(destination: string, ip: string | null, since: Date, tx: Database = db): Promise<number> {
      const [row] = await tx
        .select({ sends: sql<number>`coalesce(sum(${otpChallenges.sendCount}), 0)::int` })
        .from(otpChallenges)
        .where(and(eq(otpChallenges.destination, destination), ip === null ? isNull(otpChallenges.ip) : eq(otpChallenges.ip, ip), gt(otpChallenges.createdAt, since)));
      return row?.sends ?? 0;
    },

    /** Counts one verification try, atomically; returns the row as it is after the increment. */
    async recordAttempt(id: string): Promise<OtpChallengeRow | undefined> {
      const [row] = await db
        .update(otpChallenges)
        .set({ attempts: sql`${otpChallenges.attempts} + 1` })
        .where(and(eq(otpChallenges.id, id), isNull(otpChallenges.consumedAt)))
        .returning();
      return row;
    },

    /** Consumes the challenge once; false when someone else consumed it first. */
    async consume(id: string, tx: Database = db): Promise<boolean> {
      const rows = await tx
        .update(otpChallenges)
        .set({ consumedAt: new Date() })
        .where(and(eq(otpChallenges.id, id), isNull(otpChallenges.consumedAt)))
        .returning({ id: otpChallenges.id });
      return rows.length > 0;
    },

    /** A new code for a resend: new hash, new expiry, one more send. */
    async replaceCode(id: string, codeHash: string, expiresAt: Date): Promise<OtpChallengeRow | undefined> {
      const [row] = await db
        .update(otpChallenges)
        .set({ codeHash, expiresAt, lastSentAt: new Date(), sendCount: sql`${otpChallenges.sendCount} + 1` })
        .where(and(eq(otpChallenges.id, id), isNull(otpChallenges.consumedAt)))
        .returning();
      return row;
    },
  };
}

export type OtpRepository = ReturnType<typeof createOtpRepository>;
