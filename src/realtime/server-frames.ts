import { Type, type TSchema } from 'typebox';
import { UnreadCount } from '../schemas/chat.js';
import { Id, Seq } from '../schemas/common.js';

/**
 * What the server sends: `{type, id?, conversationId?, data}`. Event data is the REST resource where
 * there is one (Message, Conversation by $ref), so a socket client and a REST client parse one shape.
 */

const MessageRef = Type.Ref('Message');

const SyncToken = Type.String({ description: 'A sync token for this moment: resume {since} or GET /sync?since= with it later replays what changed after it.' });

const FollowedConversation = Type.Object({ id: Id, roomName: Type.String(), lastSeq: Seq, unreadCount: UnreadCount, readSeq: Seq, deliveredSeq: Seq });

const StreamPositions = Type.Object(
  { user: Seq, announcements: Seq },
  { description: 'The last seq of each stream (your own log; the announcements log): store the highest you applied of each, as for conversations.' },
);

/**
 * `logged`: the event is part of its conversation's log and carries `seq`, its position there.
 * `stream`: the event is part of a stream (`user`: your own log, `announcements`) and carries `stream`
 * and `seq` instead of conversationId. A socket sends logged events once each, in seq order per
 * conversation or stream; `resume` and GET /sync replay them.
 */
export const serverFrames: Record<string, { description: string; data: TSchema; replyTo?: string; logged?: boolean; stream?: 'user' | 'announcements' }> = {
  ready: {
    description: 'First frame on every socket. /ws: your account and the conversations followed (most recent 1000, with positions); a room socket: the conversation.',
    data: Type.Union([
      Type.Object({ user: Type.Ref('PrivateUser'), conversations: Type.Array(FollowedConversation), streams: StreamPositions, syncToken: SyncToken }),
      Type.Object({ user: Type.Ref('PrivateUser'), conversation: Type.Ref('Conversation'), lastSeq: Seq, syncToken: SyncToken }),
    ]),
  },
  'message.ack': { description: 'The stored message, after commit (the original one for a repeated clientId).', data: MessageRef, replyTo: 'message.send' },
  ack: { description: 'A command succeeded; data is what the matching REST route answers (null for deletes and auth.refresh).', data: Type.Unknown() },
  'resume.done': {
    description: 'Every logged event after the resume points, up to the end of each conversation at the request, was sent (or is not yours to see); live events follow.',
    data: Type.Union([
      Type.Object({ conversationId: Id, lastSeq: Seq, syncToken: Type.Optional(SyncToken) }),
      Type.Object({ lastSeqs: Type.Record(Id, Seq), streams: Type.Optional(Type.Partial(StreamPositions)), syncToken: Type.Optional(SyncToken) }),
    ]),
    replyTo: 'resume',
  },
  pong: { description: 'Answer to ping.', data: Type.Null(), replyTo: 'ping' },
  error: {
    description: 'A frame was refused; the socket stays open. Codes are those of REST plus MALFORMED_FRAME, UNKNOWN_FRAME_TYPE.',
    data: Type.Object({
      code: Type.String({ examples: ['VALIDATION_FAILED', 'CONVERSATION_NOT_FOUND', 'RATE_LIMITED', 'SERVICE_UNAVAILABLE'] }),
      message: Type.String(),
      retryable: Type.Optional(Type.Boolean({ description: 'true when a dependency is away (SERVICE_UNAVAILABLE): retry the frame later; a send with the same clientId.' })),
      errors: Type.Optional(Type.Array(Type.Object({ field: Type.String(), message: Type.String() }))),
    }),
  },
  'message.created': { logged: true, description: 'A new message. Per socket and conversation, logged events come in strictly increasing seq, each at most once, none you may see skipped.', data: MessageRef },
  'message.updated': { logged: true, description: 'A message was edited.', data: MessageRef },
  'message.deleted': { logged: true, description: 'A message was deleted for everyone (the tombstone).', data: MessageRef },
  'reaction.updated': { logged: true,
    description: "Someone's reaction changed; reactions is the message's new summary.",
    data: Type.Object({ messageId: Id, userId: Id, emoji: Type.String(), action: Type.Enum(['added', 'removed']), reactions: Type.Array(Type.Ref('ReactionSummary')) }),
  },
  'receipt.updated': { logged: true, description: "A member's receipts moved forward.", data: Type.Object({ conversationId: Id, userId: Id, readSeq: Seq, deliveredSeq: Seq }) },
  typing: { description: 'Another member started or stopped typing (never stored; treat a start as over after 5 s).', data: Type.Object({ conversationId: Id, userId: Id, state: Type.Enum(['start', 'stop']) }) },
  'conversation.created': { description: 'You are in a new conversation; the socket follows it from now.', data: Type.Object({ conversationId: Id, kind: Type.String() }) },
  'conversation.updated': { logged: true, description: 'Title, description, avatar, member count or retention changed.', data: Type.Object({}, { additionalProperties: true }) },
  'conversation.settings': { logged: true, description: 'Your own flags changed (from another device). Only you see this event.', data: Type.Object({ muted: Type.Boolean(), mutedUntil: Type.Union([Type.String(), Type.Null()]), notify: Type.Enum(['all', 'mentions', 'none']), archived: Type.Boolean(), pinned: Type.Boolean() }) },
  'member.joined': {
    logged: true,
    description: 'Someone joined (you: the socket follows the conversation from now), with their receipts as they start.',
    data: Type.Object({ conversationId: Id, userId: Id, role: Type.String(), readSeq: Seq, deliveredSeq: Seq }),
  },
  'member.left': { logged: true, description: 'Someone left or was removed (you: the socket stops following).', data: Type.Object({ conversationId: Id, userId: Id, removedBy: Type.Union([Id, Type.Null()]) }) },
  'member.updated': {
    logged: true,
    description: "A member's role changed; with their receipts, so a device that missed their join learns all of the member.",
    data: Type.Object({ conversationId: Id, userId: Id, role: Type.String(), readSeq: Seq, deliveredSeq: Seq }),
  },
  presence: {
    description: 'A watched user came online or went offline (lastSeenAt null while online, when never seen, or when they hide it).',
    data: Type.Object({ userId: Id, online: Type.Boolean(), lastSeenAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]) }),
  },
  'status.created': {
    stream: 'user',
    description: 'A status you may see: a contact (or you, on another device) posted it, or you may see it again (an unblock, a first direct chat). data is the Status resource; drop it at expiresAt.',
    data: Type.Ref('Status'),
  },
  'status.deleted': { stream: 'user', description: 'A status you could see is gone for you: its author deleted it, or a block stands between you.', data: Type.Object({ id: Id, authorId: Id }) },
  'user.blocked': { stream: 'user', description: 'You blocked this user (on any device).', data: Type.Object({ userId: Id }) },
  'user.unblocked': { stream: 'user', description: 'You unblocked this user (on any device).', data: Type.Object({ userId: Id }) },
  'announcement.read': { stream: 'user', description: 'You marked this announcement read (on any device).', data: Type.Object({ id: Id }) },
  'conversation.cleared': {
    logged: true,
    description: 'You cleared your history of the conversation (on another device): drop its messages up to clearedSeq. Only you see this event.',
    data: Type.Object({ conversationId: Id, userId: Id, clearedSeq: Seq }),
  },
  'message.hidden': {
    logged: true,
    description: 'You deleted a message for yourself (on another device): drop it from this one. Only you see this event.',
    data: Type.Object({ conversationId: Id, messageId: Id, userId: Id }),
  },
  'pin.updated': { logged: true, description: 'A message was pinned or unpinned.', data: Type.Object({ messageId: Id, pinned: Type.Boolean(), by: Id }) },
  'feedback.replied': {
    description: 'Staff answered one of your feedback tickets (the reply is also in GET /feedback).',
    data: Type.Object({ ticketId: Id, status: Type.String(), reply: Type.Ref('FeedbackReply') }),
  },
  announcement: {
    stream: 'announcements',
    description: 'An announcement is listed: published (or started), or edited (replace it by id; read is always false here, see announcement.read). GET /announcements has them all.',
    data: Type.Ref('Announcement'),
  },
  'announcement.withdrawn': { stream: 'announcements', description: 'An announcement is no longer listed (withdrawn, or moved out of its window): drop it.', data: Type.Object({ id: Id }) },
};
