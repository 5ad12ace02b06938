import { Type } from 'typebox';
import { feedbackCategories, feedbackStatuses, reportStatuses, userRoles, userStatuses } from '../db/schema.js';
import { Id, Nullable, PageQuery, Text, Timestamp } from './common.js';
import { Attachment } from './media.js';

/** Wire schemas of feedback, support, announcements, reports and the staff routes (/admin). */

const Subject = Text({ minLength: 1, maxLength: 200 });
const LongText = Text({ minLength: 1, maxLength: 5000, multiline: true });
const Search = Text({ minLength: 1, maxLength: 100 });
const Reason = Text({ minLength: 1, maxLength: 1000, multiline: true });
const TicketAttachmentIds = Type.Array(Id, { minItems: 1, maxItems: 10, description: 'Media ids you uploaded (POST /media), any kind: screenshots, screen recordings, logs.' });

export const FeedbackReply = Type.Object(
  { id: Id, body: Type.String(), author: Type.Object({ id: Nullable(Id), displayName: Nullable(Type.String()) }), createdAt: Timestamp },
  { $id: 'FeedbackReply', description: 'A staff answer, signed with the staff member’s display name.' },
);

export const FeedbackTicket = Type.Object(
  {
    id: Id,
    userId: Id,
    category: Type.Enum([...feedbackCategories]),
    subject: Type.String(),
    body: Type.String(),
    status: Type.Enum([...feedbackStatuses]),
    assigneeId: Nullable(Id),
    attachments: Type.Array(Attachment, { description: 'The author’s uploads, readable by the author and staff at GET /media/{id}.' }),
    replies: Type.Array(Type.Ref('FeedbackReply'), { description: 'Oldest first.' }),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  },
  { $id: 'FeedbackTicket' },
);

export const FeedbackBody = Type.Object(
  { category: Type.Enum([...feedbackCategories]), subject: Subject, body: LongText, attachments: Type.Optional(TicketAttachmentIds) },
  { additionalProperties: false, examples: [{ category: 'bug', subject: 'Photos do not load', body: 'Since this morning every photo shows a grey box.' }] },
);
export const OwnFeedbackQuery = Type.Object({ ...PageQuery.properties, status: Type.Optional(Type.Enum([...feedbackStatuses])) });
export const AdminFeedbackQuery = Type.Object({
  ...OwnFeedbackQuery.properties,
  category: Type.Optional(Type.Enum([...feedbackCategories])),
  assigneeId: Type.Optional(Id),
  q: Type.Optional(Search),
});
export const ReplyBody = Type.Object({ body: LongText }, { additionalProperties: false, examples: [{ body: 'Thanks, fixed in today’s release.' }] });
export const FeedbackPatchBody = Type.Object(
  { status: Type.Optional(Type.Enum([...feedbackStatuses])), assigneeId: Type.Optional(Nullable(Id)) },
  { additionalProperties: false, minProperties: 1, examples: [{ status: 'closed' }] },
);

export const Announcement = Type.Object(
  { id: Id, title: Type.String(), body: Type.String(), startsAt: Timestamp, endsAt: Nullable(Timestamp), read: Type.Boolean(), createdAt: Timestamp },
  { $id: 'Announcement' },
);
export const AdminAnnouncement = Type.Object(
  {
    id: Id,
    title: Type.String(),
    body: Type.String(),
    startsAt: Timestamp,
    endsAt: Nullable(Timestamp),
    withdrawnAt: Nullable(Timestamp),
    active: Type.Boolean(),
    readCount: Type.Integer({ minimum: 0 }),
    createdBy: Nullable(Id),
    createdAt: Timestamp,
  },
  { $id: 'AdminAnnouncement' },
);
export const AnnouncementBody = Type.Object(
  { title: Subject, body: LongText, startsAt: Type.Optional(Timestamp), endsAt: Type.Optional(Nullable(Timestamp)) },
  { additionalProperties: false, examples: [{ title: 'Maintenance tonight', body: 'Messages may arrive late between 02:00 and 02:30 UTC.' }] },
);
export const AnnouncementPatchBody = Type.Object(
  { title: Type.Optional(Subject), body: Type.Optional(LongText), startsAt: Type.Optional(Timestamp), endsAt: Type.Optional(Nullable(Timestamp)) },
  { additionalProperties: false, minProperties: 1 },
);
export const AdminAnnouncementsQuery = Type.Object({ ...PageQuery.properties, state: Type.Enum(['all', 'active', 'withdrawn'], { default: 'all' }) });

export const SupportThread = Type.Object(
  {
    conversation: Type.Ref('Conversation'),
    staff: Type.Array(Type.Ref('PublicUser'), { description: 'Staff members in the conversation: sign their messages (senderId) with these display names.' }),
  },
  { $id: 'SupportThread' },
);
export const SupportQueueItem = Type.Object(
  {
    conversationId: Id,
    roomName: Type.String(),
    user: Type.Ref('PublicUser'),
    assignee: Nullable(Type.Ref('PublicUser')),
    lastSeq: Type.Integer({ minimum: 0 }),
    unreadCount: Type.Integer({ minimum: 0, description: 'Messages after the furthest any staff member has read.' }),
    waitingSince: Nullable(Timestamp),
    waitingSeconds: Type.Integer({ minimum: 0, description: 'How long the oldest unanswered message has waited (0 when none).' }),
    lastMessageAt: Nullable(Timestamp),
    createdAt: Timestamp,
  },
  { $id: 'SupportQueueItem' },
);
export const SupportQueueQuery = Type.Object({
  ...PageQuery.properties,
  assignee: Type.Optional(Type.Union([Type.Literal('me'), Type.Literal('none'), Id], { description: '`me`, `none` (unclaimed) or a staff id.' })),
});
export const SupportSendBody = Type.Object(
  { clientId: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9._:-]+$' }), body: Text({ minLength: 1, multiline: true }) },
  { additionalProperties: false, examples: [{ clientId: 'c-17', body: 'Hi, I am looking into it.' }] },
);

export const ReportBody = Type.Object(
  { messageId: Type.Optional(Id), userId: Type.Optional(Id), reason: Reason },
  { additionalProperties: false, minProperties: 2, maxProperties: 2, description: 'Exactly one of messageId and userId, and a reason.', examples: [{ messageId: '0192f0c1-7a00-7000-8000-0000000000c1', reason: 'spam' }] },
);
export const Report = Type.Object(
  {
    id: Id,
    reporterId: Nullable(Id),
    messageId: Nullable(Id),
    targetUserId: Nullable(Id),
    messageBody: Nullable(Type.String({ description: 'The reported message as it was when reported (staff only).' })),
    reason: Type.String(),
    status: Type.Enum([...reportStatuses]),
    action: Nullable(Type.String()),
    resolvedBy: Nullable(Id),
    resolvedAt: Nullable(Timestamp),
    createdAt: Timestamp,
  },
  { $id: 'Report' },
);
export const ReportsQuery = Type.Object({ ...PageQuery.properties, status: Type.Enum([...reportStatuses], { default: 'open' }) });
export const ReportActionBody = Type.Object(
  { action: Type.Enum(['dismiss', 'delete_message', 'ban']), reason: Type.Optional(Reason) },
  { additionalProperties: false, examples: [{ action: 'delete_message' }] },
);

export const AdminUser = Type.Object(
  {
    id: Id,
    username: Type.String(),
    displayName: Type.String(),
    email: Nullable(Type.String()),
    phone: Nullable(Type.String()),
    role: Type.Enum([...userRoles]),
    status: Type.Enum([...userStatuses]),
    bannedAt: Nullable(Timestamp),
    banReason: Nullable(Type.String()),
    lastSeenAt: Nullable(Timestamp),
    createdAt: Timestamp,
  },
  { $id: 'AdminUser' },
);
export const AdminUsersQuery = Type.Object({
  ...PageQuery.properties,
  q: Type.Optional(Search),
  status: Type.Optional(Type.Enum([...userStatuses])),
  role: Type.Optional(Type.Enum([...userRoles])),
});
export const BanBody = Type.Object({ reason: Reason }, { additionalProperties: false, examples: [{ reason: 'spam' }] });
export const UserRoleBody = Type.Object({ role: Type.Enum([...userRoles]) }, { additionalProperties: false, examples: [{ role: 'support' }] });
export const AdminSession = Type.Object({ id: Id, deviceName: Nullable(Type.String()), userAgent: Nullable(Type.String()), ip: Nullable(Type.String()), createdAt: Timestamp, lastUsedAt: Timestamp, expiresAt: Timestamp });

export const AuditEntry = Type.Object(
  { id: Id, actorId: Nullable(Id), action: Type.String(), targetType: Type.String(), targetId: Nullable(Type.String()), details: Nullable(Type.Object({}, { additionalProperties: true })), createdAt: Timestamp },
  { $id: 'AuditEntry' },
);
export const AuditQuery = Type.Object({ ...PageQuery.properties, actorId: Type.Optional(Id), action: Type.Optional(Text({ maxLength: 64 })), targetId: Type.Optional(Text({ maxLength: 64 })) });

export const Stats = Type.Object({
  users: Type.Object({ total: Type.Integer(), activeToday: Type.Integer({ description: 'Seen (socket or sign-in) since 00:00 UTC.' }), banned: Type.Integer() }),
  messagesPerDay: Type.Array(Type.Object({ day: Type.String({ format: 'date' }), count: Type.Integer() }), { description: 'The last 7 days (UTC), oldest first.' }),
  onlineNow: Type.Integer({ description: 'Users with a socket open (across instances).' }),
  openTickets: Type.Integer(),
  openReports: Type.Integer(),
});

export const sharedOperatorSchemas = [FeedbackReply, FeedbackTicket, Announcement, AdminAnnouncement, SupportThread, SupportQueueItem, Report, AdminUser, AuditEntry];
