import { AppError, isAppError } from '../../errors.js';
import type { ChatEvents } from '../../events/chat-events.js';
import { decodeCursor, encodeCursor } from '../../lib/cursor.js';
import type { ContactChanges } from '../users/user-log.js';
import type { MediaService } from '../media/media.service.js';
import type { Actor } from '../auth/tokens.js';
import type { ChangeLog } from './change-log.js';
import type { ConversationAccess } from './conversation.access.js';
import type { ConversationPresenter } from './conversation.presenter.js';
import type { ConversationRecord, ConversationRepository, InboxCursor, MemberRecord } from './conversation.repository.js';
import { MUTED_FOREVER, memberSettings, sharedFields, visibleLastSeq } from './conversation.views.js';

/**
 * A device socket follows the user's most recently active conversations, up to this many (and every
 * one joined while it is open); events of older ones are not pushed to it until it reconnects.
 */
export const FOLLOWED_LIMIT = 1000;

export interface RetentionInput {
  mode: 'persistent' | 'disappearing' | 'ephemeral';
  ttlSeconds?: number | null;
}

const isInboxCursor = (v: unknown): v is InboxCursor => {
  const c = v as InboxCursor;
  return typeof c?.p === 'boolean' && typeof c.t === 'string' && !Number.isNaN(Date.parse(c.t)) && typeof c.i === 'string' && /^[0-9a-f-]{36}$/i.test(c.i);
};

/** Titles are trimmed; a blank one is refused. */
function cleanTitle(title: string): string {
  const trimmed = title.trim();
  if (trimmed === '') throw new AppError('VALIDATION_FAILED', 'title must not be blank', {}, [{ field: 'body.title', message: 'must not be blank' }]);
  return trimmed;
}

/** disappearing needs a ttl; the others take none. */
export function normalizeRetention(input: RetentionInput): { mode: RetentionInput['mode']; ttlSeconds: number | null } {
  if (input.mode === 'disappearing') {
    if (!input.ttlSeconds) throw new AppError('VALIDATION_FAILED', 'disappearing retention needs ttlSeconds', {}, [{ field: 'body.retention.ttlSeconds', message: 'is required for disappearing' }]);
    return { mode: input.mode, ttlSeconds: input.ttlSeconds };
  }
  return { mode: input.mode, ttlSeconds: null };
}

/** Creating, listing and describing conversations, and each member's own flags. */
export function createConversationsService(deps: {
  conversations: ConversationRepository;
  changeLog: ChangeLog;
  access: ConversationAccess;
  presenter: ConversationPresenter;
  events: ChatEvents;
  contacts: ContactChanges;
  media: Pick<MediaService, 'avatar'>;
  config: { maxGroupMembers: number };
}) {
  const { conversations, changeLog, access, presenter, events, config } = deps;

  /** The requested users, all reachable by the actor, or 404 USER_NOT_FOUND naming the others. */
  async function reachable(actor: Actor, ids: string[], field: string): Promise<string[]> {
    const found = new Set((await conversations.reachableUsers(actor.userId, ids)).map((u) => u.id));
    const missing = ids.filter((id) => !found.has(id) || id === actor.userId);
    if (missing.length > 0) {
      throw new AppError('USER_NOT_FOUND', `No such user: ${missing.join(', ')}`, {}, missing.map((id) => ({ field, message: `no such user ${id}` })));
    }
    return ids;
  }

  const historyFrom = (member: { joinedSeq: number; clearedSeq: number }) => Math.max(member.joinedSeq, member.clearedSeq);

  async function view(actor: Actor, conversationId: string) {
    const { conversation, member } = await access.reader(actor, conversationId);
    return presenter.one(conversation, member);
  }

  function announceCreated(conversation: ConversationRecord, userIds: string[]) {
    events.publish('conversation.created', conversation.id, { conversationId: conversation.id, kind: conversation.kind }, userIds);
  }

  return {
    get: view,

    /** The conversation of a socket room, for a current member; 404 otherwise. */
    async byRoom(actor: Actor, roomName: string) {
      const conversation = await conversations.findByRoomName(roomName);
      if (!conversation) throw new AppError('CONVERSATION_NOT_FOUND');
      const { member } = await access.member(actor, conversation.id).catch((error: unknown) => {
        throw isAppError(error) && error.code === 'NOT_A_MEMBER' ? new AppError('CONVERSATION_NOT_FOUND') : error;
      });
      return presenter.one(conversation, member);
    },

    /** Where each of the user's conversations stands, for a device socket's `ready` (most recent first). */
    async followed(actor: Actor, limit = FOLLOWED_LIMIT) {
      const rows = await conversations.followedBy(actor.userId, limit);
      const unread = await presenter.unreadCounts(rows);
      return rows.map(({ conversation, member }) => ({
        id: conversation.id,
        roomName: conversation.roomName,
        lastSeq: visibleLastSeq(conversation, member),
        unreadCount: unread.get(conversation.id) ?? 0,
        readSeq: member.readSeq,
        deliveredSeq: member.deliveredSeq,
        /** Not sent: messages at or below it are outside the member's history (joined later, cleared). */
        historyFrom: historyFrom(member),
      }));
    },

    /** Where a current member's history of the conversation starts (messages at or below it are not theirs). */
    async historyFrom(actor: Actor, conversationId: string): Promise<number> {
      return historyFrom((await access.member(actor, conversationId)).member);
    },

    /** The pair's one direct conversation; `created` tells 201 from 200. */
    async openDirect(actor: Actor, userId: string) {
      if (userId === actor.userId) throw new AppError('CANNOT_CHAT_WITH_SELF');
      await reachable(actor, [userId], 'body.userId');
      const { conversation, created, contactChanges } = await conversations.findOrCreateDirect(actor.userId, userId, (tx) => deps.contacts.contactChanged(tx, actor.userId, userId));
      if (created) announceCreated(conversation, [actor.userId, userId]);
      deps.contacts.publish(contactChanges);
      return { conversation: await view(actor, conversation.id), created };
    },

    async createGroup(actor: Actor, input: { title: string; memberIds: string[]; avatar?: string; description?: string; retention?: RetentionInput }) {
      const memberIds = input.memberIds.filter((id) => id !== actor.userId);
      if (memberIds.length + 1 > config.maxGroupMembers) throw new AppError('MEMBER_LIMIT_REACHED', `A group has at most ${config.maxGroupMembers} members`);
      await reachable(actor, memberIds, 'body.memberIds');
      const conversation = await conversations.createMulti({
        kind: 'group',
        ownerId: actor.userId,
        title: cleanTitle(input.title),
        description: input.description ?? null,
        avatarUrl: input.avatar ?? null,
        ...(input.retention ? { retention: normalizeRetention(input.retention) } : {}),
        userIds: memberIds,
      });
      announceCreated(conversation, [actor.userId, ...memberIds]);
      return view(actor, conversation.id);
    },

    async createBroadcast(actor: Actor, input: { title: string; recipientIds: string[] }) {
      if (input.recipientIds.length > config.maxGroupMembers) throw new AppError('MEMBER_LIMIT_REACHED', `A broadcast list has at most ${config.maxGroupMembers} recipients`);
      await reachable(actor, input.recipientIds, 'body.recipientIds');
      const conversation = await conversations.createMulti({ kind: 'broadcast', ownerId: actor.userId, title: cleanTitle(input.title), userIds: input.recipientIds });
      announceCreated(conversation, [actor.userId]);
      return view(actor, conversation.id);
    },

    /** The caller's inbox, or with `sharedWith` the conversations they share with that user. */
    async list(actor: Actor, input: { q?: string; archived?: boolean; sharedWith?: string; cursor?: string; limit: number }) {
      const after = input.cursor ? decodeCursor(input.cursor, isInboxCursor) : undefined;
      const rows = await conversations.inbox({
        userId: actor.userId,
        ...(input.archived !== undefined ? { archived: input.archived } : {}),
        ...(input.q ? { q: input.q } : {}),
        ...(input.sharedWith ? { sharedWith: input.sharedWith } : {}),
        ...(after ? { after } : {}),
        limit: input.limit,
      });
      const page = rows.slice(0, input.limit);
      const last = page.at(-1);
      return {
        items: await presenter.present(page),
        nextCursor: rows.length > input.limit && last ? encodeCursor({ p: last.member.pinned, t: last.member.activityAt.toISOString(), i: last.conversation.id }) : null,
      };
    },

    /**
     * Title, description and avatar: group owner/admins, broadcast owner. Retention: also either member
     * of a direct chat. Applies to messages sent from now on.
     */
    async update(actor: Actor, conversationId: string, patch: { title?: string; description?: string | null; avatar?: string | null; avatarMediaId?: string; retention?: RetentionInput }) {
      const current = await access.member(actor, conversationId);
      const decorative = patch.title !== undefined || patch.description !== undefined || patch.avatar !== undefined || patch.avatarMediaId !== undefined;
      if (current.conversation.kind === 'direct') {
        if (decorative) throw new AppError('NOT_A_GROUP', 'A direct chat takes only retention');
      } else {
        await access.admin(actor, conversationId);
      }
      const retention = patch.retention ? normalizeRetention(patch.retention) : undefined;
      if (patch.avatarMediaId !== undefined) {
        if (patch.avatar !== undefined) throw new AppError('VALIDATION_FAILED', 'Send avatar or avatarMediaId, not both', {}, [{ field: 'body.avatarMediaId', message: 'must not be sent with avatar' }]);
        patch = { ...patch, avatar: await deps.media.avatar(actor, patch.avatarMediaId) };
      }
      const { result: updated, changes } = await changeLog.write(conversationId, async (tx, seq) => {
        const row = await conversations.update(
          conversationId,
          {
            ...(patch.title !== undefined ? { title: cleanTitle(patch.title) } : {}),
            ...(patch.description !== undefined ? { description: patch.description } : {}),
            ...(patch.avatar !== undefined ? { avatarUrl: patch.avatar } : {}),
            ...(retention ? { retention: retention.mode, ttlSeconds: retention.ttlSeconds } : {}),
          },
          tx,
        );
        if (!row) throw new AppError('CONVERSATION_NOT_FOUND');
        const after = { ...row, lastSeq: seq };
        return { result: after, changes: [{ key: 'conversation', type: 'conversation.updated' as const, data: sharedFields(after) }] };
      });
      events.publishChanges(changes);
      return presenter.one(updated, current.member);
    },

    /** The caller's own flags on a conversation they are or were in. */
    async updateSettings(actor: Actor, conversationId: string, patch: { muted?: boolean; mutedUntil?: string | null; notify?: MemberRecord['notify']; archived?: boolean; pinned?: boolean }) {
      const { conversation } = await access.reader(actor, conversationId);
      let mutedUntil: Date | null | undefined;
      if (patch.mutedUntil !== undefined) mutedUntil = patch.mutedUntil === null ? null : new Date(patch.mutedUntil);
      if (patch.muted === false) mutedUntil = null;
      else if (patch.muted === true && !patch.mutedUntil) mutedUntil = MUTED_FOREVER;
      const { result, changes } = await changeLog.write(conversationId, async (tx, seq) => {
        const member = await conversations.updateMember(
          conversationId,
          actor.userId,
          {
            ...(mutedUntil !== undefined ? { mutedUntil } : {}),
            ...(patch.notify !== undefined ? { notify: patch.notify } : {}),
            ...(patch.archived !== undefined ? { archived: patch.archived } : {}),
            ...(patch.pinned !== undefined ? { pinned: patch.pinned } : {}),
          },
          tx,
        );
        return { result: { member: member!, seq }, changes: [{ key: `settings:${actor.userId}`, type: 'conversation.settings' as const, data: memberSettings(member!), audienceUserId: actor.userId }] };
      });
      events.publishChanges(changes);
      return presenter.one({ ...conversation, lastSeq: result.seq }, result.member);
    },
  };
}

export type ConversationsService = ReturnType<typeof createConversationsService>;
