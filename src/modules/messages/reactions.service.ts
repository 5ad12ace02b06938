import { AppError } from '../../errors.js';
import type { ChatEvents } from '../../events/chat-events.js';
import type { Actor } from '../auth/tokens.js';
import type { ChangeLog } from '../conversations/change-log.js';
import type { ConversationAccess } from '../conversations/conversation.access.js';
import { seqWindow } from '../conversations/conversation.views.js';
import type { MessageRepository } from './message.repository.js';
import type { MessageVisibility } from './message.visibility.js';
import { toMessage } from './message.views.js';

/** Different emojis one user may put on one message. */
export const MAX_REACTIONS_PER_USER = 10;
export const MAX_PINS_PER_CONVERSATION = 50;

const EMOJI_MAX_CODE_POINTS = 16;
const PICTOGRAPH = /\p{Extended_Pictographic}|\p{Regional_Indicator}/u;
const FORBIDDEN = /[\sA-Za-z0-9]/;
const KEYCAP = /^[#*0-9]\uFE0F?\u20E3$/u;

/**
 * A reaction is one emoji (sequence): pictographic, no letters, digits or spaces, 16 code points at
 * most; keycaps (#️⃣, 1️⃣) are the one form allowed a digit.
 */
export function assertEmoji(emoji: string): void {
  if (KEYCAP.test(emoji)) return;
  if ([...emoji].length > EMOJI_MAX_CODE_POINTS || FORBIDDEN.test(emoji) || !PICTOGRAPH.test(emoji)) {
    throw new AppError('VALIDATION_FAILED', 'Not an emoji', {}, [{ field: 'params.emoji', message: 'must be a single emoji' }]);
  }
}

/** Reactions and pins: any current member, on messages they can see that are not deleted. */
export function createReactionsService(deps: { messages: MessageRepository; changeLog: ChangeLog; access: ConversationAccess; visibility: MessageVisibility; events: ChatEvents }) {
  const { messages, changeLog, access, visibility, events } = deps;

  async function writable(actor: Actor, messageId: string) {
    const { row } = await visibility.visibleWithAccess(actor, messageId);
    await access.member(actor, row.conversationId);
    if (row.deletedAt) throw new AppError('MESSAGE_DELETED');
    return row;
  }

  async function react(actor: Actor, messageId: string, emoji: string, add: boolean) {
    assertEmoji(emoji);
    const row = await writable(actor, messageId);
    const { result, changes } = await changeLog.write(row.conversationId, async (tx) => {
      const outcome = await messages.react({ messageId: row.id, userId: actor.userId, emoji, add, maxPerUser: MAX_REACTIONS_PER_USER }, tx);
      if (!outcome?.changed) return { result: outcome, changes: [] };
      const data = { messageId: row.id, userId: actor.userId, emoji, action: add ? ('added' as const) : ('removed' as const), reactions: outcome.reactions };
      return { result: outcome, changes: [{ key: `reactions:${row.id}`, type: 'reaction.updated' as const, data, messageId: row.id }] };
    });
    if (!result) throw new AppError('REACTION_LIMIT_REACHED', `At most ${MAX_REACTIONS_PER_USER} different reactions per message`);
    events.publishChanges(changes);
    return { messageId: row.id, reactions: result.reactions, myReactions: result.myReactions };
  }

  async function setPinned(actor: Actor, messageId: string, pinned: boolean): Promise<void> {
    const row = await writable(actor, messageId);
    const { result: outcome, changes } = await changeLog.write(row.conversationId, async (tx) => {
      const done = pinned ? await messages.pin({ conversationId: row.conversationId, messageId: row.id, by: actor.userId, max: MAX_PINS_PER_CONVERSATION }, tx) : (await messages.unpin(row.id, tx)) ? 'unpinned' : 'already';
      const data = { messageId: row.id, pinned, by: actor.userId };
      return { result: done, changes: done === 'pinned' || done === 'unpinned' ? [{ key: `pin:${row.id}`, type: 'pin.updated' as const, data, messageId: row.id }] : [] };
    });
    if (outcome === 'full') throw new AppError('PIN_LIMIT_REACHED', `At most ${MAX_PINS_PER_CONVERSATION} pinned messages`);
    events.publishChanges(changes);
  }

  return {
    /**
     * Records (and announces) a reaction already taken away by another write (account erasure), with
     * the message's summary as it is now.
     */
    async recordRemoved(conversationId: string, messageId: string, userId: string, emoji: string): Promise<void> {
      const { changes } = await changeLog.write(conversationId, async (tx) => {
        const row = await messages.findById(messageId, tx);
        if (!row) return { result: null, changes: [] };
        const data = { messageId, userId, emoji, action: 'removed' as const, reactions: row.reactions };
        return { result: null, changes: [{ key: `reactions:${messageId}`, type: 'reaction.updated' as const, data, messageId }] };
      });
      events.publishChanges(changes);
    },
    /**
     * Takes back every reaction of a user (an account erasure), each message's in one write with its
     * reaction.updated, so none goes without its record.
     */
    async removeAllBy(userId: string): Promise<void> {
      const byMessage = new Map<string, { conversationId: string; emojis: string[] }>();
      for (const r of await messages.reactionsBy(userId)) {
        const entry = byMessage.get(r.messageId) ?? { conversationId: r.conversationId, emojis: [] };
        entry.emojis.push(r.emoji);
        byMessage.set(r.messageId, entry);
      }
      for (const [messageId, { conversationId, emojis }] of byMessage) {
        const { changes } = await changeLog.write(conversationId, async (tx) => {
          let outcome: Awaited<ReturnType<typeof messages.react>> = null;
          let last = '';
          for (const emoji of emojis) {
            const removed = await messages.react({ messageId, userId, emoji, add: false, maxPerUser: MAX_REACTIONS_PER_USER }, tx);
            if (removed?.changed) [outcome, last] = [removed, emoji];
          }
          if (!outcome) return { result: null, changes: [] };
          const data = { messageId, userId, emoji: last, action: 'removed' as const, reactions: outcome.reactions };
          return { result: null, changes: [{ key: `reactions:${messageId}`, type: 'reaction.updated' as const, data, messageId }] };
        });
        events.publishChanges(changes);
      }
    },
    add: (actor: Actor, messageId: string, emoji: string) => react(actor, messageId, emoji, true),
    remove: (actor: Actor, messageId: string, emoji: string) => react(actor, messageId, emoji, false),
    pin: (actor: Actor, messageId: string) => setPinned(actor, messageId, true),
    unpin: (actor: Actor, messageId: string) => setPinned(actor, messageId, false),

    async pins(actor: Actor, conversationId: string) {
      const { member } = await access.reader(actor, conversationId);
      const rows = await messages.pins(conversationId, seqWindow(member));
      return { items: rows.map((r) => ({ message: toMessage(r.message), pinnedBy: r.pinnedBy, pinnedAt: r.pinnedAt.toISOString() })) };
    },
  };
}

export type ReactionsService = ReturnType<typeof createReactionsService>;
