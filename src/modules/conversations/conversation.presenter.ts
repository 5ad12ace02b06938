import type { ConversationExtrasRepository } from './conversation-extras.repository.js';
import type { MessageRepository } from '../messages/message.repository.js';
import { toMessage } from '../messages/message.views.js';
import type { ConversationRecord, ConversationRepository, MemberRecord } from './conversation.repository.js';
import { type ConversationView, seqWindow, toConversation, unreadWindow, visibleLastSeq } from './conversation.views.js';

type Membership = { conversation: ConversationRecord; member: MemberRecord };

/**
 * Turns (conversation, membership) rows into conversation resources with one statement per page,
 * whatever its size: peers, member previews, last messages and unread counts are read together.
 */
export function createConversationPresenter(deps: { conversations: ConversationRepository; messages: MessageRepository; extras: ConversationExtrasRepository }) {
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
    const extras = await deps.extras.extras(
      rows.map(({ conversation, member }) => {
        const unread = unreadWindow(conversation, member);
        return {
          conversationId: conversation.id,
          viewerId: member.userId,
          peerId: peerOf(conversation, member.userId),
          lower: seqWindow(member).lower,
          upTo: Math.min(visibleLastSeq(conversation, member), conversation.lastMessageSeq),
          unreadAfter: unread.after,
          unreadUpTo: unread.upTo,
        };
      }),
    );
    return rows.map(({ conversation, member }, i) => {
      const { peer, preview, lastMessage, unreadCount } = extras[i]!;
      return toConversation(conversation, member, { peer, preview, lastMessage: lastMessage ? toMessage(lastMessage) : null, unreadCount });
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
