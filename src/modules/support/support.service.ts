import { AppError } from '../../errors.js';
import type { ChatEvents } from '../../events/chat-events.js';
import { timePage, timePosition } from '../../lib/time-page.js';
import type { AuditRepository } from '../admin/audit.repository.js';
import { STAFF_ROLES, assertRole } from '../admin/staff.js';
import type { Actor } from '../auth/tokens.js';
import type { ChangeLog } from '../conversations/change-log.js';
import type { ConversationRepository } from '../conversations/conversation.repository.js';
import type { ConversationsService } from '../conversations/conversations.service.js';
import type { MessagesService } from '../messages/messages.service.js';
import { toPublicUser } from '../users/user.views.js';
import type { QueueRow, SupportRepository } from './support.repository.js';

/** Staff listed on a thread (more have never been in one conversation in practice). */
const STAFF_LISTED = 100;

/**
 * Customer service. A user opens their one support conversation; any staff member (support, admin)
 * can claim, read and answer it, and by doing so joins it as a member: from then on the ordinary
 * /chat, /message and socket paths serve them, and the user sees who answered from the members
 * (display names) and each message's senderId. Staff reach conversations through this service only
 * when they are support conversations: a private conversation's id answers 404 here as everywhere.
 */
export function createSupportService(deps: {
  support: SupportRepository;
  conversations: ConversationRepository;
  conversationsService: ConversationsService;
  changeLog: ChangeLog;
  messages: MessagesService;
  audit: AuditRepository;
  events: ChatEvents;
}) {
  const { support, conversations, conversationsService, changeLog, messages, audit, events } = deps;

  async function view(actor: Actor, conversationId: string, ownerId: string) {
    const members = await conversations.members(conversationId, STAFF_LISTED + 1);
    return {
      conversation: await conversationsService.get(actor, conversationId),
      staff: members.filter((m) => m.user.id !== ownerId).map((m) => toPublicUser(m.user)),
    };
  }

  /** Makes the user a current member and records it, unless they are one. */
  async function join(conversationId: string, userId: string): Promise<void> {
    const { changes } = await changeLog.write(conversationId, async (tx) => {
      const receipts = await support.join(conversationId, userId, tx);
      return { result: null, changes: receipts ? [{ key: `member:${userId}`, type: 'member.joined' as const, data: { conversationId, userId, role: 'member', ...receipts } }] : [] };
    });
    events.publishChanges(changes, [userId]);
  }

  /** Staff only, support conversations only; joins the staff member to it once. */
  async function enter(actor: Actor, conversationId: string) {
    assertRole(actor, STAFF_ROLES);
    const thread = await support.find(conversationId);
    if (!thread) throw new AppError('CONVERSATION_NOT_FOUND');
    if (thread.userId === actor.userId) return thread;
    await join(conversationId, actor.userId);
    return thread;
  }

  async function claim(actor: Actor, conversationId: string) {
    const thread = await enter(actor, conversationId);
    await support.claim(conversationId, actor.userId);
    await audit.record({ actorId: actor.userId, action: 'support.claimed', targetType: 'conversation', targetId: conversationId, details: { previousAssigneeId: thread.assigneeId } });
    return view(actor, conversationId, thread.userId);
  }

  async function presentQueue(rows: QueueRow[]) {
    const ids = [...new Set(rows.flatMap((r) => (r.assigneeId ? [r.userId, r.assigneeId] : [r.userId])))];
    const users = new Map((await conversations.usersByIds(ids)).map((u) => [u.id, toPublicUser(u)]));
    return rows.map((r) => ({
      conversationId: r.conversationId,
      roomName: r.roomName,
      user: users.get(r.userId)!,
      assignee: r.assigneeId ? (users.get(r.assigneeId) ?? null) : null,
      lastSeq: r.lastSeq,
      unreadCount: r.unread,
      waitingSince: r.waitingSince?.toISOString() ?? null,
      waitingSeconds: r.waitingSince ? Math.max(0, Math.floor((Date.now() - r.waitingSince.getTime()) / 1000)) : 0,
      lastMessageAt: r.lastMessageAt?.toISOString() ?? null,
      createdAt: r.createdAt.toISOString(),
    }));
  }

  return {
    /** The caller's support conversation, created on first use (`created`: 201 rather than 200). */
    async open(actor: Actor) {
      const { thread, created } = await support.open(actor.userId);
      const { conversationId } = thread;
      if (created) events.publish('conversation.created', conversationId, { conversationId, kind: 'support' }, [actor.userId]);
      // A user who left their support conversation is back in it (with its history) when they open it again.
      else await join(conversationId, actor.userId);
      return { thread: await view(actor, thread.conversationId, actor.userId), created };
    },

    /** `assignee`: `me`, `none` (unclaimed) or a staff id; newest thread first. */
    async queue(actor: Actor, input: { assignee?: string; cursor?: string; limit: number }) {
      assertRole(actor, STAFF_ROLES);
      const assigneeId = input.assignee === undefined ? undefined : input.assignee === 'none' ? null : input.assignee === 'me' ? actor.userId : input.assignee;
      const after = timePosition(input.cursor);
      const rows = await support.queue({ ...(assigneeId !== undefined ? { assigneeId } : {}), ...(after ? { after } : {}), limit: input.limit });
      const page = timePage(rows, input.limit, (r) => ({ at: r.createdAt, id: r.conversationId }), (r) => r);
      return { items: await presentQueue(page.items), nextCursor: page.nextCursor };
    },

    claim,

    async history(actor: Actor, conversationId: string, input: { before?: number; after?: number; limit: number }) {
      await enter(actor, conversationId);
      return messages.history(actor, conversationId, input);
    },

    /** A staff answer; an unclaimed conversation becomes the sender's. */
    async send(actor: Actor, conversationId: string, input: { clientId: string; body: string }) {
      const thread = await enter(actor, conversationId);
      if (!thread.assigneeId) await support.claim(conversationId, actor.userId);
      const result = await messages.send(actor, { conversationId, clientId: input.clientId, type: 'text', body: input.body });
      if (result.created) await audit.record({ actorId: actor.userId, action: 'support.replied', targetType: 'conversation', targetId: conversationId, details: { messageId: result.message.id } });
      return result;
    },
  };
}

export type SupportService = ReturnType<typeof createSupportService>;
