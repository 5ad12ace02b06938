import { sql } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { rowsOf, toNumber } from '../../db/raw.js';

/** A membership whose conversation changed after a snapshot. */
export interface ChangedMembership {
  conversationId: string;
  /** The member's window: seqs in (lower, upper] (upper: where they left, or the log's end); `joined`: where it began (below lower after a clear). */
  joined: number;
  lower: number;
  upper: number;
  /** The membership itself is newer than the snapshot (created, added, rejoined). */
  joinedSinceToken: boolean;
}

/**
 * Reads of the sync: which of a user's conversations changed after a snapshot, and from which seq.
 *
 * Why a snapshot works as a position: every write to a conversation's log takes its seq under the
 * conversation's row lock and commits before the next seq is taken, so in each conversation the rows
 * a snapshot does not see are exactly those above some seq. Each log row (message, change, the
 * conversation's last bump, a membership) stores the transaction that wrote it (`xid`, xid8, set by
 * default or on update); rows older than the column (NULL) are seen by every snapshot.
 */
export function createSyncRepository(db: Database) {
  return {
    /** The database's current snapshot, as text. */
    async currentSnapshot(): Promise<string> {
      const [row] = rowsOf<{ snapshot: string }>(await db.execute(sql`select pg_current_snapshot()::text as snapshot`));
      return String(row!.snapshot);
    },

    /**
     * Which history this database is on: its system identifier and timeline. A promoted replica or a
     * point-in-time restore starts a new timeline (its commit history forks there), a restore into a
     * new cluster has a new identifier: tokens from before name another history.
     */
    async origin(): Promise<string> {
      const [row] = rowsOf<{ origin: string }>(
        // The timeline from the current WAL file name: pg_control_checkpoint() lags a promotion until its first checkpoint.
        await db.execute(sql`select (select system_identifier::text from pg_control_system()) || ':' || ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int as origin`),
      );
      return String(row!.origin);
    },

    /** Whether `snapshot` could have been taken by this database: not ahead of what it has handed out. */
    async isKnown(snapshot: string): Promise<boolean> {
      const [row] = rowsOf<{ known: boolean }>(
        await db.execute(sql`select pg_snapshot_xmax(${snapshot}::pg_snapshot) <= pg_snapshot_xmax(pg_current_snapshot()) as known`),
      );
      return row?.known === true;
    },

    /**
     * The user's memberships whose conversation's log moved after `since`, from `fromConversation` on
     * in id order, at most `limit`: current ones, and former ones that ended after `since` (older
     * leaves have nothing left to give). Unchanged conversations cost one row of the membership index.
     */
    async changedMemberships(input: { userId: string; since: string; fromConversation?: string; limit: number }): Promise<ChangedMembership[]> {
      const rows = rowsOf<Record<string, unknown>>(
        await db.execute(sql`
          select m.conversation_id, m.joined_seq, greatest(m.joined_seq, m.cleared_seq) as lower, coalesce(m.left_seq, c.last_seq) as upper,
            m.joined_xid is not null and not pg_visible_in_snapshot(m.joined_xid, ${input.since}::pg_snapshot) as joined_since
          from conversation_members m join conversations c on c.id = m.conversation_id
          where m.user_id = ${input.userId}
            and c.last_xid is not null and not pg_visible_in_snapshot(c.last_xid, ${input.since}::pg_snapshot)
            and (m.left_seq is null or (m.left_xid is not null and not pg_visible_in_snapshot(m.left_xid, ${input.since}::pg_snapshot)))
            ${input.fromConversation ? sql`and m.conversation_id >= ${input.fromConversation}::uuid` : sql``}
          order by m.conversation_id
          limit ${input.limit}`),
      );
      return rows.map((r) => ({
        conversationId: String(r.conversation_id),
        joined: toNumber(r.joined_seq),
        lower: toNumber(r.lower),
        upper: toNumber(r.upper),
        joinedSinceToken: r.joined_since === true,
      }));
    },

    /**
     * Where `since` stood in a conversation, within (floor, upper]: the highest seq of its log that
     * the snapshot sees (floor when none). One backward walk per log on (conversation_id, seq), over
     * what is new to the snapshot only, and never below the floor.
     */
    async position(input: { conversationId: string; since: string; floor: number; upper: number }): Promise<number> {
      const [row] = rowsOf<{ position: unknown }>(
        await db.execute(sql`
          select greatest(${input.floor}::bigint,
            (select m.seq from messages m where m.conversation_id = ${input.conversationId} and m.seq <= ${input.upper} and m.seq > ${input.floor}
               and (m.xid is null or pg_visible_in_snapshot(m.xid, ${input.since}::pg_snapshot)) order by m.seq desc limit 1),
            (select x.seq from conversation_changes x where x.conversation_id = ${input.conversationId} and x.seq <= ${input.upper} and x.seq > ${input.floor}
               and (x.xid is null or pg_visible_in_snapshot(x.xid, ${input.since}::pg_snapshot)) order by x.seq desc limit 1)
          ) as position`),
      );
      return toNumber(row!.position);
    },
  };
}

export type SyncRepository = ReturnType<typeof createSyncRepository>;
