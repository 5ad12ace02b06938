import { AppError } from '../../errors.js';
import type { ChatEvents } from '../../events/chat-events.js';
import { timePage, timePosition } from '../../lib/time-page.js';
import type { Actor } from '../auth/tokens.js';
import { toPublicUser } from '../users/user.views.js';
import type { ConversationAccess } from './conversation.access.js';
import type { ConversationRepository } from './conversation.repository.js';


/** Group membership and roles; broadcast-list recipients (owner only). */
export function createMembersService(deps: { conversations: ConversationRepository; access: ConversationAccess; events: ChatEvents; config: { maxGroupMembers: number } }) {
  const { conversations, access, events, config } = deps;

  return {
    /** Current members, earliest first (broadcast lists: recipients, for the owner). */
    async list(actor: Actor, conversationId: string, input: { cursor?: string; limit: number }) {
      const { conversation } = await access.reader(actor, conversationId);
      const after = timePosition(input.cursor);
      const rows =
        conversation.kind === 'broadcast'
          ? (await conversations.recipients(conversationId, input.limit + 1, after)).map((r) => ({ user: r.user, role: 'member' as const, joinedAt: r.addedAt }))
          : (await conversations.members(conversationId, input.limit + 1, after)).map((r) => ({ user: r.user, role: r.member.role, joinedAt: r.member.joinedAt }));
      return timePage(rows, input.limit, (r) => ({ at: r.joinedAt, id: r.user.id }), (r) => ({ user: toPublicUser(r.user), role: r.role, joinedAt: r.joinedAt.toISOString() }));
    },

    /** Owner/admins add reachable users; current members are skipped. Returns the members added. */
    async add(actor: Actor, conversationId: string, userIds: string[]) {
      const { conversation } = await access.admin(actor, conversationId);
      if (conversation.kind === 'broadcast' && conversation.createdBy !== actor.userId) throw new AppError('NOT_GROUP_ADMIN');
      const wanted = userIds.filter((id) => id !== actor.userId);
      const found = new Set((await conversations.reachableUsers(actor.userId, wanted)).map((u) => u.id));
      const missing = wanted.filter((id) => !found.has(id));
      if (missing.length > 0) throw new AppError('USER_NOT_FOUND', `No such user: ${missing.join(', ')}`, {}, missing.map((id) => ({ field: 'body.userIds', message: `no such user ${id}` })));
      const added = await conversations.addMembers(conversation, wanted, config.maxGroupMembers);
      if (added === null) throw new AppError('MEMBER_LIMIT_REACHED', `At most ${config.maxGroupMembers} members`);
      const users = await conversations.usersByIds(added);
      const joinedAt = new Date().toISOString();
      if (conversation.kind === 'group') {
        for (const user of users) events.publish('member.joined', conversationId, { conversationId, userId: user.id, role: 'member' }, [user.id]);
      }
      return { items: users.map((user) => ({ user: toPublicUser(user), role: 'member' as const, joinedAt })) };
    },

    /** Removing yourself is leaving; removing others needs owner/admin, and nobody removes the owner. */
    async remove(actor: Actor, conversationId: string, userId: string): Promise<void> {
      const self = userId === actor.userId;
      const { conversation } = self ? await access.member(actor, conversationId) : await access.admin(actor, conversationId);
      if (conversation.kind === 'direct') throw new AppError('NOT_A_GROUP', 'Direct chats cannot be left; archive or clear them instead');
      if (conversation.kind === 'broadcast' && self) throw new AppError('NOT_A_GROUP', 'Delete recipients, not yourself, from a broadcast list');
      if (!self && conversation.kind === 'group') {
        const target = await conversations.findAccess(conversationId, userId);
        if (!target || target.member.leftAt !== null) throw new AppError('USER_NOT_FOUND', 'Not a member');
        if (target.member.role === 'owner') throw new AppError('NOT_GROUP_ADMIN', 'The owner cannot be removed');
      }
      const { removed, newOwnerId } = await conversations.removeMember(conversationId, userId);
      if (!removed) throw new AppError('USER_NOT_FOUND', 'Not a member');
      if (conversation.kind !== 'group') return;
      events.publish('member.left', conversationId, { conversationId, userId, removedBy: self ? null : actor.userId }, [userId]);
      if (newOwnerId) events.publish('member.updated', conversationId, { conversationId, userId: newOwnerId, role: 'owner' });
    },

    /** Owner/admins make members admins or back; the owner's role is fixed. */
    async setRole(actor: Actor, conversationId: string, userId: string, role: 'admin' | 'member') {
      const { conversation } = await access.admin(actor, conversationId);
      if (conversation.kind !== 'group') throw new AppError('NOT_A_GROUP');
      const target = await conversations.findAccess(conversationId, userId);
      if (!target || target.member.leftAt !== null) throw new AppError('USER_NOT_FOUND', 'Not a member');
      if (target.member.role === 'owner') throw new AppError('NOT_GROUP_ADMIN', "The owner's role cannot change");
      await conversations.updateMember(conversationId, userId, { role });
      const [user] = await conversations.usersByIds([userId]);
      events.publish('member.updated', conversationId, { conversationId, userId, role });
      return { user: toPublicUser(user!), role, joinedAt: target.member.joinedAt.toISOString() };
    },
  };
}

export type MembersService = ReturnType<typeof createMembersService>;
