import { and, eq, inArray, isNull, lt, sql } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { arrayLiteral, rowsOf, toNumber } from '../../db/raw.js';
import { media, mediaUsage } from '../../db/schema.js';

export type MediaRecord = typeof media.$inferSelect;
export type NewMedia = Omit<MediaRecord, 'createdAt' | 'attachedAt' | 'public'>;

/** Media rows and each owner's stored bytes; every read is by primary key or a bounded index range. */
export function createMediaRepository(db: Database) {
  return {
    /**
     * Inserts the media row and adds its size to the owner's usage in one transaction, unless that
     * would pass `quotaBytes`: then nothing is written and the answer is false.
     */
    async insertWithinQuota(row: NewMedia, quotaBytes: number): Promise<boolean> {
      return db.transaction(async (tx) => {
        const [usage] = rowsOf<{ bytes: unknown }>(
          await tx.execute(sql`
            insert into media_usage (user_id, bytes) values (${row.ownerId}, ${row.size})
            on conflict (user_id) do update set bytes = media_usage.bytes + excluded.bytes
            returning bytes`),
        );
        if (!usage || toNumber(usage.bytes) > quotaBytes) {
          tx.rollback();
        }
        await tx.insert(media).values(row);
        return true;
      }).catch((error: unknown) => {
        if ((error as Error)?.name === 'TransactionRollbackError') return false;
        throw error;
      });
    },

    async findById(id: string): Promise<MediaRecord | undefined> {
      const [row] = await db.select().from(media).where(eq(media.id, id));
      return row;
    },

    async findOwned(ownerId: string, ids: string[]): Promise<MediaRecord[]> {
      if (ids.length === 0) return [];
      return db.select().from(media).where(and(eq(media.ownerId, ownerId), inArray(media.id, ids)));
    },

    async findMany(ids: string[]): Promise<MediaRecord[]> {
      if (ids.length === 0) return [];
      return db.select().from(media).where(inArray(media.id, ids));
    },

    /** Not an avatar, not attached to any message or ticket, not shown by any status: nothing can reach it any more. */
    async isUnused(id: string): Promise<boolean> {
      const rows = rowsOf(
        await db.execute(sql`
          select 1 from media md where md.id = ${id} and not md.public
            and not exists (select 1 from messages m where m.attachments @> ${JSON.stringify([{ id }])}::jsonb and m.attachments <> '[]'::jsonb)
            and not exists (select 1 from statuses s where s.media_id = md.id)
            and not exists (select 1 from feedback_tickets f where f.attachments @> ${JSON.stringify([{ id }])}::jsonb and f.attachments <> '[]'::jsonb)`),
      );
      return rows.length > 0;
    },

    /**
     * Whether a signed link to this media may still be served: it is not attached yet (only its
     * uploader has links), an avatar, on a live message (not deleted for everyone, not expired), shown
     * by a live status, or on a ticket. Anything that took it away (a delete for everyone, an expired
     * status) ends its links too.
     */
    async linkable(id: string): Promise<boolean> {
      const carries = sql`@> ${JSON.stringify([{ id }])}::jsonb`;
      const rows = rowsOf(
        await db.execute(sql`
          select 1 from media md where md.id = ${id} and (md.attached_at is null or md.public
            or exists (select 1 from messages m where m.attachments ${carries} and m.attachments <> '[]'::jsonb
              and m.deleted_at is null and (m.expires_at is null or m.expires_at > now()))
            or exists (select 1 from statuses s where s.media_id = md.id and s.expires_at > now())
            or exists (select 1 from feedback_tickets f where f.attachments ${carries} and f.attachments <> '[]'::jsonb))`),
      );
      return rows.length > 0;
    },

    async usage(userId: string): Promise<number> {
      const [row] = await db.select({ bytes: mediaUsage.bytes }).from(mediaUsage).where(eq(mediaUsage.userId, userId));
      return row?.bytes ?? 0;
    },

    /** Marks media as used (no longer an orphan candidate); `public` makes it readable by any signed-in user. */
    async markAttached(ids: string[], options: { public?: boolean } = {}): Promise<void> {
      if (ids.length === 0) return;
      await db
        .update(media)
        .set({ attachedAt: sql`coalesce(${media.attachedAt}, now())`, ...(options.public ? { public: true } : {}) })
        .where(inArray(media.id, ids));
    },

    /**
     * Whether `viewerId` can see a live message carrying this media in a conversation they are or
     * were in, within their membership window and not hidden by them. Uses the GIN index on
     * messages.attachments.
     */
    async sentTo(mediaId: string, viewerId: string): Promise<boolean> {
      const rows = rowsOf(
        await db.execute(sql`
          select 1 from messages m
          join conversation_members cm on cm.conversation_id = m.conversation_id and cm.user_id = ${viewerId}
          where m.attachments @> ${JSON.stringify([{ id: mediaId }])}::jsonb and m.attachments <> '[]'::jsonb
            and m.deleted_at is null and (m.expires_at is null or m.expires_at > now())
            and m.seq > greatest(cm.joined_seq, cm.cleared_seq) and (cm.left_seq is null or m.seq <= cm.left_seq)
            and not exists (select 1 from message_hides h where h.user_id = ${viewerId} and h.message_id = m.id)
          limit 1`),
      );
      return rows.length > 0;
    },

    /** Up to `batch` media of one owner (oldest first): for removing everything a deleted account uploaded. */
    ownedBy(ownerId: string, batch: number): Promise<MediaRecord[]> {
      return db.select().from(media).where(eq(media.ownerId, ownerId)).orderBy(media.createdAt).limit(batch);
    },

    /**
     * Takes these media out of every message that carries them (the sender's and forwards alike) and
     * off every conversation avatar that shows them (`paths`: their URL paths), before their bytes go.
     * Each id is matched with `@>`, so the GIN index on messages.attachments finds the rows.
     */
    async detach(ids: string[], paths: string[]): Promise<void> {
      if (ids.length === 0) return;
      const carries = sql.join(ids.map((id) => sql`m.attachments @> ${JSON.stringify([{ id }])}::jsonb`), sql` or `);
      await db.execute(sql`
        update messages m set attachments = coalesce((
          select jsonb_agg(a order by n) from jsonb_array_elements(m.attachments) with ordinality as x(a, n)
          where not (a->>'id' = any(${arrayLiteral(ids)}::text[]))
        ), '[]'::jsonb)
        where m.attachments <> '[]'::jsonb and (${carries})`);
      await db.execute(sql`update conversations set avatar_url = null where avatar_url = any(${arrayLiteral(paths)}::text[])`);
    },

    /** Up to `batch` media never attached and created before `cutoff`. */
    orphans(cutoff: Date, batch: number): Promise<MediaRecord[]> {
      return db.select().from(media).where(and(isNull(media.attachedAt), lt(media.createdAt, cutoff))).orderBy(media.createdAt).limit(batch);
    },

    /** Deletes one media row (if still an orphan when `onlyOrphan`) and gives its bytes back to the owner's usage. */
    async remove(id: string, onlyOrphan: boolean): Promise<MediaRecord | undefined> {
      return db.transaction(async (tx) => {
        const [row] = await tx
          .delete(media)
          .where(and(eq(media.id, id), onlyOrphan ? isNull(media.attachedAt) : undefined))
          .returning();
        if (row) await tx.update(mediaUsage).set({ bytes: sql`greatest(${mediaUsage.bytes} - ${row.size}, 0)` }).where(eq(mediaUsage.userId, row.ownerId));
        return row;
      });
    },
  };
}

export type MediaRepository = ReturnType<typeof createMediaRepository>;
