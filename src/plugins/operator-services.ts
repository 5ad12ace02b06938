import type { UserLog } from '../modules/users/user-log.js';
import type { Database } from '../db/client.js';
import type { ChatEvents } from '../events/chat-events.js';
import { createAdminUsersRepository } from '../modules/admin/admin-users.repository.js';
import { type AdminUsersService, createAdminUsersService } from '../modules/admin/admin-users.service.js';
import { createAuditRepository } from '../modules/admin/audit.repository.js';
import { createStatsRepository } from '../modules/admin/stats.repository.js';
import { type StatsService, createStatsService } from '../modules/admin/stats.service.js';
import { createAnnouncementRepository } from '../modules/announcements/announcement.repository.js';
import { type AnnouncementsService, createAnnouncementsService } from '../modules/announcements/announcements.service.js';
import type { SessionRepository } from '../modules/auth/session.repository.js';
import { createFeedbackRepository } from '../modules/feedback/feedback.repository.js';
import { type FeedbackService, createFeedbackService } from '../modules/feedback/feedback.service.js';
import type { ChangeLog } from '../modules/conversations/change-log.js';
import type { ConversationRepository } from '../modules/conversations/conversation.repository.js';
import type { ConversationsService } from '../modules/conversations/conversations.service.js';
import type { MediaService } from '../modules/media/media.service.js';
import type { MessageRepository } from '../modules/messages/message.repository.js';
import type { MessagesService } from '../modules/messages/messages.service.js';
import { createReportRepository } from '../modules/reports/report.repository.js';
import { type ReportsService, createReportsService } from '../modules/reports/reports.service.js';
import { createSupportRepository } from '../modules/support/support.repository.js';
import { type SupportService, createSupportService } from '../modules/support/support.service.js';
import type { UserRepository } from '../modules/users/user.repository.js';
import type { AccountService } from '../modules/account/account.service.js';

export interface OperatorServices {
  feedback: FeedbackService;
  announcements: AnnouncementsService;
  adminUsers: AdminUsersService;
  support: SupportService;
  reports: ReportsService;
  stats: StatsService;
}

/** Feedback, announcements and the staff tools, over the repositories the core services share. */
export interface OperatorDeps {
  users: UserRepository;
  account: Pick<AccountService, 'deleteById'>;
  sessions: SessionRepository;
  events: ChatEvents;
  conversationRepository: ConversationRepository;
  changeLog: ChangeLog;
  conversations: ConversationsService;
  messages: MessagesService;
  messageRepository: MessageRepository;
  media: MediaService;
  userLog: UserLog;
  /** Users online on any instance (the socket gateway's presence; read at request time). */
  onlineUsers: () => Promise<number>;
  /** A user's access changed (role, ban): every instance re-reads it on the user's next request. */
  accessChanged: (change: { userId: string }) => void;
}

export function createOperatorServices(db: Database, deps: OperatorDeps): OperatorServices {
  const { users, sessions, events } = deps;
  const audit = createAuditRepository(db);
  const supportRepository = createSupportRepository(db);
  const adminUsers = createAdminUsersService({
    users,
    adminUsers: createAdminUsersRepository(db),
    sessions,
    audit,
    deleteAccount: (userId) => deps.account.deleteById(userId),
    accessChanged: (userId) => deps.accessChanged({ userId }),
    async onStaffRemoved(userId, by) {
      for (const conversationId of await supportRepository.staffConversations(userId)) {
        const { changes } = await deps.changeLog.write(conversationId, async (tx) => {
          const removed = await supportRepository.removeStaff(conversationId, userId, tx);
          const data = { conversationId, userId, removedBy: by.userId };
          return { result: null, changes: removed ? [{ key: `member:${userId}`, type: 'member.left' as const, data }] : [] };
        });
        events.publishChanges(changes, [userId]);
      }
      await supportRepository.forgetStaff(userId);
    },
  });
  return {
    feedback: createFeedbackService({ feedback: createFeedbackRepository(db), users, audit, events, media: deps.media }),
    announcements: createAnnouncementsService({ db, announcements: createAnnouncementRepository(db), userLog: deps.userLog, audit, events }),
    adminUsers,
    stats: createStatsService({ stats: createStatsRepository(db), onlineUsers: deps.onlineUsers }),
    reports: createReportsService({ reports: createReportRepository(db), users, messages: deps.messages, messageRepository: deps.messageRepository, adminUsers, audit, events }),
    support: createSupportService({
      support: supportRepository,
      conversations: deps.conversationRepository,
      conversationsService: deps.conversations,
      changeLog: deps.changeLog,
      messages: deps.messages,
      audit,
      events,
    }),
  };
}
