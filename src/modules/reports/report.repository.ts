import { and, desc, eq } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { reports } from '../../db/schema.js';
import { newId } from '../../lib/ids.js';
import { type TimePosition, below } from '../../lib/time-page.js';

export type ReportRow = typeof reports.$inferSelect;
export type ReportStatus = ReportRow['status'];

/** Abuse reports; the queue walks (status, created_at desc, id desc). */
export function createReportRepository(db: Database) {
  return {
    async create(values: { reporterId: string; messageId: string | null; targetUserId: string | null; messageBody: string | null; reason: string }): Promise<ReportRow> {
      const [row] = await db.insert(reports).values({ id: newId(), ...values, createdAt: new Date() }).returning();
      return row!;
    },

    async findById(id: string): Promise<ReportRow | undefined> {
      const [row] = await db.select().from(reports).where(eq(reports.id, id));
      return row;
    },

    async list(status: ReportStatus, limit: number, after?: TimePosition): Promise<ReportRow[]> {
      return db
        .select()
        .from(reports)
        .where(and(eq(reports.status, status), below(reports.createdAt, reports.id, after)))
        .orderBy(desc(reports.createdAt), desc(reports.id))
        .limit(limit + 1);
    },

    /** Closes an open report; undefined when it was already closed (a concurrent action won). */
    async resolve(id: string, values: { status: Exclude<ReportStatus, 'open'>; action: string; resolvedBy: string }): Promise<ReportRow | undefined> {
      const [row] = await db
        .update(reports)
        .set({ ...values, resolvedAt: new Date() })
        .where(and(eq(reports.id, id), eq(reports.status, 'open')))
        .returning();
      return row;
    },
  };
}

export type ReportRepository = ReturnType<typeof createReportRepository>;
