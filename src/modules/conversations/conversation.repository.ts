import { and, asc, eq, gt, inArray, isNull, ne, notExists, or, sql } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { rowsOf } from '../../db/raw.js';
import { broadcastRecipients, conversationMembers, conversations, userBlocks, users } from '../../db/schema.js';
import { randomToken } from '../../lib/crypto.js';
import { newId } from '../../lib/ids.js';

export type ConversationRecord = typeof conversations.$inferSelect;
export type MemberRecord = typeof conversationMembers.$inferSelect;
export type UserRecord = typeof users.$inferSelect;
export type InboxCursor = { p: boolean; t: string; i: string };

const directKey = (a: string, b: string) => (a < b ? `${a}:${b}` : `${b}:${a}`);
const newRoomName = () => `r_${randomToken(12)}`;
const now = () => new Date();

/** Conversations, memberships and the per-member view (receipts, flags). */
export function createConversationRepository(db: Database) {
  // Every request about a conversation runs it (authorization): built once, and on Postgres parsed and planned once per connection.
  const access = db
    .select({ conversation: conversations, member: conversationMembers })
    .from(conversations)
    .innerJoin(conversationMembers, and(eq(conversationMembers.conversationId, conversations.id), eq(conversationMembers.userId, sql.placeholder('userId'))))
    .where(eq(conversations.id, sql.placeholder('conversationId')))
    .prepare('conversation_access');
  return {
    /** The conversation and the caller's membership row (current or former), in one read. */
    async findAccess(conversationId: string, userId: string): Promise<{ conversation: ConversationRecord; member: MemberRecord } | undefined> {
      const [row] = await access.execute({ conversationId, userId });
      return row;
    },

    /** Of `ids`, the active users that neither blocked `actorId` nor were blocked by them. */
    async reachableUsers(actorId: string, ids: string[]): Promise<UserRecord[]> {
      if (ids.length === 0) return [];
      const blocked = db
        .select({ one: sql`1` })
        .from(userBlocks)
        .where(or(and(eq(userBlocks.blockerId, actorId), eq(userBlocks.blockedId, users.id)), and(eq(userBlocks.blockerId, users.id), eq(userBlocks.blockedId, actorId))));
      return db.select().from(users).where(and(inArray(users.id, ids), eq(users.status, 'active'), notExists(blocked)));
    },

    async usersByIds(ids: string[]): Promise<UserRecord[]> {
      return ids.length === 0 ? [] : db.select().from(users).where(inArray(users.id, ids));
    },

    /**
     * The direct conversation of a pair, created with both members unless it exists. One transaction:
     * a concurrent creator waits on the unique direct_key, then finds the complete conversation.
     * `onCreate` runs in it when the conversation is new (the pair became contacts).
     */
    async findOrCreateDirect<T>(a: string, b: string, onCreate: (tx: Database) => Promise<T[]>): Promise<{ conversation: ConversationRecord; created: boolean; contactChanges: T[] }> {
      const key = directKey(a, b);
      const [existing] = await db.select().from(conversations).where(eq(conversations.directKey, key));
      if (existing) return { conversation: existing, created: false, contactChanges: [] };
      return db.transaction(async (tx) => {
        const at = now();
        const [inserted] = await tx
          .insert(conversations)
          .values({ id: newId(), kind: 'direct', roomName: newRoomName(), directKey: key, createdBy: a, memberCount: 2, createdAt: at, updatedAt: at })
          .onConflictDoNothing({ target: conversations.directKey })
          .returning();
        if (inserted) {
          await tx.insert(conversationMembers).values([a, b].map((userId) => ({ conversationId: inserted.id, userId, role: 'member' as const, joinedAt: at, activityAt: at })));
          return { conversation: inserted, created: true, contactChanges: await onCreate(tx as unknown as Database) };
        }
        const [winner] = await tx.select().from(conversations).where(eq(conversations.directKey, key));
        return { conversation: winner!, created: false, contactChanges: [] };
      });
    },

    /** A group (creator = owner) or broadcast list (creator the only member, recipients apart). */
    async createMulti(input: {
      kind: 'group' | 'broadcast';
      ownerId: string;
      title: string;
      description?: string | null;
      avatarUrl?: string | null;
      retention?: { mode: 'persistent' | 'disappearing' | 'ephemeral'; ttlSeconds: number | null };
      userIds: string[];
    }): Promise<ConversationRecord> {
      return db.transaction(async (tx) => {
        const at = now();
        const [conversation] = await tx
          .insert(conversations)
          .values({
            id: newId(),
            kind: input.kind,
            title: input.title,
            description: input.description ?? null,
            avatarUrl: input.avatarUrl ?? null,
            roomName: newRoomName(),
            createdBy: input.ownerId,
            retention: input.retention?.mode ?? 'persistent',
            ttlSeconds: input.retention?.ttlSeconds ?? null,
            memberCount: input.kind === 'group' ? input.userIds.length + 1 : input.userIds.length,
            createdAt: at,
            updatedAt: at,
          })
          .returning();
        const id = conversation!.id;
        await tx.insert(conversationMembers).values({ conversationId: id, userId: input.ownerId, role: 'owner', joinedAt: at, activityAt: at });
        if (input.userIds.length > 0) {
          if (input.kind === 'group') {
            await tx.insert(conversationMembers).values(input.userIds.map((userId) => ({ conversationId: id, userId, role: 'member' as const, joinedAt: at, activityAt: at })));
          } else {
            await tx.insert(broadcastRecipients).values(input.userIds.map((userId) => ({ conversationId: id, userId, createdAt: at })));
          }
        }
        return conversation!;
      });
    },

    /**
     * One page of a user's inbox: pinned first, then latest activity, by the
     * (user_id, archived, pinned, activity_at, conversation_id) index. `q` filters on the title or a
     * current member's name (a scan of this user's conversations only); `sharedWith` keeps those
     * where that user is a current member too.
     */
    async inbox(input: { userId: string; archived?: boolean; q?: string; sharedWith?: string; after?: InboxCursor; limit: number }) {
      const m = conversationMembers;
      const pattern = input.q ? `%${input.q.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%` : undefined;
      const matches = pattern
        ? or(
            sql`lower(${conversations.title}) like ${pattern}`,
            sql`exists (select 1 from conversation_members om join users u on u.id = om.user_id
                 where om.conversation_id = ${m.conversationId} and om.user_id <> ${input.userId} and om.left_at is null
                 and (lower(u.display_name) like ${pattern} or lower(u.username) like ${pattern}))`,
          )
        : undefined;
      const shared = input.sharedWith
        ? sql`exists (select 1 from conversation_members sm where sm.conversation_id = ${m.conversationId} and sm.user_id = ${input.sharedWith} and sm.left_at is null)`
        : undefined;
      const after = input.after
        ? sql`(${m.pinned}, ${m.activityAt}, ${m.conversationId}) < (${input.after.p}, ${input.after.t}::timestamptz, ${input.after.i}::uuid)`
        : undefined;
      return db
        .select({ conversation: conversations, member: m })
        .from(m)
        .innerJoin(conversations, eq(conversations.id, m.conversationId))
        .where(and(eq(m.userId, input.userId), input.archived === undefined ? undefined : eq(m.archived, input.archived), matches, shared, after, input.sharedWith ? isNull(m.leftAt) : undefined))
        // `nulls last` as in the index (drizzle builds `desc nulls last`), so the index supplies the order.
        .orderBy(sql`${m.pinned} desc nulls last, ${m.activityAt} desc nulls last, ${m.conversationId} desc nulls last`)
        .limit(input.limit + 1);
    },

    /** The users' memberships that may hold unread messages (a non-empty unreadWindow), from the user index. */
    async withUnread(userIds: readonly string[]) {
      const m = conversationMembers;
      return db
        .select({ conversation: conversations, member: m })
        .from(m)
        .innerJoin(conversations, eq(conversations.id, m.conversationId))
        .where(and(inArray(m.userId, [...userIds]), sql`greatest(${m.readSeq}, ${m.clearedSeq}, ${m.joinedSeq}) < coalesce(${m.leftSeq}, ${conversations.lastSeq})`));
    },

    async update(id: string, patch: Partial<Pick<ConversationRecord, 'title' | 'description' | 'avatarUrl' | 'retention' | 'ttlSeconds'>>, tx: Database = db): Promise<ConversationRecord | undefined> {
      const [row] = await tx.update(conversations).set({ ...patch, updatedAt: now() }).where(eq(conversations.id, id)).returning();
      return row;
    },

    async updateMember(conversationId: string, userId: string, patch: Partial<Pick<MemberRecord, 'mutedUntil' | 'notify' | 'archived' | 'pinned' | 'role' | 'clearedSeq'>>, tx: Database = db) {
      const [row] = await tx.update(conversationMembers).set(patch).where(and(eq(conversationMembers.conversationId, conversationId), eq(conversationMembers.userId, userId))).returning();
      return row;
    },

    /** Sets a current member's role, in the caller's transaction; the member, or undefined when they are not one. */
    async setRole(conversationId: string, userId: string, role: 'admin' | 'member', tx: Database): Promise<MemberRecord | undefined> {
      const m = conversationMembers;
      const [updated] = await tx.update(m).set({ role }).where(and(eq(m.conversationId, conversationId), eq(m.userId, userId), isNull(m.leftAt))).returning();
      return updated;
    },

    /**
     * Moves receipts forward only (read implies delivered), never past the conversation's last
     * message: a receipt names messages, so marking a seq taken by a change (another member's receipt,
     * say) moves nothing past them, and two clients marking what they receive cannot ping-pong.
     * Returns the member before and after, or undefined for a non-member. In the caller's transaction.
     */
    async moveReceipts(conversationId: string, userId: string, to: { read?: number; delivered?: number }, tx: Database) {
      const read = to.read ?? 0;
      const delivered = Math.max(to.delivered ?? 0, read);
      const m = conversationMembers;
      const [before] = await tx.select().from(m).where(and(eq(m.conversationId, conversationId), eq(m.userId, userId))).for('update');
      if (!before) return undefined;
      const lastMessage = sql`(select last_message_seq from conversations where id = ${conversationId})`;
      const [after] = await tx
        .update(m)
        .set({ readSeq: sql`greatest(${m.readSeq}, least(${read}, ${lastMessage}))`, deliveredSeq: sql`greatest(${m.deliveredSeq}, least(${delivered}, ${lastMessage}))` })
        .where(and(eq(m.conversationId, conversationId), eq(m.userId, userId)))
        .returning();
      return { before, after: after! };
    },

    receipts(conversationId: string) {
      return db
        .select({ userId: conversationMembers.userId, readSeq: conversationMembers.readSeq, deliveredSeq: conversationMembers.deliveredSeq })
        .from(conversationMembers)
        .where(and(eq(conversationMembers.conversationId, conversationId), isNull(conversationMembers.leftAt)))
        .orderBy(asc(conversationMembers.joinedAt), asc(conversationMembers.userId));
    },

    /** Current members, earliest first; `after` is the previous page's last (joinedAt, userId). */
    async members(conversationId: string, limit: number, after?: { at: Date; id: string }) {
      const m = conversationMembers;
      return db
        .select({ member: m, user: users })
        .from(m)
        .innerJoin(users, eq(users.id, m.userId))
        .where(and(eq(m.conversationId, conversationId), isNull(m.leftAt), after ? or(gt(m.joinedAt, after.at), and(eq(m.joinedAt, after.at), gt(m.userId, after.id))) : undefined))
        .orderBy(asc(m.joinedAt), asc(m.userId))
        .limit(limit);
    },

    async recipients(conversationId: string, limit: number, after?: { at: Date; id: string }) {
      const r = broadcastRecipients;
      return db
        .select({ addedAt: r.createdAt, user: users })
        .from(r)
        .innerJoin(users, eq(users.id, r.userId))
        .where(and(eq(r.conversationId, conversationId), after ? or(gt(r.createdAt, after.at), and(eq(r.createdAt, after.at), gt(r.userId, after.id))) : undefined))
        .orderBy(asc(r.createdAt), asc(r.userId))
        .limit(limit);
    },

    async recipientIds(conversationId: string): Promise<string[]> {
      return (await db.select({ id: broadcastRecipients.userId }).from(broadcastRecipients).where(eq(broadcastRecipients.conversationId, conversationId))).map((r) => r.id);
    },

    /**
     * Adds members (or broadcast recipients) under a lock on the conversation so the limit holds under
     * concurrency, in the caller's transaction. Former members rejoin with history visible from now
     * (their window starts at the last seq, so they see the joins recorded next). Returns the ids
     * added, or null when the limit would be exceeded (nothing is written then).
     */
    async addMembers(conversation: ConversationRecord, userIds: string[], limit: number, tx: Database): Promise<string[] | null> {
      const [locked] = await tx.select().from(conversations).where(eq(conversations.id, conversation.id)).for('update');
      if (!locked) return [];
      const at = now();
      if (locked.kind === 'broadcast') {
        const present = new Set((await tx.select({ id: broadcastRecipients.userId }).from(broadcastRecipients).where(and(eq(broadcastRecipients.conversationId, locked.id), inArray(broadcastRecipients.userId, userIds)))).map((r) => r.id));
        const fresh = userIds.filter((id) => !present.has(id));
        if (locked.memberCount + fresh.length > limit) return null;
        if (fresh.length === 0) return [];
        await tx.insert(broadcastRecipients).values(fresh.map((userId) => ({ conversationId: locked.id, userId, createdAt: at })));
        await tx.update(conversations).set({ memberCount: locked.memberCount + fresh.length }).where(eq(conversations.id, locked.id));
        return fresh;
      }
      const existing = await tx.select().from(conversationMembers).where(and(eq(conversationMembers.conversationId, locked.id), inArray(conversationMembers.userId, userIds)));
      const current = new Set(existing.filter((m) => m.leftAt === null).map((m) => m.userId));
      const fresh = userIds.filter((id) => !current.has(id));
      if (locked.memberCount + fresh.length > limit) return null;
      if (fresh.length === 0) return [];
      const seq = locked.lastSeq;
      await tx
        .insert(conversationMembers)
        .values(fresh.map((userId) => ({ conversationId: locked.id, userId, role: 'member' as const, joinedAt: at, activityAt: at, joinedSeq: seq, readSeq: seq, deliveredSeq: seq, clearedSeq: 0 })))
        .onConflictDoUpdate({
          target: [conversationMembers.conversationId, conversationMembers.userId],
          set: { role: 'member', joinedAt: at, activityAt: at, joinedSeq: seq, readSeq: seq, deliveredSeq: seq, clearedSeq: 0, leftAt: null, leftSeq: null, leftXid: null, joinedXid: sql`pg_current_xact_id()` },
        });
      await tx.update(conversations).set({ memberCount: locked.memberCount + fresh.length }).where(eq(conversations.id, locked.id));
      return fresh;
    },

    /**
     * Ends a membership (the row stays, with `leftSeq`: the seq of the member.left the caller records
     * in the same transaction) or removes a recipient. When the owner leaves, the earliest admin, else
     * the earliest member, becomes owner. Returns the new owner when ownership moved.
     */
    async removeMember(conversationId: string, userId: string, leftSeq: number, tx: Database): Promise<{ removed: boolean; heir: MemberRecord | null }> {
      const [locked] = await tx.select().from(conversations).where(eq(conversations.id, conversationId)).for('update');
      if (!locked) return { removed: false, heir: null };
      if (locked.kind === 'broadcast') {
        const gone = await tx.delete(broadcastRecipients).where(and(eq(broadcastRecipients.conversationId, conversationId), eq(broadcastRecipients.userId, userId))).returning();
        if (gone.length > 0) await tx.update(conversations).set({ memberCount: locked.memberCount - 1 }).where(eq(conversations.id, conversationId));
        return { removed: gone.length > 0, heir: null };
      }
      const [left] = await tx
        .update(conversationMembers)
        .set({ leftAt: now(), leftSeq, leftXid: sql`pg_current_xact_id()` })
        .where(and(eq(conversationMembers.conversationId, conversationId), eq(conversationMembers.userId, userId), isNull(conversationMembers.leftAt)))
        .returning();
      if (!left) return { removed: false, heir: null };
      await tx.update(conversations).set({ memberCount: locked.memberCount - 1 }).where(eq(conversations.id, conversationId));
      if (left.role !== 'owner') return { removed: true, heir: null };
      await tx.update(conversationMembers).set({ role: 'member' }).where(and(eq(conversationMembers.conversationId, conversationId), eq(conversationMembers.userId, userId)));
      const [heir] = await tx
        .select({ userId: conversationMembers.userId })
        .from(conversationMembers)
        .where(and(eq(conversationMembers.conversationId, conversationId), isNull(conversationMembers.leftAt), ne(conversationMembers.userId, userId)))
        .orderBy(sql`case when ${conversationMembers.role} = 'admin' then 0 else 1 end`, asc(conversationMembers.joinedAt), asc(conversationMembers.userId))
        .limit(1);
      if (!heir) return { removed: true, heir: null };
      const [owner] = await tx.update(conversationMembers).set({ role: 'owner' }).where(and(eq(conversationMembers.conversationId, conversationId), eq(conversationMembers.userId, heir.userId))).returning();
      return { removed: true, heir: owner! };
    },

    async findByRoomName(roomName: string): Promise<ConversationRecord | undefined> {
      const [row] = await db.select().from(conversations).where(eq(conversations.roomName, roomName));
      return row;
    },

    /** The conversations a user currently belongs to, most recent activity first (what a device socket follows). */
    async followedBy(userId: string, limit: number) {
      return db
        .select({ conversation: conversations, member: conversationMembers })
        .from(conversationMembers)
        .innerJoin(conversations, eq(conversations.id, conversationMembers.conversationId))
        .where(and(eq(conversationMembers.userId, userId), isNull(conversationMembers.leftAt)))
        .orderBy(sql`${conversationMembers.activityAt} desc nulls last`)
        .limit(limit);
    },

    /** Of `ids`, the users who currently share a conversation with `userId` (whose presence they may watch). */
    async conversationPeers(userId: string, ids: readonly string[]): Promise<string[]> {
      if (ids.length === 0) return [];
      const rows = rowsOf<{ id: string }>(
        await db.execute(sql`
          select distinct other.user_id as id from conversation_members mine
          join conversation_members other on other.conversation_id = mine.conversation_id
          where mine.user_id = ${userId} and mine.left_at is null and other.left_at is null
            and other.user_id in (${sql.join(ids.map((id) => sql`${id}::uuid`), sql`, `)})`),
      );
      return rows.map((r) => String(r.id));
    },

    async isCurrentMember(conversationId: string, userId: string): Promise<boolean> {
      const [row] = await db.select({ one: sql`1` }).from(conversationMembers).where(and(eq(conversationMembers.conversationId, conversationId), eq(conversationMembers.userId, userId), isNull(conversationMembers.leftAt)));
      return row !== undefined;
    },

    async currentMemberIds(conversationId: string, among: string[]): Promise<string[]> {
      if (among.length === 0) return [];
      const rows = await db.select({ id: conversationMembers.userId }).from(conversationMembers).where(and(eq(conversationMembers.conversationId, conversationId), inArray(conversationMembers.userId, among), isNull(conversationMembers.leftAt)));
      return rows.map((r) => r.id);
    },
  };
}

export type ConversationRepository = ReturnType<typeof createConversationRepository>;
