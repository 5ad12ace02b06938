import { AppError } from '../../errors.js';
import type { Actor } from '../auth/tokens.js';
import type { ConversationRecord, ConversationRepository, MemberRecord } from './conversation.repository.js';

export interface Access {
  conversation: ConversationRecord;
  member: MemberRecord;
}

/**
 * Authorization on a conversation id, shared by every service. Anyone without a membership row
 * (never a member, or a broadcast recipient) gets 404 CONVERSATION_NOT_FOUND, so ids reveal nothing.
 */
export function createConversationAccess(repository: ConversationRepository) {
  /** Current or former member: may read what their window allows. */
  async function reader(actor: Actor, conversationId: string): Promise<Access> {
    const access = await repository.findAccess(conversationId, actor.userId);
    if (!access) throw new AppError('CONVERSATION_NOT_FOUND');
    return access;
  }

  /** A current member: may write. */
  async function member(actor: Actor, conversationId: string): Promise<Access> {
    const access = await reader(actor, conversationId);
    if (access.member.leftAt !== null) throw new AppError('NOT_A_MEMBER');
    return access;
  }

  /** A current owner or admin of a group, or the owner of a broadcast list. */
  async function admin(actor: Actor, conversationId: string): Promise<Access> {
    const access = await member(actor, conversationId);
    if (access.conversation.kind === 'direct') throw new AppError('NOT_A_GROUP');
    if (access.member.role !== 'owner' && access.member.role !== 'admin') throw new AppError('NOT_GROUP_ADMIN');
    return access;
  }

  return { reader, member, admin };
}

export type ConversationAccess = ReturnType<typeof createConversationAccess>;
