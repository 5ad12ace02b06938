import { AppError, isAppError } from '../../errors.js';
import type { Actor } from '../auth/tokens.js';
import type { Access, ConversationAccess } from '../conversations/conversation.access.js';
import { seqWindow } from '../conversations/conversation.views.js';
import type { MessageRepository } from './message.repository.js';
import type { MessageRow } from './message.views.js';

/**
 * Whether a message id is visible to a caller: a live message of a conversation they are or were in,
 * inside their membership window and not hidden by them. Anything else is 404 MESSAGE_NOT_FOUND.
 */
export function createMessageVisibility(deps: { messages: MessageRepository; access: ConversationAccess }) {
  const { messages, access } = deps;

  async function visibleWithAccess(actor: Actor, messageId: string): Promise<{ row: MessageRow; access: Access }> {
    const row = await messages.findById(messageId);
    if (!row) throw new AppError('MESSAGE_NOT_FOUND');
    let granted: Access;
    try {
      granted = await access.reader(actor, row.conversationId);
    } catch (error) {
      if (isAppError(error) && error.code === 'CONVERSATION_NOT_FOUND') throw new AppError('MESSAGE_NOT_FOUND');
      throw error;
    }
    const window = seqWindow(granted.member);
    if (row.seq <= window.lower || (window.upper !== null && row.seq > window.upper)) throw new AppError('MESSAGE_NOT_FOUND');
    if (await messages.isHidden(actor.userId, row.id)) throw new AppError('MESSAGE_NOT_FOUND');
    return { row, access: granted };
  }

  return {
    visibleWithAccess,
    visibleRow: async (actor: Actor, messageId: string) => (await visibleWithAccess(actor, messageId)).row,
  };
}

export type MessageVisibility = ReturnType<typeof createMessageVisibility>;
