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

  /** Each membership's unread count (by conversation id), one statement per viewer. */
  async function unreadCounts(rows: readonly Membership[]): Promise<Map<string, number>> {
    const byViewer = new Map<string, Membership[]>();
    for (const row of rows) byViewer.set(row.member.userId, [...(byViewer.get(row.member.userId) ?? []), row]);
    const counts = new Map<string, number>();
    for (const [viewerId, own] of byViewer) {
      for (const [id, count] of await messages.unreadCounts(viewerId, own.map((r) => unreadWindow(r.conversation, r.member)))) counts.set(id, count);
    }
    return counts;
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
    /** The user's unread total: the sum of `unreadCount` over all their conversations in GET /chat (archived or not). */
    async unreadTotal(userId: string): Promise<number> {
      let total = 0;
      for (const count of (await unreadCounts(await conversations.withUnread(userId))).values()) total += count;
      return total;
    },
    async one(conversation: ConversationRecord, member: MemberRecord): Promise<ConversationView> {
      const [view] = await present([{ conversation, member }]);
      return view!;
    },
  };
}

export type ConversationPresenter = ReturnType<typeof createConversationPresenter>;
