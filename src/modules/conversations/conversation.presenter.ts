import type { MessageRepository } from '../messages/message.repository.js';
import { toMessage } from '../messages/message.views.js';
import type { ConversationRecord, ConversationRepository, MemberRecord } from './conversation.repository.js';
import { type ConversationView, seqWindow, toConversation, unreadWindow, visibleLastSeq } from './conversation.views.js';

type Membership = { conversation: ConversationRecord; member: MemberRecord };

/**
 * Turns (conversation, membership) rows into conversation resources with a fixed number of queries
 * per page, whatever its size: peers, member previews, last messages and unread counts are each read
 * in one batch.
 */
export function createConversationPresenter(deps: { conversations: ConversationRepository; messages: MessageRepository }) {
  const { conversations, messages } = deps;

  const peerOf = (conversation: ConversationRecord, viewerId: string): string | null => {
    if (conversation.kind !== 'direct' || !conversation.directKey) return null;
    const [a, b] = conversation.directKey.split(':');
    return a === viewerId ? b! : a!;
  };

  /** Each membership's unread count, in row order, in one statement. */
  const unreadOf = (rows: readonly Membership[]): Promise<number[]> => messages.unreadCounts(rows.map((r) => ({ viewerId: r.member.userId, ...unreadWindow(r.conversation, r.member) })));

  /** The unread count of each of one viewer's memberships, by conversation id. */
  async function unreadCounts(rows: readonly Membership[]): Promise<Map<string, number>> {
    const counts = await unreadOf(rows);
    return new Map(rows.map((r, i) => [r.conversation.id, counts[i]!]));
  }

  async function present(rows: Membership[]): Promise<ConversationView[]> {
    if (rows.length === 0) return [];
    const peerIds = rows.map((r) => peerOf(r.conversation, r.member.userId)).filter((id): id is string => id !== null);
    const lastSeqs = rows
      .map(({ conversation, member }) => ({ conversationId: conversation.id, upTo: Math.min(visibleLastSeq(conversation, member), conversation.lastMessageSeq), lower: seqWindow(member).lower }))
      .filter((p) => p.upTo > p.lower);
    const [peers, previews, lastMessages, unread] = await Promise.all([
      conversations.usersByIds([...new Set(peerIds)]),
      conversations.previews(rows.map((r) => r.conversation.id)),
      messages.lastMessages(lastSeqs),
      unreadCounts(rows),
    ]);
    const peerById = new Map(peers.map((u) => [u.id, u]));
    const lastByConversation = new Map(lastMessages.map((m) => [m.conversationId, m]));
    return rows.map(({ conversation, member }) => {
      const peerId = peerOf(conversation, member.userId);
      const last = lastByConversation.get(conversation.id);
      return toConversation(conversation, member, {
        peer: peerId ? (peerById.get(peerId) ?? null) : null,
        preview: previews.get(conversation.id) ?? [],
        lastMessage: last ? toMessage(last) : null,
        unreadCount: unread.get(conversation.id) ?? 0,
      });
    });
  }

  return {
    present,
    unreadCounts,
    /** Each user's unread total: the sum of `unreadCount` over all their conversations in GET /chat (archived or not); two statements for any number of users. */
    async unreadTotals(userIds: readonly string[]): Promise<Map<string, number>> {
      const totals = new Map(userIds.map((id) => [id, 0]));
      if (userIds.length === 0) return totals;
      const rows = await conversations.withUnread(userIds);
      (await unreadOf(rows)).forEach((count, i) => totals.set(rows[i]!.member.userId, totals.get(rows[i]!.member.userId)! + count));
      return totals;
    },
    async one(conversation: ConversationRecord, member: MemberRecord): Promise<ConversationView> {
      const [view] = await present([{ conversation, member }]);
      return view!;
    },
  };
}

export type ConversationPresenter = ReturnType<typeof createConversationPresenter>;
