import { toPublicUser } from '../users/user.views.js';
import type { MessageView } from '../messages/message.views.js';
import type { ConversationRecord, MemberRecord, UserRecord } from './conversation.repository.js';

/** Far-future mutedUntil stands for "muted until unmuted". */
export const MUTED_FOREVER = new Date('9999-12-31T00:00:00.000Z');

/** The seqs a member may read: after max(joinedSeq, clearedSeq), up to leftSeq once they left. */
export function seqWindow(member: MemberRecord) {
  return { lower: Math.max(member.joinedSeq, member.clearedSeq), upper: member.leftSeq, joined: member.joinedSeq };
}

/** Last seq the member can see and count: the conversation's, or where they left. */
export function visibleLastSeq(conversation: ConversationRecord, member: MemberRecord): number {
  return member.leftSeq ?? conversation.lastSeq;
}

/**
 * Where the member's unread messages lie: after what they read, cleared or joined at, up to what
 * they can see. What is unread within it is counted from the messages themselves
 * (MessageRepository.unreadCounts): deletes for everyone, hides and expiries change the count.
 */
export function unreadWindow(conversation: ConversationRecord, member: MemberRecord) {
  return { conversationId: conversation.id, after: Math.max(member.readSeq, member.clearedSeq, member.joinedSeq), upTo: visibleLastSeq(conversation, member) };
}

export interface ConversationExtras {
  peer: UserRecord | null;
  preview: UserRecord[];
  lastMessage: MessageView | null;
  unreadCount: number;
}

/** The member's own flags (the `conversation.settings` event, and part of the conversation resource). */
export function memberSettings(member: MemberRecord) {
  const muted = member.mutedUntil !== null && member.mutedUntil > new Date();
  return {
    muted,
    mutedUntil: muted && member.mutedUntil!.getTime() !== MUTED_FOREVER.getTime() ? member.mutedUntil!.toISOString() : null,
    notify: member.notify,
    archived: member.archived,
    pinned: member.pinned,
  };
}

/** The conversation resource as `member` sees it. */
export function toConversation(conversation: ConversationRecord, member: MemberRecord, extras: ConversationExtras) {
  return {
    id: conversation.id,
    kind: conversation.kind as 'direct' | 'group' | 'broadcast',
    title: conversation.kind === 'direct' ? (extras.peer?.displayName ?? null) : conversation.title,
    description: conversation.description,
    avatarUrl: conversation.kind === 'direct' ? (extras.peer?.avatarUrl ?? null) : conversation.avatarUrl,
    roomName: conversation.roomName,
    peer: extras.peer ? toPublicUser(extras.peer) : null,
    memberCount: conversation.memberCount,
    membersPreview: extras.preview.map(toPublicUser),
    role: member.role,
    lastSeq: visibleLastSeq(conversation, member),
    lastMessage: extras.lastMessage,
    unreadCount: extras.unreadCount,
    readSeq: member.readSeq,
    deliveredSeq: member.deliveredSeq,
    ...memberSettings(member),
    retention: { mode: conversation.retention, ttlSeconds: conversation.ttlSeconds },
    left: member.leftAt !== null,
    leftAt: member.leftAt?.toISOString() ?? null,
    createdAt: conversation.createdAt.toISOString(),
    lastActivityAt: member.activityAt.toISOString(),
  };
}

export type ConversationView = ReturnType<typeof toConversation>;

/** Fields every member sees alike: the data of `conversation.updated` events. */
export function sharedFields(conversation: ConversationRecord) {
  return {
    id: conversation.id,
    kind: conversation.kind,
    title: conversation.title,
    description: conversation.description,
    avatarUrl: conversation.avatarUrl,
    memberCount: conversation.memberCount,
    retention: { mode: conversation.retention, ttlSeconds: conversation.ttlSeconds },
  };
}
