import { and, eq, isNull, ne, sql } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { uniqueViolation } from '../../db/errors.js';
import { rowsOf, toDate, toDateOrNull, toNumber } from '../../db/raw.js';
import { conversationMembers, conversations, supportThreads } from '../../db/schema.js';
import { randomToken } from '../../lib/crypto.js';
import { newId } from '../../lib/ids.js';
import type { TimePosition } from '../../lib/time-page.js';
import { UNREAD_COUNT_CAP } from '../../schemas/chat.js';

export type ThreadRow = typeof supportThreads.$inferSelect;

export interface QueueRow {
  conversationId: string;
  roomName: string;
  userId: string;
  assigneeId: string | null;
  lastSeq: number;
  /** The furthest any staff member in the conversation has read (a staff message moves its sender's). */
  staffReadSeq: number;
  /** Messages after the staff read position (not deleted), at most UNREAD_COUNT_CAP. */
  unread: number;
  /** When the oldest of those was sent. */
  waitingSince: Date | null;
  lastMessageAt: Date | null;
  createdAt: Date;
}

/**
 * Support conversations: one per user (kind `support`, the user its only member at first). Staff join
 * as members when they claim, read or answer one, with the whole history visible, so the ordinary
 * message, receipt and socket paths serve them from then on.
 */
export function createSupportRepository(db: Database) {
  return {
    async findByUser(userId: string): Promise<ThreadRow | undefined> {
      const [row] = await db.select().from(supportThreads).where(eq(supportThreads.userId, userId));
      return row;
    },

    async find(conversationId: string): Promise<ThreadRow | undefined> {
      const [row] = await db.select().from(supportThreads).where(eq(supportThreads.conversationId, conversationId));
      return row;
    },

    /**
     * The user's support conversation, created with the user as its only member unless it exists. A
     * concurrent opener loses on the unique user_id (its transaction rolls back) and reads the winner's.
     */
    async open(userId: string): Promise<{ thread: ThreadRow; created: boolean }> {
      const existing = await this.findByUser(userId);
      if (existing) return { thread: existing, created: false };
      try {
        const thread = await db.transaction(async (tx) => {
          const at = new Date();
          const id = newId();
          await tx.insert(conversations).values({ id, kind: 'support', title: 'Support', roomName: `r_${randomToken(12)}`, createdBy: userId, memberCount: 1, createdAt: at, updatedAt: at });
          await tx.insert(conversationMembers).values({ conversationId: id, userId, role: 'member', joinedAt: at, activityAt: at });
          const [row] = await tx.insert(supportThreads).values({ conversationId: id, userId, createdAt: at }).returning();
          return row!;
        });
        return { thread, created: true };
      } catch (error) {
        if (uniqueViolation(error) !== 'support_threads_user_key') throw error;
        return { thread: (await this.findByUser(userId))!, created: false };
      }
    },

    /**
     * Makes a staff member (or the user, back after leaving) a current member with all history
     * visible; their receipts when they were not one, else null. In the caller's transaction.
     */
    async join(conversationId: string, staffId: string, tx: Database): Promise<{ readSeq: number; deliveredSeq: number } | null> {
      const [current] = await tx
        .select({ one: sql`1` })
        .from(conversationMembers)
        .where(and(eq(conversationMembers.conversationId, conversationId), eq(conversationMembers.userId, staffId), isNull(conversationMembers.leftAt)));
      if (current) return null;
      const at = new Date();
      const fresh = { role: 'member' as const, joinedAt: at, activityAt: at, joinedSeq: 0, clearedSeq: 0, leftAt: null, leftSeq: null, leftXid: null, joinedXid: sql`pg_current_xact_id()` };
      const [member] = await tx
        .insert(conversationMembers)
        .values({ conversationId, userId: staffId, ...fresh })
        .onConflictDoUpdate({ target: [conversationMembers.conversationId, conversationMembers.userId], set: fresh })
        .returning({ readSeq: conversationMembers.readSeq, deliveredSeq: conversationMembers.deliveredSeq });
      await tx.update(conversations).set({ memberCount: sql`${conversations.memberCount} + 1` }).where(eq(conversations.id, conversationId));
      return member!;
    },

    /** The support conversations (not their own) a staff member is a current member of. */
    async staffConversations(userId: string): Promise<string[]> {
      const rows = await db
        .select({ id: conversationMembers.conversationId })
        .from(conversationMembers)
        .innerJoin(supportThreads, eq(supportThreads.conversationId, conversationMembers.conversationId))
        .where(and(eq(conversationMembers.userId, userId), isNull(conversationMembers.leftAt), ne(supportThreads.userId, userId)));
      return rows.map((r) => r.id);
    },

    /**
     * Takes a former staff member out of one support conversation: the membership row goes, so not
     * even the history they saw stays readable. True when they were a current member. In the caller's
     * transaction.
     */
    async removeStaff(conversationId: string, userId: string, tx: Database): Promise<boolean> {
      const gone = await tx
        .delete(conversationMembers)
        .where(and(eq(conversationMembers.conversationId, conversationId), eq(conversationMembers.userId, userId)))
        .returning({ leftAt: conversationMembers.leftAt });
      const [row] = gone;
      if (!row || row.leftAt !== null) return false;
      await tx.update(conversations).set({ memberCount: sql`${conversations.memberCount} - 1` }).where(eq(conversations.id, conversationId));
      return true;
    },

    /**
     * What is left of a former staff member once they are out of their current support conversations:
     * the rows of those they had left go too (not even the history they saw stays readable), and
     * nothing stays assigned to them.
     */
    async forgetStaff(userId: string): Promise<void> {
      await db.execute(sql`
        with gone as (
          delete from conversation_members m using support_threads t
          where t.conversation_id = m.conversation_id and t.user_id <> m.user_id and m.user_id = ${userId} and m.left_at is not null
        )
        update support_threads set assignee_id = null where assignee_id = ${userId}`);
    },

    async claim(conversationId: string, staffId: string): Promise<void> {
      await db.update(supportThreads).set({ assigneeId: staffId }).where(eq(supportThreads.conversationId, conversationId));
    },

    /**
     * A page of the queue, newest thread first by (created_at, conversation_id). Per row: the staff read
     * position (max over the staff members' rows of that conversation) and when the oldest unanswered
     * message was sent (the message right after it, by the unique (conversation_id, seq) index).
     */
    async queue(input: { assigneeId?: string | null; after?: TimePosition; limit: number }): Promise<QueueRow[]> {
      const assignee = input.assigneeId === undefined ? sql`true` : input.assigneeId === null ? sql`t.assignee_id is null` : sql`t.assignee_id = ${input.assigneeId}`;
      const after = input.after ? sql`(t.created_at, t.conversation_id) < (${input.after.at.toISOString()}::timestamptz, ${input.after.id}::uuid)` : sql`true`;
      const rows = rowsOf<Record<string, unknown>>(
        await db.execute(sql`
          select t.conversation_id, c.room_name, t.user_id, t.assignee_id, c.last_seq, c.last_message_at, t.created_at, s.staff_read,
            (select m.created_at from messages m where m.conversation_id = t.conversation_id and m.seq > s.staff_read order by m.seq limit 1) as waiting_since,
            (select count(*) from (select 1 from messages m where m.conversation_id = t.conversation_id and m.seq > s.staff_read
               and m.deleted_at is null limit ${UNREAD_COUNT_CAP}) u)::int as unread
          from support_threads t
          join conversations c on c.id = t.conversation_id
          cross join lateral (
            select coalesce(max(cm.read_seq), 0) as staff_read from conversation_members cm
            where cm.conversation_id = t.conversation_id and cm.user_id <> t.user_id and cm.left_at is null
          ) s
          where ${assignee} and ${after}
          order by t.created_at desc, t.conversation_id desc
          limit ${input.limit + 1}`),
      );
      return rows.map((r) => {
        const lastSeq = toNumber(r.last_seq);
        const staffReadSeq = Math.min(toNumber(r.staff_read), lastSeq);
        const unread = toNumber(r.unread);
        return {
          conversationId: String(r.conversation_id),
          roomName: String(r.room_name),
          userId: String(r.user_id),
          assigneeId: r.assignee_id === null ? null : String(r.assignee_id),
          lastSeq,
          staffReadSeq,
          unread,
          waitingSince: unread > 0 ? toDateOrNull(r.waiting_since) : null,
          lastMessageAt: toDateOrNull(r.last_message_at),
          createdAt: toDate(r.created_at),
        };
      });
    },
  };
}

export type SupportRepository = ReturnType<typeof createSupportRepository>;
