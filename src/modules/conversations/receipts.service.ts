import { AppError } from '../../errors.js';
import type { ChatEvents } from '../../events/chat-events.js';
import type { Actor } from '../auth/tokens.js';
import type { ChangeLog } from './change-log.js';
import type { ConversationAccess } from './conversation.access.js';
import type { ConversationPresenter } from './conversation.presenter.js';
import type { ConversationRepository } from './conversation.repository.js';
import { visibleLastSeq } from './conversation.views.js';

/** Delivered/read receipts (forward only) and clearing one's own history. */
export function createReceiptsService(deps: {
  conversations: ConversationRepository;
  changeLog: ChangeLog;
  access: ConversationAccess;
  presenter: Pick<ConversationPresenter, 'unreadCounts'>;
  events: ChatEvents;
}) {
  const { conversations, changeLog, access, presenter, events } = deps;

  /** Moves the caller's receipts forward; a seq beyond what they can see is a 400 and changes nothing. */
  async function mark(actor: Actor, conversationId: string, to: { read?: number; delivered?: number }) {
    const { conversation, member } = await access.reader(actor, conversationId);
    const limit = visibleLastSeq(conversation, member);
    const highest = Math.max(to.read ?? 0, to.delivered ?? 0);
    if (highest > limit) throw new AppError('SEQ_OUT_OF_RANGE', `The last seq you can see is ${limit}`, { lastSeq: limit });
    const { result: updated, changes } = await changeLog.write(conversationId, async (tx) => {
      const { before, after } = (await conversations.moveReceipts(conversationId, actor.userId, to, tx))!;
      const moved = after.readSeq !== before.readSeq || after.deliveredSeq !== before.deliveredSeq;
      const data = { conversationId, userId: actor.userId, readSeq: after.readSeq, deliveredSeq: after.deliveredSeq };
      return { result: after, changes: moved ? [{ key: `receipt:${actor.userId}`, type: 'receipt.updated' as const, data }] : [] };
    });
    events.publishChanges(changes);
    const unread = await presenter.unreadCounts([{ conversation, member: updated }]);
    return { conversationId, userId: actor.userId, readSeq: updated.readSeq, deliveredSeq: updated.deliveredSeq, unreadCount: unread.get(conversationId) ?? 0 };
  }

  return {
    mark,
    read: (actor: Actor, conversationId: string, seq: number) => mark(actor, conversationId, { read: seq }),
    delivered: (actor: Actor, conversationId: string, seq: number) => mark(actor, conversationId, { delivered: seq }),

    async list(actor: Actor, conversationId: string) {
      await access.reader(actor, conversationId);
      return { items: await conversations.receipts(conversationId) };
    },

    /** Hides everything up to now from the caller's history (on all their devices); the others keep theirs. */
    async clear(actor: Actor, conversationId: string): Promise<void> {
      const { member } = await access.reader(actor, conversationId);
      const { changes } = await changeLog.write(conversationId, async (tx, next) => {
        // Up to the seq before this change: the clear itself stays visible to the user's devices.
        const clearedSeq = member.leftSeq === null ? next - 1 : Math.min(member.leftSeq, next - 1);
        await conversations.updateMember(conversationId, actor.userId, { clearedSeq }, tx);
        const data = { conversationId, userId: actor.userId, clearedSeq };
        return { result: null, changes: [{ key: `cleared:${actor.userId}`, type: 'conversation.cleared' as const, data, audienceUserId: actor.userId }] };
      });
      events.publishChanges(changes);
    },
  };
}

export type ReceiptsService = ReturnType<typeof createReceiptsService>;
