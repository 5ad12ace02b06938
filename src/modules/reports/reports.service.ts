import { AppError } from '../../errors.js';
import type { ChatEvents } from '../../events/chat-events.js';
import { timePage, timePosition } from '../../lib/time-page.js';
import type { AdminUsersService } from '../admin/admin-users.service.js';
import type { AuditRepository } from '../admin/audit.repository.js';
import { assertRole } from '../admin/staff.js';
import type { Actor } from '../auth/tokens.js';
import type { MessageRepository } from '../messages/message.repository.js';
import type { MessagesService } from '../messages/messages.service.js';
import type { UserRepository } from '../users/user.repository.js';
import type { ReportRepository, ReportRow, ReportStatus } from './report.repository.js';

function toReport(row: ReportRow) {
  return { ...row, resolvedAt: row.resolvedAt?.toISOString() ?? null, createdAt: row.createdAt.toISOString() };
}

export type ReportAction = 'dismiss' | 'delete_message' | 'ban';

/**
 * Abuse reports. A user reports a message they can see (its body is copied into the report, so staff
 * read what was reported and nothing else of the conversation) or a user. Admins work the queue:
 * dismiss, delete the message for everyone, or ban its sender / the reported user.
 */
export function createReportsService(deps: {
  reports: ReportRepository;
  users: UserRepository;
  messages: MessagesService;
  messageRepository: MessageRepository;
  adminUsers: AdminUsersService;
  audit: AuditRepository;
  events: ChatEvents;
}) {
  const { reports, users, messages, messageRepository, adminUsers, audit } = deps;

  async function deleteMessage(messageId: string | null): Promise<void> {
    const row = messageId ? await messageRepository.findById(messageId) : undefined;
    if (!row) throw new AppError('MESSAGE_NOT_FOUND', 'The reported message no longer exists');
    if (row.deletedAt) return;
    await messages.deleteForEveryone(row.conversationId, row.id);
  }

  return {
    async create(actor: Actor, input: { messageId?: string; userId?: string; reason: string }) {
      const reason = input.reason.trim();
      if (!reason) throw new AppError('VALIDATION_FAILED', 'reason must not be blank', {}, [{ field: 'body.reason', message: 'must not be blank' }]);
      if (input.messageId) {
        const message = await messages.visibility.visibleRow(actor, input.messageId);
        if (message.senderId === actor.userId) throw new AppError('BAD_REQUEST', 'You cannot report your own message');
        return toReport(await reports.create({ reporterId: actor.userId, messageId: message.id, targetUserId: message.senderId, messageBody: message.deletedAt ? null : message.body, reason }));
      }
      if (input.userId === actor.userId) throw new AppError('BAD_REQUEST', 'You cannot report yourself');
      const target = input.userId ? await users.findById(input.userId) : undefined;
      if (!target) throw new AppError('USER_NOT_FOUND');
      return toReport(await reports.create({ reporterId: actor.userId, messageId: null, targetUserId: target.id, messageBody: null, reason }));
    },

    async list(actor: Actor, input: { status: ReportStatus; cursor?: string; limit: number }) {
      assertRole(actor, ['admin']);
      return timePage(await reports.list(input.status, input.limit, timePosition(input.cursor)), input.limit, (r) => ({ at: r.createdAt, id: r.id }), toReport);
    },

    async act(actor: Actor, id: string, input: { action: ReportAction; reason?: string }) {
      assertRole(actor, ['admin']);
      const report = await reports.findById(id);
      if (!report) throw new AppError('NOT_FOUND', 'No such report');
      if (report.status !== 'open') throw new AppError('CONFLICT', 'The report was already handled');
      if (input.action === 'delete_message') await deleteMessage(report.messageId);
      if (input.action === 'ban') {
        if (!report.targetUserId) throw new AppError('USER_NOT_FOUND', 'The reported user no longer exists');
        await adminUsers.ban(actor, report.targetUserId, input.reason ?? report.reason, { reportId: report.id });
      }
      const resolved = await reports.resolve(id, { status: input.action === 'dismiss' ? 'dismissed' : 'actioned', action: input.action, resolvedBy: actor.userId });
      if (!resolved) throw new AppError('CONFLICT', 'The report was already handled');
      await audit.record({ actorId: actor.userId, action: `report.${input.action}`, targetType: 'report', targetId: id, details: { messageId: report.messageId, targetUserId: report.targetUserId } });
      return toReport(resolved);
    },
  };
}

export type ReportsService = ReturnType<typeof createReportsService>;
