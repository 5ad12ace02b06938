import { and, asc, desc, eq, getTableColumns, gt, inArray, lte, sql, type SQL } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { rowsOf } from '../../db/raw.js';
import type { UserChangeDraft } from '../users/user-log.js';
import { statusViews, statuses, users } from '../../db/schema.js';

export type StatusRecord = typeof statuses.$inferSelect;
export type NewStatus = Omit<StatusRecord, 'id' | 'createdAt'>;

/** Users who share a direct chat with `userId` and are not blocked by (nor blocking) them. */
const contactsOf = (userId: SQL | string) => sql`
  select other.user_id from conversation_members me
  join conversations c on c.id = me.conversation_id and c.kind = 'direct'
  join conversation_members other on other.conversation_id = me.conversation_id and other.user_id <> me.user_id
  where me.user_id = ${userId}
    and not exists (select 1 from user_blocks b where (b.blocker_id = me.user_id and b.blocked_id = other.user_id) or (b.blocker_id = other.user_id and b.blocked_id = me.user_id))`;

/** The audience rule of a status row `s` for `viewerId` (contacts are checked separately). */
const audienceAdmits = (viewerId: string) => sql`(
  ${statuses.audience} = 'contacts'
  or (${statuses.audience} = 'only' and ${statuses.audienceIds} @> jsonb_build_array(${viewerId}::text))
  or (${statuses.audience} = 'except' and not ${statuses.audienceIds} @> jsonb_build_array(${viewerId}::text)))`;

const live = gt(statuses.expiresAt, sql`now()`);

/** Statuses and their views. Reads walk (author_id, expires_at) for the caller's contacts only. */
export function createStatusRepository(db: Database) {
  const seenBy = (viewerId: string) => sql<boolean>`exists (select 1 from status_views v where v.status_id = ${statuses.id} and v.viewer_id = ${viewerId})`;

  /** A live status `viewerId` may see: their own, or a contact's that admits them. */
  const visibleTo = (viewerId: string) =>
    and(live, sql`(${statuses.authorId} = ${viewerId} or (${statuses.authorId} in (${contactsOf(viewerId)}) and ${audienceAdmits(viewerId)}))`);

  return {
    async insert(row: NewStatus, tx: Database = db): Promise<StatusRecord> {
      const [created] = await tx.insert(statuses).values(row).returning();
      return created!;
    },

    async findLive(ids: readonly string[]): Promise<StatusRecord[]> {
      return db.select().from(statuses).where(and(inArray(statuses.id, [...ids]), live));
    },

    async countLive(authorId: string): Promise<number> {
      const [row] = await db.select({ n: sql<number>`count(*)::int` }).from(statuses).where(and(eq(statuses.authorId, authorId), live));
      return row?.n ?? 0;
    },

    async findVisible(id: string, viewerId: string): Promise<StatusRecord | undefined> {
      const [row] = await db.select().from(statuses).where(and(eq(statuses.id, id), visibleTo(viewerId)));
      return row;
    },

    /** The contacts' live statuses the viewer may see, by author then time, with whether the viewer saw each. */
    feed(viewerId: string) {
      return db
        .select({ ...getTableColumns(statuses), seen: seenBy(viewerId), author: users })
        .from(statuses)
        .innerJoin(users, eq(users.id, statuses.authorId))
        .where(and(visibleTo(viewerId), sql`${statuses.authorId} <> ${viewerId}`))
        .orderBy(asc(statuses.authorId), asc(statuses.createdAt));
    },

    /** The author's live statuses with their view counts, oldest first. */
    mine(authorId: string) {
      return db
        .select({ ...getTableColumns(statuses), viewCount: sql<number>`(select count(*)::int from status_views v where v.status_id = ${statuses.id})` })
        .from(statuses)
        .where(and(eq(statuses.authorId, authorId), live))
        .orderBy(asc(statuses.createdAt));
    },

    async recordView(statusId: string, viewerId: string): Promise<void> {
      await db.insert(statusViews).values({ statusId, viewerId }).onConflictDoNothing();
    },

    /** Viewers newest first; `after` is the previous page's last (viewedAt, viewerId). */
    viewers(statusId: string, limit: number, after?: { at: Date; id: string }) {
      return db
        .select({ user: users, viewedAt: statusViews.viewedAt })
        .from(statusViews)
        .innerJoin(users, eq(users.id, statusViews.viewerId))
        .where(and(eq(statusViews.statusId, statusId), after ? sql`(${statusViews.viewedAt}, ${statusViews.viewerId}) < (${after.at.toISOString()}::timestamptz, ${after.id}::uuid)` : undefined))
        .orderBy(desc(statusViews.viewedAt), desc(statusViews.viewerId))
        .limit(limit + 1);
    },

    /** Everyone a status of `authorId` with this audience reaches right now (the author excluded). */
    async audience(status: Pick<StatusRecord, 'authorId' | 'audience' | 'audienceIds'>, tx: Database = db): Promise<string[]> {
      const rows = rowsOf<{ user_id: string }>(await tx.execute(contactsOf(status.authorId)));
      const ids = new Set(status.audienceIds);
      return rows
        .map((r) => String(r.user_id))
        .filter((id) => (status.audience === 'contacts' ? true : status.audience === 'only' ? ids.has(id) : !ids.has(id)));
    },

    async remove(id: string, tx: Database = db): Promise<StatusRecord | undefined> {
      const [row] = await tx.delete(statuses).where(eq(statuses.id, id)).returning();
      return row;
    },

    /**
     * Locks the users whose statuses or contacts a write changes, in id order: a post, a delete, a
     * block and a new direct chat of the same user queue, so the audience each computes (read after
     * the lock) is the audience its record holds.
     */
    async lockUsers(tx: Database, userIds: readonly string[]): Promise<void> {
      const ids = [...new Set(userIds)].sort();
      await tx.execute(sql`select id from users where id in (${sql.join(ids.map((id) => sql`${id}::uuid`), sql`, `)}) order by id for no key update`);
    },

    /** Who blocked `userId`. */
    async blockersOf(tx: Database, userId: string): Promise<string[]> {
      const rows = rowsOf<{ blocker_id: string }>(await tx.execute(sql`select blocker_id from user_blocks where blocked_id = ${userId}`));
      return rows.map((r) => String(r.blocker_id));
    },

    /** The author's live statuses, by id. */
    async liveIdsBy(tx: Database, authorId: string): Promise<string[]> {
      const rows = rowsOf<{ id: string }>(await tx.execute(sql`select id from statuses where author_id = ${authorId} and expires_at > now()`));
      return rows.map((r) => String(r.id));
    },

    /** The users whose logs hold a status as created (its audience when posted, as later contact changes left it). */
    async recordedAudience(tx: Database, statusId: string): Promise<string[]> {
      const rows = rowsOf<{ user_id: string }>(await tx.execute(sql`select user_id from user_changes where status_id = ${statusId}`));
      return rows.map((r) => String(r.user_id));
    },

    /**
     * After the contact between `a` and `b` changed (a block, an unblock, a first direct chat), the
     * changes their logs need: each live status of one that the other may now see and their log does
     * not hold yet (created), and each that their log holds and they may no longer see (deleted).
     */
    async contactChanged(tx: Database, a: string, b: string): Promise<UserChangeDraft[]> {
      const drafts: UserChangeDraft[] = [];
      for (const [author, viewer] of [[a, b], [b, a]] as const) {
        const rows = rowsOf<{ id: string; visible: boolean; held: boolean }>(
          await tx.execute(sql`
            select statuses.id, (${viewer}::uuid in (${contactsOf(author)}) and ${audienceAdmits(viewer)}) as visible,
              exists (select 1 from user_changes c where c.user_id = ${viewer} and c.status_id = statuses.id) as held
            from statuses where statuses.author_id = ${author} and statuses.expires_at > now()`),
        );
        for (const row of rows) {
          const key = `status:${row.id}`;
          if (row.visible && !row.held) drafts.push({ userId: viewer, key, type: 'status.created', statusId: row.id });
          if (!row.visible && row.held) drafts.push({ userId: viewer, key, type: 'status.deleted', data: { id: row.id, authorId: author } });
        }
      }
      return drafts;
    },

    /** Deletes up to `batch` expired statuses; returns them (their media may now be unused). */
    deleteExpired(batch: number): Promise<StatusRecord[]> {
      return db
        .delete(statuses)
        .where(sql`${statuses.id} in (select id from statuses where ${lte(statuses.expiresAt, sql`now()`)} limit ${batch})`)
        .returning();
    },

    /** Whether `viewerId` may see a live status that shows this media. */
    async showsMedia(mediaId: string, viewerId: string): Promise<boolean> {
      const [row] = await db.select({ id: statuses.id }).from(statuses).where(and(eq(statuses.mediaId, mediaId), visibleTo(viewerId))).limit(1);
      return row !== undefined;
    },
  };
}

export type StatusRepository = ReturnType<typeof createStatusRepository>;
