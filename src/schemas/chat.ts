import { Type } from 'typebox';
import { HttpsUrl, Id, Nullable, PageQuery, Seq, SeqBound, Text, Timestamp } from './common.js';
import { Attachment, AvatarMediaId } from './media.js';

/**
 * Wire schemas of /chat and /message. The Message and Conversation resources are also the `data` of
 * the bus events (and later the socket frames), so they hold nothing specific to one viewer except
 * the conversation's per-member fields (role, receipts, flags), which are the caller's.
 */


export const messageTypes = ['text', 'image', 'video', 'audio', 'file'] as const;

export const ReplyPreview = Type.Object(
  {
    id: Id,
    seq: Seq,
    senderId: Nullable(Id),
    type: Type.Enum([...messageTypes]),
    body: Nullable(Type.String()),
    deleted: Type.Boolean(),
  },
  { $id: 'ReplyPreview', description: 'The message replied to, as it is now (body null once deleted).' },
);

export const ReactionSummary = Type.Object({ emoji: Type.String(), count: Type.Integer({ minimum: 1 }) }, { $id: 'ReactionSummary' });

export const Message = Type.Object(
  {
    id: Id,
    conversationId: Id,
    seq: Seq,
    senderId: Nullable(Id),
    clientId: Type.String({ description: "The sender's idempotency key." }),
    type: Type.Enum([...messageTypes]),
    body: Nullable(Type.String()),
    replyTo: Nullable(Type.Ref('ReplyPreview')),
    forwarded: Type.Boolean(),
    mentions: Type.Array(Id),
    reactions: Type.Array(Type.Ref('ReactionSummary')),
    attachments: Type.Array(Attachment, { description: 'Media of an image, video, audio or file message, in order (empty once deleted).' }),
    createdAt: Timestamp,
    editedAt: Nullable(Timestamp),
    deletedAt: Nullable(Timestamp),
    expiresAt: Nullable(Timestamp),
  },
  {
    $id: 'Message',
    description: 'A stored message. Deleted for everyone: a tombstone with the same seq, deletedAt set, body null.',
    examples: [
      {
        id: '0192f0c1-7a00-7000-8000-000000000001',
        conversationId: '0192f0c1-7a00-7000-8000-0000000000c1',
        seq: 42,
        senderId: '0192f0c1-7a00-7000-8000-0000000000a1',
        clientId: 'c-7f3a9',
        type: 'text',
        body: 'See you at 8?',
        replyTo: null,
        forwarded: false,
        mentions: [],
        reactions: [{ emoji: '👍', count: 2 }],
        attachments: [],
        createdAt: '2026-11-23T18:00:00.000Z',
        editedAt: null,
        deletedAt: null,
        expiresAt: null,
      },
    ],
  },
);

export const retentionModes = ['persistent', 'disappearing', 'ephemeral'] as const;

export const Retention = Type.Object(
  {
    mode: Type.Enum([...retentionModes]),
    ttlSeconds: Type.Optional(Nullable(Type.Integer({ minimum: 5, maximum: 31_536_000, description: 'Required for disappearing.' }))),
  },
  { additionalProperties: false, description: 'persistent (default), disappearing (messages expire after ttlSeconds) or ephemeral (never stored).' },
);

/** An unread count stops here: a conversation with more unread messages answers this number. */
export const NotifyMode = Type.Enum(['all', 'mentions', 'none'], {
  description: 'Which messages of this conversation push to you: all, only those mentioning you or replying to you, or none. While muted, only mentions and replies do.',
});

export const UNREAD_COUNT_CAP = 10_000;
export const UnreadCount = Type.Integer({
  minimum: 0,
  maximum: UNREAD_COUNT_CAP,
  description: `Messages after readSeq that your history shows and you did not send (deleted, hidden and expired ones do not count); at most ${UNREAD_COUNT_CAP}, meaning that many or more.`,
});

export const Conversation = Type.Object(
  {
    id: Id,
    kind: Type.Enum(['direct', 'group', 'broadcast', 'support']),
    title: Nullable(Type.String({ description: "For direct chats: the other person's display name." })),
    description: Nullable(Type.String()),
    avatarUrl: Nullable(Type.String()),
    roomName: Type.String({ description: 'Room of the socket endpoint /ws/chat/:roomName.' }),
    peer: Nullable(Type.Ref('PublicUser')),
    memberCount: Type.Integer({ description: 'Current members (broadcast lists: recipients).' }),
    membersPreview: Type.Array(Type.Ref('PublicUser'), { description: 'Up to 5 current members, earliest first.' }),
    role: Type.Enum(['owner', 'admin', 'member']),
    lastSeq: Seq,
    lastMessage: Nullable(Type.Ref('Message')),
    unreadCount: UnreadCount,
    readSeq: Seq,
    deliveredSeq: Seq,
    muted: Type.Boolean(),
    mutedUntil: Nullable(Timestamp),
    notify: NotifyMode,
    archived: Type.Boolean(),
    pinned: Type.Boolean(),
    retention: Type.Object({ mode: Type.Enum([...retentionModes]), ttlSeconds: Nullable(Type.Integer()) }),
    left: Type.Boolean(),
    leftAt: Nullable(Timestamp),
    createdAt: Timestamp,
    lastActivityAt: Timestamp,
  },
  {
    $id: 'Conversation',
    description: 'A conversation as the caller sees it (role, receipts and flags are yours).',
    examples: [
      {
        id: '0192f0c1-7a00-7000-8000-0000000000c1',
        kind: 'group',
        title: 'Weekend trip',
        description: null,
        avatarUrl: null,
        roomName: 'r_Qm9vX3Jvb21fMDE',
        peer: null,
        memberCount: 3,
        membersPreview: [{ id: '0192f0c1-7a00-7000-8000-0000000000a1', username: 'alice', displayName: 'Alice', about: null, avatarUrl: null }],
        role: 'owner',
        lastSeq: 42,
        lastMessage: null,
        unreadCount: 2,
        readSeq: 40,
        deliveredSeq: 42,
        muted: false,
        mutedUntil: null,
        notify: 'all',
        archived: false,
        pinned: true,
        retention: { mode: 'persistent', ttlSeconds: null },
        left: false,
        leftAt: null,
        createdAt: '2026-11-20T10:00:00.000Z',
        lastActivityAt: '2026-11-23T18:00:00.000Z',
      },
    ],
  },
);

export const Member = Type.Object(
  { user: Type.Ref('PublicUser'), role: Type.Enum(['owner', 'admin', 'member']), joinedAt: Timestamp },
  { $id: 'Member' },
);

export const Receipt = Type.Object(
  { conversationId: Id, userId: Id, readSeq: Seq, deliveredSeq: Seq, unreadCount: UnreadCount },
  { $id: 'Receipt', description: "The caller's receipts after the change." },
);

export const sharedChatSchemas = [ReplyPreview, ReactionSummary, Message, Conversation, Member, Receipt];

/* Requests */

const Title = Text({ minLength: 1, maxLength: 100, examples: ['Weekend trip'] });
const Description = Text({ maxLength: 512, multiline: true });
const Avatar = HttpsUrl({ maxLength: 2048, description: 'An https image URL.' });
const UserIds = (maxItems: number, minItems = 0) => Type.Array(Id, { minItems, maxItems, uniqueItems: true });

export const IdParams = Type.Object({ id: Id });
export const MemberParams = Type.Object({ id: Id, userId: Id });

export const DirectBody = Type.Object({ userId: Id }, { additionalProperties: false, examples: [{ userId: '0192f0c1-7a00-7000-8000-0000000000b2' }] });
export const GroupBody = Type.Object(
  { title: Title, memberIds: UserIds(256), avatar: Type.Optional(Avatar), description: Type.Optional(Description), retention: Type.Optional(Retention) },
  { additionalProperties: false, examples: [{ title: 'Weekend trip', memberIds: ['0192f0c1-7a00-7000-8000-0000000000b2'] }] },
);
export const BroadcastBody = Type.Object(
  { title: Title, recipientIds: UserIds(1024, 1) },
  { additionalProperties: false, examples: [{ title: 'Family news', recipientIds: ['0192f0c1-7a00-7000-8000-0000000000b2', '0192f0c1-7a00-7000-8000-0000000000b3'] }] },
);
export const ConversationPatchBody = Type.Object(
  {
    title: Type.Optional(Title),
    description: Type.Optional(Nullable(Description)),
    avatar: Type.Optional(Nullable(Avatar)),
    avatarMediaId: Type.Optional(AvatarMediaId),
    retention: Type.Optional(Retention),
  },
  { additionalProperties: false, minProperties: 1, examples: [{ title: 'Weekend trip 🏕', retention: { mode: 'disappearing', ttlSeconds: 86_400 } }] },
);
export const SettingsBody = Type.Object(
  { muted: Type.Optional(Type.Boolean()), mutedUntil: Type.Optional(Nullable(Timestamp)), notify: Type.Optional(NotifyMode), archived: Type.Optional(Type.Boolean()), pinned: Type.Optional(Type.Boolean()) },
  { additionalProperties: false, minProperties: 1, examples: [{ muted: true, mutedUntil: '2026-11-24T08:00:00.000Z' }, { notify: 'mentions' }, { archived: true }] },
);
export const AddMembersBody = Type.Object({ userIds: UserIds(256, 1) }, { additionalProperties: false, examples: [{ userIds: ['0192f0c1-7a00-7000-8000-0000000000b4'] }] });
export const RoleBody = Type.Object({ role: Type.Enum(['admin', 'member']) }, { additionalProperties: false, examples: [{ role: 'admin' }] });
export const SeqBody = Type.Object({ seq: Seq }, { additionalProperties: false, examples: [{ seq: 42 }] });
export const InboxQuery = Type.Object({
  ...PageQuery.properties,
  q: Type.Optional(Text({ minLength: 1, maxLength: 100 })),
  archived: Type.Boolean({ default: false }),
});

export const ClientId = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9._:-]+$', description: 'Your idempotency key: a retry with the same one returns the original message.' });
/** A message body or caption (REST and socket); its length cap is MESSAGE_MAX_LENGTH, checked by the service. */
export const MessageText = Text({ multiline: true, description: 'Up to MESSAGE_MAX_LENGTH characters; required for text.' });
export const Emoji = Text({ minLength: 1, maxLength: 64 });
/** Media of a message being sent (REST body and the socket's message.send). */
export const AttachmentIds = Type.Array(Id, {
  minItems: 1,
  maxItems: 10,
  description: 'Media ids you uploaded (POST /media), of the message type (file takes any); body is then the caption. Forwards without them reuse the original files.',
});
export const SendBody = Type.Object(
  {
    conversationId: Id,
    clientId: ClientId,
    type: Type.Enum([...messageTypes]),
    body: Type.Optional(MessageText),
    replyToId: Type.Optional(Id),
    forwardFromId: Type.Optional(Id),
    mentions: Type.Optional(UserIds(50)),
    attachments: Type.Optional(AttachmentIds),
  },
  { additionalProperties: false, examples: [{ conversationId: '0192f0c1-7a00-7000-8000-0000000000c1', clientId: 'c-7f3a9', type: 'text', body: 'See you at 8?' }] },
);
export const EditBody = Type.Object({ body: MessageText }, { additionalProperties: false, examples: [{ body: 'See you at 9?' }] });
export const DeleteQuery = Type.Object({ for: Type.Enum(['me', 'everyone'], { default: 'me' }) });
export const ReactionParams = Type.Object({ id: Id, emoji: Emoji });
export const HistoryParams = Type.Object({ conversationId: Id });
export const HistoryQuery = Type.Object({
  before: Type.Optional(SeqBound(1)),
  after: Type.Optional(SeqBound(0)),
  limit: PageQuery.properties.limit,
});
export const SearchMessagesQuery = Type.Object({
  ...PageQuery.properties,
  q: Text({ minLength: 1, maxLength: 200 }),
  conversationId: Type.Optional(Id),
});

/* Responses */

export const HistoryPage = Type.Object({
  items: Type.Array(Type.Ref('Message')),
  olderCursor: Nullable(Seq),
  newerCursor: Nullable(Seq),
  myReactions: Type.Record(Type.String(), Type.Array(Type.String()), { description: 'Message id -> the emojis you reacted with.' }),
});
export const ReactionsResult = Type.Object({ messageId: Id, reactions: Type.Array(Type.Ref('ReactionSummary')), myReactions: Type.Array(Type.String()) });
export const ReceiptsList = Type.Object({ items: Type.Array(Type.Object({ userId: Id, readSeq: Seq, deliveredSeq: Seq })) });
export const PinsList = Type.Object({ items: Type.Array(Type.Object({ message: Type.Ref('Message'), pinnedBy: Nullable(Id), pinnedAt: Timestamp })) });
export const VersionsList = Type.Object({ items: Type.Array(Type.Object({ version: Type.Integer(), body: Nullable(Type.String()), createdAt: Timestamp })) });
