import { sql } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { rowsOf, toNumber } from '../../db/raw.js';

/** The kinds of change a user's own log records (see user_changes). */
export type UserEventType = 'user.blocked' | 'user.unblocked' | 'status.created' | 'status.deleted' | 'announcement.read';

/** A change to record in `userId`'s log: what changed (`key`), its event, and for status.created the status (rendered when read). */
export interface UserChangeDraft {
  userId: string;
  key: string;
  type: UserEventType;
  data?: unknown;
  statusId?: string | null;
}

export interface UserChange extends UserChangeDraft {
  seq: number;
}

/**
 * What a contact change (a block, an unblock, a first direct chat) does to who sees whose status
 * updates, in the transaction that changed it; `publish` after the commit. StatusService implements it.
 */
export interface ContactChanges {
  /** `first`: changes recorded before the ones about statuses (the block itself). */
  contactChanged(tx: Database, a: string, b: string, first?: readonly UserChangeDraft[]): Promise<UserChange[]>;
  publish(changes: readonly UserChange[]): void;
}

/**
 * Each user's own log (user_logs, user_changes): changes that concern one user and no conversation.
 * Written inside the caller's transaction by `record`, which takes the next seqs of each user's
 * counter (locked until commit, so seq order is commit order, as in a conversation's log) and keeps
 * one row per key at its latest seq. Rows about a status go with the status; tombstones are swept
 * once older than the token lifetime.
 */
export function createUserLog(db: Database) {
  return {
    /**
     * Records the drafts with the next seqs of their users' logs, in draft order per user. At most one
     * draft per (user, key). Counters are locked in user id order, so two writers never wait on each
     * other in opposite orders.
     */
    async record(tx: Database, drafts: readonly UserChangeDraft[]): Promise<UserChange[]> {
      if (drafts.length === 0) return [];
      const counts = new Map<string, number>();
      for (const draft of drafts) counts.set(draft.userId, (counts.get(draft.userId) ?? 0) + 1);
      const users = [...counts.keys()].sort();
      const bumped = rowsOf<{ user_id: string; last_seq: unknown }>(
        await tx.execute(sql`
          insert into user_logs as l (user_id, last_seq)
          select r.user_id, r.n from jsonb_to_recordset(${JSON.stringify(users.map((id) => ({ user_id: id, n: counts.get(id) })))}::jsonb) as r(user_id uuid, n bigint)
          order by r.user_id
          on conflict (user_id) do update set last_seq = l.last_seq + excluded.last_seq, last_xid = pg_current_xact_id()
          returning l.user_id, l.last_seq`),
      );
      const next = new Map(bumped.map((row) => [String(row.user_id), toNumber(row.last_seq) - counts.get(String(row.user_id))! + 1]));
      const recorded = drafts.map((draft): UserChange => {
        const seq = next.get(draft.userId)!;
        next.set(draft.userId, seq + 1);
        return { ...draft, seq };
      });
      const rows = recorded.map((c) => ({ user_id: c.userId, key: c.key, seq: c.seq, type: c.type, data: c.data ?? null, status_id: c.statusId ?? null }));
      await tx.execute(sql`
        insert into user_changes as c (user_id, key, seq, type, data, status_id, changed_at)
        select r.user_id, r.key, r.seq, r.type, r.data, r.status_id, now()
        from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as r(user_id uuid, key text, seq bigint, type text, data jsonb, status_id uuid)
        on conflict (user_id, key) do update set seq = excluded.seq, type = excluded.type, data = excluded.data, status_id = excluded.status_id,
          changed_at = excluded.changed_at, xid = pg_current_xact_id()`);
      return recorded;
    },

    /** Deletes a user's whole log (their account is erased). */
    async forget(tx: Database, userId: string): Promise<void> {
      await tx.execute(sql`delete from user_changes where user_id = ${userId}`);
      await tx.execute(sql`delete from user_logs where user_id = ${userId}`);
    },

    /** The last seq of the user's log (0 before its first change). */
    async head(userId: string): Promise<number> {
      const [row] = rowsOf<{ last_seq: unknown }>(await db.execute(sql`select last_seq from user_logs where user_id = ${userId}`));
      return row ? toNumber(row.last_seq) : 0;
    },

    /**
     * The log after `after`, ascending, at most `limit` rows, with the statuses of status.created rows
     * (null once expired). `upTo`: every seq at or below it is settled (the head read before the rows,
     * or the last row of a full page). `visibleIn`: only rows this snapshot sees.
     */
    async page(input: { userId: string; after: number; limit: number; visibleIn?: string }) {
      const head = await this.head(input.userId);
      if (head <= input.after) return { rows: [] as UserChange[], upTo: Math.max(head, input.after), more: false };
      const rows = rowsOf<{ seq: unknown; key: string; type: string; data: unknown; status_id: string | null; live: boolean | null }>(
        await db.execute(sql`
          select c.seq, c.key, c.type, c.data, c.status_id, s.expires_at > now() as live
          from user_changes c left join statuses s on s.id = c.status_id
          where c.user_id = ${input.userId} and c.seq > ${input.after} and c.seq <= ${head}
            ${input.visibleIn === undefined ? sql`` : sql`and (c.xid is null or pg_visible_in_snapshot(c.xid, ${input.visibleIn}::pg_snapshot))`}
          order by c.seq limit ${input.limit + 1}`),
      );
      const more = rows.length > input.limit;
      const changes = rows
        .slice(0, input.limit)
        .filter((r) => r.status_id === null || r.live === true)
        .map((r): UserChange => ({ userId: input.userId, seq: toNumber(r.seq), key: r.key, type: r.type as UserEventType, data: r.data, statusId: r.status_id }));
      const upTo = more ? toNumber(rows[input.limit - 1]!.seq) : head;
      return { rows: changes, upTo, more };
    },

    /** Whether the log moved after `since`, and where `since` stood in it: the highest seq the snapshot sees (0 when none). */
    async position(userId: string, since: string): Promise<{ changed: boolean; position: number }> {
      const [row] = rowsOf<{ changed: boolean; position: unknown }>(
        await db.execute(sql`
          select l.last_xid is not null and not pg_visible_in_snapshot(l.last_xid, ${since}::pg_snapshot) as changed,
            coalesce((select c.seq from user_changes c where c.user_id = l.user_id
               and (c.xid is null or pg_visible_in_snapshot(c.xid, ${since}::pg_snapshot)) order by c.seq desc limit 1), 0) as position
          from user_logs l where l.user_id = ${userId}`),
      );
      return row ? { changed: row.changed === true, position: toNumber(row.position) } : { changed: false, position: 0 };
    },

    /**
     * Deletes up to `batch` tombstones (status.deleted, user.unblocked: the partial index's predicate)
     * written before `before`, which every sync token still accepted sees; returns how many went.
     */
    async sweepTombstones(before: Date, batch: number): Promise<number> {
      const rows = rowsOf(
        await db.execute(sql`
          delete from user_changes where (user_id, key) in (
            select user_id, key from user_changes
            where type in ('status.deleted', 'user.unblocked') and changed_at < ${before.toISOString()}::timestamptz limit ${batch})
          returning 1`),
      );
      return rows.length;
    },
  };
}

export type UserLog = ReturnType<typeof createUserLog>;
