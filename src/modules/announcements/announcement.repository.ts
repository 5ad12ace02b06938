import { and, asc, desc, eq, gt, isNotNull, isNull, lte, or, sql } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { rowsOf, toNumber } from '../../db/raw.js';
import { announcementReads, announcements } from '../../db/schema.js';
import { newId } from '../../lib/ids.js';
import { type TimePosition, below } from '../../lib/time-page.js';

export type AnnouncementRow = typeof announcements.$inferSelect;

const active = (at: Date) =>
  and(isNull(announcements.withdrawnAt), lte(announcements.startsAt, at), or(isNull(announcements.endsAt), gt(announcements.endsAt, at)));

/**
 * Announcements, newest start first by (starts_at, id); reads keyed by (user, announcement). The
 * announcements log: an announcement takes the next seq of `announcement_log` (locked until commit,
 * so seq order is commit order) when it is announced and at each later change; its row is its one
 * entry in the log, at its latest seq.
 */
export function createAnnouncementRepository(db: Database) {
  /** Gives `rows` (announced, in this transaction) the log's next seqs, in order. */
  async function sequence(tx: Database, rows: AnnouncementRow[]): Promise<AnnouncementRow[]> {
    if (rows.length === 0) return [];
    const [log] = rowsOf<{ last_seq: unknown }>(
      await tx.execute(sql`update announcement_log set last_seq = last_seq + ${rows.length}, last_xid = pg_current_xact_id() returning last_seq`),
    );
    const first = toNumber(log!.last_seq) - rows.length + 1;
    const sequenced = [];
    for (const [index, row] of rows.entries()) {
      const [updated] = await tx.update(announcements).set({ seq: first + index, xid: sql`pg_current_xact_id()` }).where(eq(announcements.id, row.id)).returning();
      sequenced.push(updated!);
    }
    return sequenced;
  }

  /** Locks the log's counter first: every writer of the log queues there before touching announcements. */
  const lockLog = (tx: Database) => tx.execute(sql`select last_seq from announcement_log for update`);

  return {
    /** Creates it; one announced at once (active now) is in the log in the same transaction. */
    async create(values: { title: string; body: string; startsAt: Date; endsAt: Date | null; announcedAt: Date | null; createdBy: string }): Promise<AnnouncementRow> {
      const at = new Date();
      return db.transaction(async (tx) => {
        if (values.announcedAt) await lockLog(tx);
        const [row] = await tx.insert(announcements).values({ id: newId(), ...values, createdAt: at, updatedAt: at }).returning();
        return values.announcedAt ? (await sequence(tx, [row!]))[0]! : row!;
      });
    },

    async findById(id: string): Promise<AnnouncementRow | undefined> {
      const [row] = await db.select().from(announcements).where(eq(announcements.id, id));
      return row;
    },

    async findActive(id: string): Promise<AnnouncementRow | undefined> {
      const [row] = await db.select().from(announcements).where(and(eq(announcements.id, id), active(new Date())));
      return row;
    },

    /**
     * Changes it, and keeps the log right: one announced moves to the log's next seq with the change;
     * one moved to a later start is also un-announced (the sweeper announces it again when it starts);
     * one that is active now and was never announced is announced at once.
     */
    async update(id: string, patch: Partial<Pick<AnnouncementRow, 'title' | 'body' | 'startsAt' | 'endsAt' | 'withdrawnAt'>>): Promise<AnnouncementRow | undefined> {
      return db.transaction(async (tx) => {
        await lockLog(tx);
        const at = new Date();
        const [current] = await tx.select().from(announcements).where(eq(announcements.id, id));
        if (!current) return undefined;
        const next = { ...current, ...patch };
        const activeNow = next.withdrawnAt === null && next.startsAt.getTime() <= at.getTime() && (next.endsAt === null || next.endsAt.getTime() > at.getTime());
        const announcedAt = next.withdrawnAt === null && next.startsAt.getTime() > at.getTime() ? null : activeNow && !current.announcedAt ? at : current.announcedAt;
        const [row] = await tx.update(announcements).set({ ...patch, announcedAt, updatedAt: at }).where(eq(announcements.id, id)).returning();
        // In the log if it was or now is announced (a reader drops it, or takes the new version).
        return current.announcedAt || announcedAt ? (await sequence(tx, [row!]))[0] : row;
      });
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
      return db.transaction(async (tx) => {
        await lockLog(tx);
        const claimed = await tx
          .update(announcements)
          .set({ announcedAt: at })
          .where(and(isNull(announcements.announcedAt), active(at)))
          .returning();
        return sequence(tx, claimed.sort((a, b) => a.startsAt.getTime() - b.startsAt.getTime() || a.id.localeCompare(b.id)));
      });
    },

    /** Records a read once (in the caller's transaction); true for the first, which moves readCount. */
    async markRead(announcementId: string, userId: string, tx: Database): Promise<boolean> {
      const inserted = await tx.insert(announcementReads).values({ announcementId, userId, readAt: new Date() }).onConflictDoNothing().returning({ id: announcementReads.announcementId });
      if (inserted.length > 0) await tx.update(announcements).set({ readCount: sql`${announcements.readCount} + 1` }).where(eq(announcements.id, announcementId));
      return inserted.length > 0;
    },

    /** The log's last seq. */
    async head(): Promise<number> {
      const [row] = rowsOf<{ last_seq: unknown }>(await db.execute(sql`select last_seq from announcement_log`));
      return row ? toNumber(row.last_seq) : 0;
    },

    /** The log after `after` (see UserLog.page for `upTo` and `visibleIn`): the announcements whose latest change is there, in seq order. */
    async page(input: { after: number; limit: number; visibleIn?: string }): Promise<{ rows: AnnouncementRow[]; upTo: number; more: boolean }> {
      const head = await this.head();
      if (head <= input.after) return { rows: [], upTo: Math.max(head, input.after), more: false };
      const rows = await db
        .select()
        .from(announcements)
        .where(
          and(
            gt(announcements.seq, input.after),
            lte(announcements.seq, head),
            input.visibleIn === undefined ? undefined : sql`(${announcements.xid} is null or pg_visible_in_snapshot(${announcements.xid}, ${input.visibleIn}::pg_snapshot))`,
          ),
        )
        .orderBy(asc(announcements.seq))
        .limit(input.limit + 1);
      const more = rows.length > input.limit;
      return { rows: rows.slice(0, input.limit), upTo: more ? rows[input.limit - 1]!.seq! : head, more };
    },

    /** Whether the log moved after `since`, and where `since` stood in it (see UserLog.position). */
    async position(since: string): Promise<{ changed: boolean; position: number }> {
      const [row] = rowsOf<{ changed: boolean; position: unknown }>(
        await db.execute(sql`
          select l.last_xid is not null and not pg_visible_in_snapshot(l.last_xid, ${since}::pg_snapshot) as changed,
            coalesce((select a.seq from announcements a where a.seq is not null
               and (a.xid is null or pg_visible_in_snapshot(a.xid, ${since}::pg_snapshot)) order by a.seq desc limit 1), 0) as position
          from announcement_log l`),
      );
      return row ? { changed: row.changed === true, position: toNumber(row.position) } : { changed: false, position: 0 };
    },
  };
}

export type AnnouncementRepository = ReturnType<typeof createAnnouncementRepository>;
