import { AppError } from '../../errors.js';
import type { ChatEvents } from '../../events/chat-events.js';
import { timePage, timePosition } from '../../lib/time-page.js';
import type { Actor } from '../auth/tokens.js';
import { toPublicUser } from '../users/user.views.js';
import type { ChangeLog } from './change-log.js';
import type { ConversationAccess } from './conversation.access.js';
import type { ConversationRepository, MemberRecord } from './conversation.repository.js';


/**
 * What member.joined and member.updated carry: the member as they are, receipts included. The record
 * keeps only the latest change of each member, so a device that missed the join still learns all of it.
 */
function memberState(member: MemberRecord) {
  return { conversationId: member.conversationId, userId: member.userId, role: member.role, readSeq: member.readSeq, deliveredSeq: member.deliveredSeq };
}

/** Group membership and roles; broadcast-list recipients (owner only). */
export function createMembersService(deps: { conversations: ConversationRepository; changeLog: ChangeLog; access: ConversationAccess; events: ChatEvents; config: { maxGroupMembers: number } }) {
  const { conversations, changeLog, access, events, config } = deps;

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
      const { result: added, changes } = await changeLog.write(conversationId, async (tx, next) => {
        const fresh = await conversations.addMembers(conversation, wanted, config.maxGroupMembers, tx);
        if (!fresh || conversation.kind !== 'group') return { result: fresh, changes: [] };
        // Members start with their receipts at the seq before these joins (see addMembers).
        const data = (userId: string) => ({ conversationId, userId, role: 'member', readSeq: next - 1, deliveredSeq: next - 1 });
        return { result: fresh, changes: fresh.map((userId) => ({ key: `member:${userId}`, type: 'member.joined' as const, data: data(userId) })) };
      });
      if (added === null) throw new AppError('MEMBER_LIMIT_REACHED', `At most ${config.maxGroupMembers} members`);
      const users = await conversations.usersByIds(added);
      const joinedAt = new Date().toISOString();
      for (const change of changes) events.publishChanges([change], [(change.data as { userId: string }).userId]);
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
      const { result: removed, changes } = await changeLog.write(conversationId, async (tx, leftSeq) => {
        const outcome = await conversations.removeMember(conversationId, userId, leftSeq, tx);
        if (!outcome.removed || conversation.kind === 'broadcast') return { result: outcome.removed, changes: [] };
        const left = { key: `member:${userId}`, type: 'member.left' as const, data: { conversationId, userId, removedBy: self ? null : actor.userId } };
        if (!outcome.heir) return { result: true, changes: [left] };
        return { result: true, changes: [left, { key: `member:${outcome.heir.userId}`, type: 'member.updated' as const, data: memberState(outcome.heir) }] };
      });
      if (!removed) throw new AppError('USER_NOT_FOUND', 'Not a member');
      events.publishChanges(changes.slice(0, 1), [userId]);
      events.publishChanges(changes.slice(1));
    },

    /** Owner/admins make members admins or back; the owner's role is fixed. */
    async setRole(actor: Actor, conversationId: string, userId: string, role: 'admin' | 'member') {
      const { conversation } = await access.admin(actor, conversationId);
      if (conversation.kind !== 'group') throw new AppError('NOT_A_GROUP');
      const target = await conversations.findAccess(conversationId, userId);
      if (!target || target.member.leftAt !== null) throw new AppError('USER_NOT_FOUND', 'Not a member');
      if (target.member.role === 'owner') throw new AppError('NOT_GROUP_ADMIN', "The owner's role cannot change");
      const { result: updated, changes } = await changeLog.write(conversationId, async (tx) => {
        // Checked again under the lock: a member who left meanwhile keeps their member.left as their last change.
        const current = await conversations.setRole(conversationId, userId, role, tx);
        return { result: current, changes: current ? [{ key: `member:${userId}`, type: 'member.updated' as const, data: memberState(current) }] : [] };
      });
      if (!updated) throw new AppError('USER_NOT_FOUND', 'Not a member');
      events.publishChanges(changes);
      const [user] = await conversations.usersByIds([userId]);
      return { user: toPublicUser(user!), role, joinedAt: target.member.joinedAt.toISOString() };
    },
  };
}

export type MembersService = ReturnType<typeof createMembersService>;
