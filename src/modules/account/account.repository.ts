import { and, asc, eq, gt, inArray, isNull, or, sql } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { rowsOf, toDate } from '../../db/raw.js';
import { reactionSummaryOf } from '../messages/message.repository.js';
import {
  announcementReads,
  broadcastRecipients,
  conversationMembers,
  conversations,
  feedbackTickets,
  media,
  mediaUsage,
  messageHides,
  messageReactions,
  messages,
  otpChallenges,
  reports,
  sessions,
  statusViews,
  statuses,
  supportThreads,
  userBlocks,
  users,
} from '../../db/schema.js';

/** The name a deleted account keeps: unique, public, and never a valid username (too long), so nobody can take it. */
export const tombstoneUsername = (userId: string) => `deleted_${userId.replaceAll('-', '')}`;
export const DELETED_DISPLAY_NAME = 'Deleted account';

/** What the erase removed that others must hear about once it has committed. */
export interface Erased {
  sessionIds: string[];
  /** One row per (message, emoji) the user had reacted with, and the message's summary after the removal. */
  reactions: Array<{ messageId: string; conversationId: string; emoji: string; reactions: Array<{ emoji: string; count: number }> }>;
}

/**
 * The database side of deleting an account, in one transaction: the user row becomes a tombstone
 * (profile, contacts and password gone, status `deleted`) so messages, memberships and audit entries
 * keep a valid sender; sessions, codes, blocks, hides, reads, views, reactions, statuses, tickets and
 * owned broadcast lists go. Conversations are left and media removed by the caller (they publish
 * events and touch storage).
 */
export function createAccountRepository(db: Database) {
  return {
    /** Groups and support conversations the user is a current member of (what they must leave). */
    async sharedConversations(userId: string): Promise<string[]> {
      const rows = await db
        .select({ id: conversations.id })
        .from(conversationMembers)
        .innerJoin(conversations, eq(conversations.id, conversationMembers.conversationId))
        .where(and(eq(conversationMembers.userId, userId), isNull(conversationMembers.leftAt), inArray(conversations.kind, ['group', 'support'])));
      return rows.map((r) => r.id);
    },

    /** One page of every conversation the user is or was in, by id; a direct chat names the other person. */
    async memberships(userId: string, after: string | null, limit: number) {
      const rows = rowsOf<Record<string, unknown>>(
        await db.execute(sql`
          select c.id, c.kind, c.title, c.member_count, cm.role, cm.joined_at, cm.left_at, peer.id as peer_id, peer.display_name as peer_name
          from conversation_members cm
          join conversations c on c.id = cm.conversation_id
          left join lateral (
            select u.id, u.display_name from conversation_members o join users u on u.id = o.user_id
            where c.kind = 'direct' and o.conversation_id = c.id and o.user_id <> cm.user_id limit 1
          ) peer on true
          where cm.user_id = ${userId} ${after ? sql`and cm.conversation_id > ${after}::uuid` : sql``}
          order by cm.conversation_id
          limit ${limit}`),
      );
      return rows.map((r) => ({
        id: String(r.id),
        kind: String(r.kind),
        title: (r.title ?? r.peer_name ?? null) as string | null,
        peerId: (r.peer_id ?? null) as string | null,
        memberCount: Number(r.member_count),
        role: String(r.role),
        joinedAt: toDate(r.joined_at).toISOString(),
        leftAt: r.left_at == null ? null : toDate(r.left_at).toISOString(),
      }));
    },

    /** The user's own live messages in one conversation after `afterSeq`, by seq (walks the conversation's seq index). */
    ownMessages(userId: string, conversationId: string, afterSeq: number, limit: number) {
      return db
        .select({ id: messages.id, seq: messages.seq, type: messages.type, body: messages.body, replyToId: messages.replyToId, forwarded: sql<boolean>`${messages.forwardFromId} is not null`, attachments: messages.attachments, createdAt: messages.createdAt, editedAt: messages.editedAt })
        .from(messages)
        .where(
          and(
            eq(messages.conversationId, conversationId),
            eq(messages.senderId, userId),
            gt(messages.seq, afterSeq),
            isNull(messages.deletedAt),
            or(isNull(messages.expiresAt), gt(messages.expiresAt, sql`now()`)),
          ),
        )
        .orderBy(asc(messages.seq))
        .limit(limit);
    },

    /** One page of the user's uploads, by id. */
    uploads(userId: string, after: string | null, limit: number) {
      return db
        .select()
        .from(media)
        .where(and(eq(media.ownerId, userId), after ? gt(media.id, after) : undefined))
        .orderBy(asc(media.id))
        .limit(limit);
    },

    /** `first` runs first in the erasure's transaction (what the erasure changes in others' logs); its result comes back as `recorded`. */
    async erase<T>(userId: string, first: (tx: Database) => Promise<T>): Promise<Erased & { recorded: T }> {
      return db.transaction(async (tx) => {
        const recorded = await first(tx as unknown as Database);
        const now = new Date();
        await tx
          .update(users)
          .set({
            username: tombstoneUsername(userId),
            displayName: DELETED_DISPLAY_NAME,
            email: null,
            emailVerifiedAt: null,
            phone: null,
            phoneVerifiedAt: null,
            // Not an argon2 hash: no password verifies against it.
            passwordHash: '!deleted',
            about: null,
            avatarUrl: null,
            role: 'user',
            status: 'deleted',
            bannedAt: null,
            banReason: null,
            lastSeenAt: null,
            hideLastSeen: true,
            deletedAt: now,
            updatedAt: now,
          })
          .where(eq(users.id, userId));
        // Revoked-then-deleted in one step: refresh tokens and socket tickets go with their session.
        const ended = await tx.delete(sessions).where(eq(sessions.userId, userId)).returning({ id: sessions.id });
        await tx.delete(otpChallenges).where(eq(otpChallenges.userId, userId));
        await tx.delete(userBlocks).where(or(eq(userBlocks.blockerId, userId), eq(userBlocks.blockedId, userId)));
        await tx.delete(messageHides).where(eq(messageHides.userId, userId));
        await tx.delete(announcementReads).where(eq(announcementReads.userId, userId));
        await tx.delete(statusViews).where(eq(statusViews.viewerId, userId));
        await tx.delete(statuses).where(eq(statuses.authorId, userId));
        await tx.delete(feedbackTickets).where(eq(feedbackTickets.userId, userId));
        await tx.update(reports).set({ reporterId: null }).where(eq(reports.reporterId, userId));
        await tx.update(supportThreads).set({ assigneeId: null }).where(eq(supportThreads.assigneeId, userId));
        // Broadcast lists are seen by their owner only: they go whole. Lists the user received from lose them.
        await tx.delete(conversations).where(and(eq(conversations.kind, 'broadcast'), eq(conversations.createdBy, userId)));
        const lists = await tx.delete(broadcastRecipients).where(eq(broadcastRecipients.userId, userId)).returning({ id: broadcastRecipients.conversationId });
        if (lists.length > 0) {
          await tx.update(conversations).set({ memberCount: sql`greatest(${conversations.memberCount} - 1, 0)` }).where(inArray(conversations.id, lists.map((l) => l.id)));
        }
        const removed = await tx.delete(messageReactions).where(eq(messageReactions.userId, userId)).returning({ messageId: messageReactions.messageId, emoji: messageReactions.emoji });
        const messageIds = [...new Set(removed.map((r) => r.messageId))];
        const summaries = new Map<string, { conversationId: string; reactions: Erased['reactions'][number]['reactions'] }>();
        if (messageIds.length > 0) {
          const rows = rowsOf<{ id: string; conversation_id: string; reactions: Erased['reactions'][number]['reactions'] }>(
            await tx.execute(sql`
              update messages m set reactions = ${reactionSummaryOf(sql`m.id`)}
              where m.id in (${sql.join(messageIds.map((id) => sql`${id}::uuid`), sql`, `)})
              returning m.id, m.conversation_id, m.reactions`),
          );
          for (const row of rows) summaries.set(String(row.id), { conversationId: String(row.conversation_id), reactions: row.reactions });
        }
        await tx.delete(mediaUsage).where(eq(mediaUsage.userId, userId));
        return {
          recorded,
          sessionIds: ended.map((s) => s.id),
          reactions: removed.flatMap((r) => {
            const summary = summaries.get(r.messageId);
            return summary ? [{ messageId: r.messageId, emoji: r.emoji, ...summary }] : [];
          }),
        };
      });
    },
  };
}

export type AccountRepository = ReturnType<typeof createAccountRepository>;
