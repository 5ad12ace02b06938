import { and, desc, eq, gt, isNotNull, isNull, lte, or, sql } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { announcementReads, announcements } from '../../db/schema.js';
import { newId } from '../../lib/ids.js';
import { type TimePosition, below } from '../../lib/time-page.js';

export type AnnouncementRow = typeof announcements.$inferSelect;

const active = (at: Date) =>
  and(isNull(announcements.withdrawnAt), lte(announcements.startsAt, at), or(isNull(announcements.endsAt), gt(announcements.endsAt, at)));

/** Announcements, newest start first by (starts_at, id); reads keyed by (user, announcement). */
export function createAnnouncementRepository(db: Database) {
  return {
    async create(values: { title: string; body: string; startsAt: Date; endsAt: Date | null; announcedAt: Date | null; createdBy: string }): Promise<AnnouncementRow> {
      const at = new Date();
      const [row] = await db.insert(announcements).values({ id: newId(), ...values, createdAt: at, updatedAt: at }).returning();
      return row!;
    },

    async findById(id: string): Promise<AnnouncementRow | undefined> {
      const [row] = await db.select().from(announcements).where(eq(announcements.id, id));
      return row;
    },

    async findActive(id: string): Promise<AnnouncementRow | undefined> {
      const [row] = await db.select().from(announcements).where(and(eq(announcements.id, id), active(new Date())));
      return row;
    },

    async update(id: string, patch: Partial<Pick<AnnouncementRow, 'title' | 'body' | 'startsAt' | 'endsAt' | 'withdrawnAt'>>): Promise<AnnouncementRow | undefined> {
      const [row] = await db.update(announcements).set({ ...patch, updatedAt: new Date() }).where(eq(announcements.id, id)).returning();
      return row;
    },

    /** The active ones for a user, with whether they read each. */
    async listActive(userId: string, limit: number, after?: TimePosition) {
      return db
        .select({ announcement: announcements, readAt: announcementReads.readAt })
        .from(announcements)
        .leftJoin(announcementReads, and(eq(announcementReads.announcementId, announcements.id), eq(announcementReads.userId, userId)))
        .where(and(active(new Date()), below(announcements.startsAt, announcements.id, after)))
        .orderBy(desc(announcements.startsAt), desc(announcements.id))
        .limit(limit + 1);
    },

    async list(state: 'all' | 'active' | 'withdrawn', limit: number, after?: TimePosition): Promise<AnnouncementRow[]> {
      const filter = state === 'active' ? active(new Date()) : state === 'withdrawn' ? isNotNull(announcements.withdrawnAt) : undefined;
      return db
        .select()
        .from(announcements)
        .where(and(filter, below(announcements.startsAt, announcements.id, after)))
        .orderBy(desc(announcements.startsAt), desc(announcements.id))
        .limit(limit + 1);
    },

    /**
     * Marks the scheduled announcements that have started (and not ended) as announced and returns
     * them. One UPDATE: when every instance's sweeper asks at once, each row goes to exactly one.
     */
    async claimDue(): Promise<AnnouncementRow[]> {
      const at = new Date();
      return db
        .update(announcements)
        .set({ announcedAt: at })
        .where(and(isNull(announcements.announcedAt), active(at)))
        .returning();
    },

    /** Records a read once; the announcement's readCount moves only for the first. */
    async markRead(announcementId: string, userId: string): Promise<void> {
      await db.transaction(async (tx) => {
        const inserted = await tx.insert(announcementReads).values({ announcementId, userId, readAt: new Date() }).onConflictDoNothing().returning({ id: announcementReads.announcementId });
        if (inserted.length > 0) await tx.update(announcements).set({ readCount: sql`${announcements.readCount} + 1` }).where(eq(announcements.id, announcementId));
      });
    },
  };
}

export type AnnouncementRepository = ReturnType<typeof createAnnouncementRepository>;
