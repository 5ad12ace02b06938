import { sql } from 'drizzle-orm';
import {
  bigint,
  boolean,
  check,
  customType,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';
import { newId } from '../lib/ids.js';

/*
 * Core tables. Migrations in /migrations are generated from this file by drizzle-kit
 * (`npm run db:generate`); never edit a committed migration, add a new one.
 */

const id = () => uuid('id').primaryKey().$defaultFn(() => newId());
const createdAt = () => timestamp('created_at', { withTimezone: true }).notNull().defaultNow();
const updatedAt = () => timestamp('updated_at', { withTimezone: true }).notNull().defaultNow();
/** Sequence numbers are bigint in SQL; JS numbers are exact up to 2^53, far beyond any chat. */
const seqColumn = (name: string) => bigint(name, { mode: 'number' }).notNull().default(0);
const tsvector = customType<{ data: string }>({ dataType: () => 'tsvector' });
/**
 * The transaction that wrote a row of the log (xid8): a sync token is a snapshot, and what changed
 * since it is what it does not see (modules/sync). Rows written before the column existed hold NULL:
 * seen by every snapshot.
 */
const writtenBy = (name: string) => customType<{ data: string }>({ dataType: () => 'xid8' })(name).default(sql`pg_current_xact_id()`);

export const userRoles = ['user', 'support', 'admin'] as const;
/** `deleted`: a tombstone kept so messages and memberships keep their sender; nothing personal is left on it. */
export const userStatuses = ['active', 'banned', 'deleted'] as const;

export const users = pgTable(
  'users',
  {
    id: id(),
    username: text('username').notNull(),
    email: text('email'),
    emailVerifiedAt: timestamp('email_verified_at', { withTimezone: true }),
    phone: text('phone'),
    phoneVerifiedAt: timestamp('phone_verified_at', { withTimezone: true }),
    passwordHash: text('password_hash').notNull(),
    displayName: text('display_name').notNull(),
    about: text('about'),
    avatarUrl: text('avatar_url'),
    role: text('role', { enum: userRoles }).notNull().default('user'),
    status: text('status', { enum: userStatuses }).notNull().default('active'),
    bannedAt: timestamp('banned_at', { withTimezone: true }),
    banReason: text('ban_reason'),
    /** When the account was deleted (status `deleted`): profile and contacts erased, the row kept as a tombstone. */
    deletedAt: timestamp('deleted_at', { withTimezone: true }),
    lastSeenAt: timestamp('last_seen_at', { withTimezone: true }),
    /** Privacy: others see online/offline but never when this user was last seen. */
    hideLastSeen: boolean('hide_last_seen').notNull().default(false),
    /** Do not disturb: no pushes at all until then. */
    dndUntil: timestamp('dnd_until', { withTimezone: true }),
    /** Pushes to this user show the sender and text (false: only "New message"); PUSH_PREVIEW=false overrides it. */
    pushPreview: boolean('push_preview').notNull().default(true),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex('users_username_lower_key').on(sql`lower(${t.username})`),
    uniqueIndex('users_email_lower_key').on(sql`lower(${t.email})`),
    uniqueIndex('users_phone_key').on(t.phone),
    // Prefix search (`like 'abc%'`) on the lower-cased names, independent of the database collation.
    index('users_username_search_idx').on(sql`lower(${t.username}) text_pattern_ops`),
    index('users_display_name_search_idx').on(sql`lower(${t.displayName}) text_pattern_ops`),
    check('users_role_check', sql`${t.role} in ('user', 'support', 'admin')`),
    check('users_status_check', sql`${t.status} in ('active', 'banned', 'deleted')`),
  ],
);

/** A signed-in device. Refresh tokens rotate within a session; reuse of a rotated token revokes it. */
export const sessions = pgTable(
  'sessions',
  {
    id: id(),
    userId: uuid('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
    deviceName: text('device_name'),
    userAgent: text('user_agent'),
    ip: text('ip'),
    createdAt: createdAt(),
    lastUsedAt: timestamp('last_used_at', { withTimezone: true }).notNull().defaultNow(),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
    revokedAt: timestamp('revoked_at', { withTimezone: true }),
    revokedReason: text('revoked_reason'),
  },
  (t) => [index('sessions_user_id_idx').on(t.userId)],
);

/** Every refresh token ever issued, by hash; `rotatedAt` set means it was used and must not come back. */
export const refreshTokens = pgTable(
  'refresh_tokens',
  {
    tokenHash: text('token_hash').primaryKey(),
    sessionId: uuid('session_id').notNull().references(() => sessions.id, { onDelete: 'cascade' }),
    createdAt: createdAt(),
    rotatedAt: timestamp('rotated_at', { withTimezone: true }),
  },
  (t) => [index('refresh_tokens_session_id_idx').on(t.sessionId)],
);

/** A one-time code sent to a phone or mailbox; only its hash is stored. */
export const otpChallenges = pgTable(
  'otp_challenges',
  {
    id: id(),
    userId: uuid('user_id').references(() => users.id, { onDelete: 'cascade' }),
    purpose: text('purpose').notNull(),
    channel: text('channel', { enum: ['sms', 'email'] }).notNull(),
    destination: text('destination').notNull(),
    codeHash: text('code_hash').notNull(),
    attempts: integer('attempts').notNull().default(0),
    sendCount: integer('send_count').notNull().default(1),
    lastSentAt: timestamp('last_sent_at', { withTimezone: true }).notNull().defaultNow(),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
    consumedAt: timestamp('consumed_at', { withTimezone: true }),
    payload: jsonb('payload'),
    ip: text('ip'),
    createdAt: createdAt(),
  },
  (t) => [
    index('otp_challenges_destination_created_idx').on(t.destination, t.createdAt),
    index('otp_challenges_ip_created_idx').on(t.ip, t.createdAt),
    check('otp_challenges_channel_check', sql`${t.channel} in ('sms', 'email')`),
  ],
);

export const conversationKinds = ['direct', 'group', 'broadcast', 'support'] as const;
export const retentionModes = ['persistent', 'disappearing', 'ephemeral'] as const;

/**
 * `lastSeq` is the conversation's position counter: a message or a recorded change (conversation_changes)
 * takes the next one in its own transaction, under this row's lock, so seq order is commit order.
 */
export const conversations = pgTable(
  'conversations',
  {
    id: id(),
    kind: text('kind', { enum: conversationKinds }).notNull(),
    title: text('title'),
    description: text('description'),
    avatarUrl: text('avatar_url'),
    /** Public handle used by `/ws/chat/:room`. */
    roomName: text('room_name').notNull(),
    /** `smallerUserId:largerUserId` for direct chats, so a pair can have only one. */
    directKey: text('direct_key'),
    createdBy: uuid('created_by').references(() => users.id, { onDelete: 'set null' }),
    lastSeq: seqColumn('last_seq'),
    /** The seq of the last message (stored or relayed): receipts never move past it. */
    lastMessageSeq: seqColumn('last_message_seq'),
    /** The transaction of the last write to the log (every seq taken, and the creation). */
    lastXid: writtenBy('last_xid'),
    lastMessageAt: timestamp('last_message_at', { withTimezone: true }),
    retention: text('retention', { enum: retentionModes }).notNull().default('persistent'),
    ttlSeconds: integer('ttl_seconds'),
    /** Current members (broadcast lists: recipients), kept by the membership writes: limits and previews read it in O(1). */
    memberCount: integer('member_count').notNull().default(0),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex('conversations_room_name_key').on(t.roomName),
    uniqueIndex('conversations_direct_key_key').on(t.directKey),
    check('conversations_kind_check', sql`${t.kind} in ('direct', 'group', 'broadcast', 'support')`),
    check('conversations_retention_check', sql`${t.retention} in ('persistent', 'disappearing', 'ephemeral')`),
  ],
);

export const memberRoles = ['owner', 'admin', 'member'] as const;
export const notifyModes = ['all', 'mentions', 'none'] as const;

/**
 * Membership plus the member's own view: receipts (`readSeq`, `deliveredSeq`), cleared history, flags.
 * A member sees the seqs in (max(joinedSeq, clearedSeq), leftSeq ?? lastSeq]. Leaving keeps the row
 * (`leftAt`, `leftSeq`) so a former member still reads what was said while they were in.
 * `activityAt` copies the conversation's last activity so each inbox pages by one index.
 */
export const conversationMembers = pgTable(
  'conversation_members',
  {
    conversationId: uuid('conversation_id').notNull().references(() => conversations.id, { onDelete: 'cascade' }),
    userId: uuid('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
    role: text('role', { enum: memberRoles }).notNull().default('member'),
    joinedAt: timestamp('joined_at', { withTimezone: true }).notNull().defaultNow(),
    readSeq: seqColumn('read_seq'),
    deliveredSeq: seqColumn('delivered_seq'),
    clearedSeq: seqColumn('cleared_seq'),
    joinedSeq: seqColumn('joined_seq'),
    leftAt: timestamp('left_at', { withTimezone: true }),
    leftSeq: bigint('left_seq', { mode: 'number' }),
    /** The transaction that made this a current membership (created, added, rejoined). */
    joinedXid: writtenBy('joined_xid'),
    /** The transaction that ended it (NULL while a member, and for leaves older than the column). */
    leftXid: customType<{ data: string }>({ dataType: () => 'xid8' })('left_xid'),
    activityAt: timestamp('activity_at', { withTimezone: true }).notNull().defaultNow(),
    mutedUntil: timestamp('muted_until', { withTimezone: true }),
    /** Which messages push to this member: all, only mentions of them and replies to them, or none. Muted (mutedUntil) means mentions only until then. */
    notify: text('notify', { enum: notifyModes }).notNull().default('all'),
    archived: boolean('archived').notNull().default(false),
    pinned: boolean('pinned').notNull().default(false),
  },
  (t) => [
    primaryKey({ columns: [t.conversationId, t.userId] }),
    index('conversation_members_user_id_idx').on(t.userId, t.conversationId),
    index('conversation_members_conversation_joined_idx').on(t.conversationId, t.joinedAt),
    index('conversation_members_inbox_idx').on(t.userId, t.archived, t.pinned.desc(), t.activityAt.desc(), t.conversationId.desc()),
    check('conversation_members_role_check', sql`${t.role} in ('owner', 'admin', 'member')`),
    check('conversation_members_notify_check', sql`${t.notify} in ('all', 'mentions', 'none')`),
  ],
);

/** The durable log. History pages walk `(conversation_id, seq)`; `(sender_id, client_id)` makes sends idempotent. */
export const messages = pgTable(
  'messages',
  {
    id: id(),
    conversationId: uuid('conversation_id').notNull().references(() => conversations.id, { onDelete: 'cascade' }),
    seq: bigint('seq', { mode: 'number' }).notNull(),
    senderId: uuid('sender_id').references(() => users.id, { onDelete: 'set null' }),
    clientId: text('client_id').notNull(),
    type: text('type').notNull(),
    body: text('body'),
    replyToId: uuid('reply_to_id'),
    forwardFromId: uuid('forward_from_id'),
    mentions: jsonb('mentions').$type<string[]>(),
    metadata: jsonb('metadata').$type<Record<string, unknown>>(),
    /** Summary of message_reactions, rewritten with each reaction change so reads never aggregate. */
    reactions: jsonb('reactions').$type<Array<{ emoji: string; count: number }>>().notNull().default(sql`'[]'::jsonb`),
    createdAt: createdAt(),
    editedAt: timestamp('edited_at', { withTimezone: true }),
    deletedAt: timestamp('deleted_at', { withTimezone: true }),
    expiresAt: timestamp('expires_at', { withTimezone: true }),
    /** Media of the message as sent: `{id, kind, mime, size, ...}` in order; reads never join the media table. */
    attachments: jsonb('attachments').$type<MessageAttachment[]>().notNull().default(sql`'[]'::jsonb`),
    /** Full-text search over bodies; 'simple' (no stemming) because chats mix languages. */
    searchVector: tsvector('search_vector').generatedAlwaysAs(sql`to_tsvector('simple', coalesce(body, ''))`),
    xid: writtenBy('xid'),
  },
  (t) => [
    uniqueIndex('messages_conversation_seq_key').on(t.conversationId, t.seq),
    uniqueIndex('messages_sender_client_key').on(t.senderId, t.clientId),
    index('messages_expires_at_idx').on(t.expiresAt).where(sql`${t.expiresAt} is not null`),
    index('messages_search_idx').using('gin', t.searchVector),
    // Rows arrive in created_at order, so a BRIN index (a few pages, near-free on insert) bounds the
    // admin stats' messages-per-day range scans.
    index('messages_created_at_brin_idx').using('brin', t.createdAt),
    // The same for the writing transaction (xid8 has no BRIN operator class, so as a bigint): the push
    // worker finds the messages committed since its snapshot from that snapshot's xmin.
    index('messages_xid_brin_idx').using('brin', sql`((${t.xid}::text)::bigint)`).with({ pages_per_range: 16 }),
    // Media access: "is this media id attached to a live message of a conversation I am in".
    index('messages_attachments_idx').using('gin', t.attachments.op('jsonb_path_ops')).where(sql`${t.attachments} <> '[]'::jsonb`),
  ],
);

/** A media item as a message carries it (a snapshot of the media row's public fields). */
export interface MessageAttachment {
  id: string;
  kind: 'image' | 'video' | 'audio' | 'file';
  mime: string;
  size: number;
  sha256: string;
  width: number | null;
  height: number | null;
  durationMs: number | null;
  fileName: string | null;
}

export const mediaKinds = ['image', 'video', 'audio', 'file'] as const;

/**
 * An uploaded file. `storageKey` (and `thumbnailKey` for images) name the bytes in the object
 * storage. `attachedAt` is set the first time the media is used (a message, a status, an avatar);
 * until then it is an orphan candidate, removed after MEDIA_ORPHAN_TTL_SECONDS. `public` media (an
 * avatar) may be read by any signed-in user.
 */
export const media = pgTable(
  'media',
  {
    id: id(),
    ownerId: uuid('owner_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
    kind: text('kind', { enum: mediaKinds }).notNull(),
    mime: text('mime').notNull(),
    size: bigint('size', { mode: 'number' }).notNull(),
    sha256: text('sha256').notNull(),
    width: integer('width'),
    height: integer('height'),
    durationMs: integer('duration_ms'),
    fileName: text('file_name'),
    storageKey: text('storage_key').notNull(),
    thumbnailKey: text('thumbnail_key'),
    thumbnailSize: integer('thumbnail_size'),
    public: boolean('public').notNull().default(false),
    attachedAt: timestamp('attached_at', { withTimezone: true }),
    createdAt: createdAt(),
  },
  (t) => [
    index('media_owner_idx').on(t.ownerId),
    index('media_orphans_idx').on(t.createdAt).where(sql`${t.attachedAt} is null`),
    check('media_kind_check', sql`${t.kind} in ('image', 'video', 'audio', 'file')`),
  ],
);

/** Bytes of media each user has stored, kept with every insert and delete so the quota check is O(1). */
export const mediaUsage = pgTable('media_usage', {
  userId: uuid('user_id').primaryKey().references(() => users.id, { onDelete: 'cascade' }),
  bytes: bigint('bytes', { mode: 'number' }).notNull().default(0),
});

/** Earlier bodies of an edited message, oldest first; removed with the message's delete-for-everyone. */
export const messageVersions = pgTable(
  'message_versions',
  {
    messageId: uuid('message_id').notNull().references(() => messages.id, { onDelete: 'cascade' }),
    version: integer('version').notNull(),
    body: text('body'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.messageId, t.version] })],
);

/**
 * The conversation's change record: every change a member can see besides a new message (the message
 * row is its own record), written in the transaction of the change with the next seq of the
 * conversation's counter, so messages and changes share one order. Compacted: one row per `key` (the
 * thing that changed: `message:<id>`, `reactions:<id>`, `pin:<id>`, `receipt:<user>`, `member:<user>`,
 * `conversation`, `settings:<user>`, `hidden:<message>:<user>`) holding its latest change, so the record
 * grows with what exists, not with how often it changed. `audienceUserId` set: only that user sees it.
 * A row about a message goes with the message (`messageId`, cascade).
 */
export const conversationChanges = pgTable(
  'conversation_changes',
  {
    conversationId: uuid('conversation_id').notNull().references(() => conversations.id, { onDelete: 'cascade' }),
    key: text('key').notNull(),
    seq: bigint('seq', { mode: 'number' }).notNull(),
    type: text('type').notNull(),
    data: jsonb('data').notNull(),
    audienceUserId: uuid('audience_user_id'),
    messageId: uuid('message_id').references(() => messages.id, { onDelete: 'cascade' }),
    changedAt: timestamp('changed_at', { withTimezone: true }).notNull().defaultNow(),
    xid: writtenBy('xid'),
  },
  (t) => [
    primaryKey({ columns: [t.conversationId, t.key] }),
    uniqueIndex('conversation_changes_seq_key').on(t.conversationId, t.seq),
    index('conversation_changes_message_idx').on(t.messageId).where(sql`${t.messageId} is not null`),
  ],
);

/** Messages a user deleted for themselves only. */
export const messageHides = pgTable(
  'message_hides',
  {
    userId: uuid('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
    messageId: uuid('message_id').notNull().references(() => messages.id, { onDelete: 'cascade' }),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.userId, t.messageId] })],
);

export const messageReactions = pgTable(
  'message_reactions',
  {
    messageId: uuid('message_id').notNull().references(() => messages.id, { onDelete: 'cascade' }),
    userId: uuid('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
    emoji: text('emoji').notNull(),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.messageId, t.userId, t.emoji] })],
);

export const messagePins = pgTable(
  'message_pins',
  {
    conversationId: uuid('conversation_id').notNull().references(() => conversations.id, { onDelete: 'cascade' }),
    messageId: uuid('message_id').notNull().references(() => messages.id, { onDelete: 'cascade' }),
    pinnedBy: uuid('pinned_by').references(() => users.id, { onDelete: 'set null' }),
    pinnedAt: timestamp('pinned_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.conversationId, t.messageId] }), uniqueIndex('message_pins_message_key').on(t.messageId)],
);

/** Who a broadcast list sends to. Recipients are not members: the list is visible to its owner only. */
export const broadcastRecipients = pgTable(
  'broadcast_recipients',
  {
    conversationId: uuid('conversation_id').notNull().references(() => conversations.id, { onDelete: 'cascade' }),
    userId: uuid('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.conversationId, t.userId] })],
);

/** `blockerId` blocked `blockedId`: no direct chats, no messages, hidden from each other's search. */
export const userBlocks = pgTable(
  'user_blocks',
  {
    blockerId: uuid('blocker_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
    blockedId: uuid('blocked_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.blockerId, t.blockedId] }), index('user_blocks_blocked_id_idx').on(t.blockedId, t.blockerId)],
);

/** Single-use, short-lived socket tickets for browsers (which cannot set headers on a WebSocket). */
export const wsTickets = pgTable(
  'ws_tickets',
  {
    ticketHash: text('ticket_hash').primaryKey(),
    userId: uuid('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
    sessionId: uuid('session_id').notNull().references(() => sessions.id, { onDelete: 'cascade' }),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
    usedAt: timestamp('used_at', { withTimezone: true }),
  },
  (t) => [index('ws_tickets_expires_at_idx').on(t.expiresAt)],
);

/** Generated secrets shared by every instance on one database (e.g. the JWT key when JWT_SECRET is unset). */
export const appSecrets = pgTable('app_secrets', {
  name: text('name').primaryKey(),
  value: text('value').notNull(),
  createdAt: createdAt(),
});

export const feedbackCategories = ['bug', 'idea', 'complaint', 'other'] as const;
export const feedbackStatuses = ['open', 'answered', 'closed'] as const;

/** A user's ticket to the operator. Users page their own by (user_id, created_at); staff by (status, created_at). */
export const feedbackTickets = pgTable(
  'feedback_tickets',
  {
    id: id(),
    userId: uuid('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
    category: text('category', { enum: feedbackCategories }).notNull(),
    subject: text('subject').notNull(),
    body: text('body').notNull(),
    status: text('status', { enum: feedbackStatuses }).notNull().default('open'),
    assigneeId: uuid('assignee_id').references(() => users.id, { onDelete: 'set null' }),
    /** The author's uploads (screenshots, logs), as messages carry them; staff may read them. */
    attachments: jsonb('attachments').$type<MessageAttachment[]>().notNull().default(sql`'[]'::jsonb`),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    // Media access for staff: "is this media id attached to a ticket".
    index('feedback_tickets_attachments_idx').using('gin', t.attachments.op('jsonb_path_ops')).where(sql`${t.attachments} <> '[]'::jsonb`),
    index('feedback_tickets_user_idx').on(t.userId, t.createdAt.desc(), t.id.desc()),
    index('feedback_tickets_status_idx').on(t.status, t.createdAt.desc(), t.id.desc()),
    index('feedback_tickets_created_idx').on(t.createdAt.desc(), t.id.desc()),
    check('feedback_tickets_category_check', sql`${t.category} in ('bug', 'idea', 'complaint', 'other')`),
    check('feedback_tickets_status_check', sql`${t.status} in ('open', 'answered', 'closed')`),
  ],
);

/** Staff answers to a ticket, oldest first. */
export const feedbackReplies = pgTable(
  'feedback_replies',
  {
    id: id(),
    ticketId: uuid('ticket_id').notNull().references(() => feedbackTickets.id, { onDelete: 'cascade' }),
    authorId: uuid('author_id').references(() => users.id, { onDelete: 'set null' }),
    body: text('body').notNull(),
    createdAt: createdAt(),
  },
  (t) => [index('feedback_replies_ticket_idx').on(t.ticketId, t.createdAt)],
);

/**
 * What the operator tells every user. Active while not withdrawn and now is within [startsAt, endsAt).
 * `readCount` is kept by the read insert, so the staff list never counts reads.
 */
export const announcements = pgTable(
  'announcements',
  {
    id: id(),
    title: text('title').notNull(),
    body: text('body').notNull(),
    startsAt: timestamp('starts_at', { withTimezone: true }).notNull().defaultNow(),
    endsAt: timestamp('ends_at', { withTimezone: true }),
    withdrawnAt: timestamp('withdrawn_at', { withTimezone: true }),
    /** When it was pushed to the sockets: at publication if active then, else by the first sweep after it starts. */
    announcedAt: timestamp('announced_at', { withTimezone: true }),
    createdBy: uuid('created_by').references(() => users.id, { onDelete: 'set null' }),
    readCount: integer('read_count').notNull().default(0),
    /**
     * Its place in the announcements log (`announcement_log.last_seq`), taken when it is announced and
     * again at each later change (edit, withdrawal): a socket or a sync replays it from there. Null
     * while it waits for its start.
     */
    seq: bigint('seq', { mode: 'number' }),
    xid: customType<{ data: string }>({ dataType: () => 'xid8' })('xid'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex('announcements_seq_key').on(t.seq),
    index('announcements_starts_idx').on(t.startsAt.desc(), t.id.desc()),
    index('announcements_unannounced_idx').on(t.startsAt).where(sql`${t.announcedAt} is null and ${t.withdrawnAt} is null`),
  ],
);

/** The counter of the announcements log (one row): every announcement, edit and withdrawal takes its next seq. */
export const announcementLog = pgTable('announcement_log', {
  id: boolean('id').primaryKey().default(true),
  lastSeq: seqColumn('last_seq'),
  lastXid: writtenBy('last_xid'),
}, (t) => [check('announcement_log_single_row', sql`${t.id}`)]);

export const announcementReads = pgTable(
  'announcement_reads',
  {
    announcementId: uuid('announcement_id').notNull().references(() => announcements.id, { onDelete: 'cascade' }),
    userId: uuid('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
    readAt: timestamp('read_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.userId, t.announcementId] })],
);

/** A user's one support conversation (kind `support`), and the staff member who claimed it. */
export const supportThreads = pgTable(
  'support_threads',
  {
    conversationId: uuid('conversation_id').primaryKey().references(() => conversations.id, { onDelete: 'cascade' }),
    userId: uuid('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
    assigneeId: uuid('assignee_id').references(() => users.id, { onDelete: 'set null' }),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex('support_threads_user_key').on(t.userId), index('support_threads_created_idx').on(t.createdAt.desc(), t.conversationId.desc())],
);

export const reportStatuses = ['open', 'dismissed', 'actioned'] as const;

/** Abuse reports on a message (its body copied when reported) or a user. */
export const reports = pgTable(
  'reports',
  {
    id: id(),
    reporterId: uuid('reporter_id').references(() => users.id, { onDelete: 'set null' }),
    messageId: uuid('message_id').references(() => messages.id, { onDelete: 'set null' }),
    targetUserId: uuid('target_user_id').references(() => users.id, { onDelete: 'cascade' }),
    messageBody: text('message_body'),
    reason: text('reason').notNull(),
    status: text('status', { enum: reportStatuses }).notNull().default('open'),
    action: text('action'),
    resolvedBy: uuid('resolved_by').references(() => users.id, { onDelete: 'set null' }),
    resolvedAt: timestamp('resolved_at', { withTimezone: true }),
    createdAt: createdAt(),
  },
  (t) => [
    index('reports_status_idx').on(t.status, t.createdAt.desc(), t.id.desc()),
    check('reports_status_check', sql`${t.status} in ('open', 'dismissed', 'actioned')`),
  ],
);

/** Every staff action: who did what, when, on what. Append-only. */
export const auditLog = pgTable(
  'audit_log',
  {
    id: id(),
    actorId: uuid('actor_id').references(() => users.id, { onDelete: 'set null' }),
    action: text('action').notNull(),
    targetType: text('target_type').notNull(),
    targetId: text('target_id'),
    details: jsonb('details').$type<Record<string, unknown>>(),
    createdAt: createdAt(),
  },
  (t) => [index('audit_log_created_idx').on(t.createdAt.desc(), t.id.desc()), index('audit_log_actor_idx').on(t.actorId, t.createdAt.desc())],
);

export const statusTypes = ['text', 'image', 'video'] as const;
export const statusAudiences = ['contacts', 'only', 'except'] as const;

/**
 * A 24-hour status update. Visible until `expiresAt` to the author's contacts (users sharing a direct
 * chat with them, minus blocks), narrowed by `audience`: `only` those of `audienceIds`, or all
 * `except` them. Reads filter on `expiresAt`, so an expired status is gone at once; the sweeper
 * deletes the rows (and the media they alone used) later.
 */
export const statuses = pgTable(
  'statuses',
  {
    id: id(),
    authorId: uuid('author_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
    type: text('type', { enum: statusTypes }).notNull(),
    body: text('body'),
    mediaId: uuid('media_id').references(() => media.id, { onDelete: 'set null' }),
    backgroundColor: text('background_color'),
    audience: text('audience', { enum: statusAudiences }).notNull().default('contacts'),
    audienceIds: jsonb('audience_ids').$type<string[]>().notNull().default(sql`'[]'::jsonb`),
    createdAt: createdAt(),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
  },
  (t) => [
    index('statuses_author_expires_idx').on(t.authorId, t.expiresAt),
    index('statuses_expires_idx').on(t.expiresAt),
    index('statuses_media_idx').on(t.mediaId).where(sql`${t.mediaId} is not null`),
    check('statuses_type_check', sql`${t.type} in ('text', 'image', 'video')`),
    check('statuses_audience_check', sql`${t.audience} in ('contacts', 'only', 'except')`),
  ],
);

/**
 * Each user's own log: changes that concern one user and no conversation (their blocks, the status
 * updates they may see, the announcements they read), numbered by `user_logs.last_seq`. Like
 * conversation_changes it is compacted: one row per thing (`key`), at the seq of its latest change.
 * A status.created row names its status (`status_id`) and is rendered when read, so its media links
 * are fresh; it goes with the status.
 */
export const userLogs = pgTable('user_logs', {
  userId: uuid('user_id')
    .primaryKey()
    .references(() => users.id, { onDelete: 'cascade' }),
  lastSeq: seqColumn('last_seq'),
  lastXid: writtenBy('last_xid'),
});

export const userChanges = pgTable(
  'user_changes',
  {
    userId: uuid('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
    key: text('key').notNull(),
    seq: bigint('seq', { mode: 'number' }).notNull(),
    type: text('type').notNull(),
    data: jsonb('data'),
    statusId: uuid('status_id').references(() => statuses.id, { onDelete: 'cascade' }),
    changedAt: timestamp('changed_at', { withTimezone: true }).notNull().defaultNow(),
    xid: writtenBy('xid'),
  },
  (t) => [
    primaryKey({ columns: [t.userId, t.key] }),
    uniqueIndex('user_changes_seq_key').on(t.userId, t.seq),
    index('user_changes_status_idx').on(t.statusId).where(sql`${t.statusId} is not null`),
    index('user_changes_tombstones_idx').on(t.changedAt).where(sql`${t.type} in ('status.deleted', 'user.unblocked')`),
  ],
);

/** Who has seen a status, and when. */
export const statusViews = pgTable(
  'status_views',
  {
    statusId: uuid('status_id').notNull().references(() => statuses.id, { onDelete: 'cascade' }),
    viewerId: uuid('viewer_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
    viewedAt: timestamp('viewed_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.statusId, t.viewerId] }), index('status_views_viewer_idx').on(t.viewerId, t.statusId)],
);

export const pushPlatforms = ['fcm', 'apns', 'webpush'] as const;

/**
 * Where a session's pushes go: an FCM or APNs device token, or a browser's Web Push subscription
 * (`token` is its endpoint, with its keys). It lives as long as its session; the same token
 * registered again moves to the new session (a shared phone).
 */
export const pushDevices = pgTable(
  'push_devices',
  {
    id: id(),
    userId: uuid('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
    sessionId: uuid('session_id').notNull().references(() => sessions.id, { onDelete: 'cascade' }),
    platform: text('platform', { enum: pushPlatforms }).notNull(),
    token: text('token').notNull(),
    p256dh: text('p256dh'),
    auth: text('auth'),
    appId: text('app_id'),
    locale: text('locale'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex('push_devices_token_key').on(t.platform, t.token),
    index('push_devices_user_idx').on(t.userId),
    index('push_devices_session_idx').on(t.sessionId),
    check('push_devices_platform_check', sql`${t.platform} in ('fcm', 'apns', 'webpush')`),
  ],
);

/**
 * The push worker's position in the message stream (one row): a snapshot, as a sync token is. Every
 * message committed after it is still to be turned into deliveries; the worker moves it in the same
 * transaction that inserts them, so a crash loses no push and none is planned twice.
 */
export const pushCursor = pgTable(
  'push_cursor',
  {
    id: boolean('id').primaryKey().default(true),
    snapshot: text('snapshot'),
    /**
     * Snapshots taken by earlier rounds, oldest first, with when (database clock, ms since the epoch):
     * the cursor moves to one only once it is PUSH_GRACE_MS old, so a message is planned only after
     * its recipients had the grace to acknowledge it, and one they did acknowledge gets no row.
     */
    waiting: jsonb('waiting').$type<Array<{ snapshot: string; at: number }>>().notNull().default([]),
    scannedAt: timestamp('scanned_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [check('push_cursor_single_row', sql`${t.id}`)],
);

export const pushDeliveryStates = ['pending', 'sent', 'skipped', 'failed'] as const;
export const pushDeliveryKinds = ['message', 'retract'] as const;

/** One push of one message to one device: due at `sendAfter`, claimed by one worker at a time (`claimedUntil`). */
export const pushDeliveries = pgTable(
  'push_deliveries',
  {
    messageId: uuid('message_id').notNull().references(() => messages.id, { onDelete: 'cascade' }),
    deviceId: uuid('device_id').notNull().references(() => pushDevices.id, { onDelete: 'cascade' }),
    userId: uuid('user_id').notNull(),
    /** The device's platform (a device never changes it): each platform's worker claims its own. */
    platform: text('platform', { enum: pushPlatforms }).notNull(),
    /** The message's conversation and seq: a burst to one device collapses into its latest due push. */
    conversationId: uuid('conversation_id').notNull(),
    seq: bigint('seq', { mode: 'number' }).notNull(),
    /**
     * The first seq of the burst this push stands for (a plan round keeps only the latest message of
     * a burst): when it is claimed, it shows the latest message of the burst still to be shown (its
     * own, unless that was deleted, hidden or is no longer wanted). Null: its own message only.
     */
    burstFromSeq: bigint('burst_from_seq', { mode: 'number' }),
    /** The message the push showed (set when claimed: its own, or an earlier one of its burst): a delete of that message takes the notification back. */
    shownMessageId: uuid('shown_message_id'),
    /** `message` shows the message; `retract` takes back the notification sent for it (deleted for everyone). */
    kind: text('kind', { enum: pushDeliveryKinds }).notNull().default('message'),
    state: text('state', { enum: pushDeliveryStates }).notNull().default('pending'),
    attempts: integer('attempts').notNull().default(0),
    sendAfter: timestamp('send_after', { withTimezone: true }).notNull(),
    claimedUntil: timestamp('claimed_until', { withTimezone: true }),
    /** Which claim holds it: only that worker may renew the lease or settle it (a worker that outlived its lease changes nothing). */
    claim: uuid('claim'),
    lastError: text('last_error'),
    createdAt: createdAt(),
  },
  (t) => [
    primaryKey({ columns: [t.messageId, t.deviceId] }),
    index('push_deliveries_due_idx').on(t.platform, t.sendAfter).where(sql`${t.state} = 'pending'`),
    // The later pushes of a burst (claimDue's collapse); also the device foreign key's index.
    index('push_deliveries_device_idx').on(t.deviceId, t.conversationId, t.seq),
    index('push_deliveries_claim_idx').on(t.claim).where(sql`${t.state} = 'pending'`),
    // What a delete for everyone takes back (retract).
    index('push_deliveries_shown_idx').on(t.shownMessageId).where(sql`${t.shownMessageId} is not null`),
  ],
);
