import type { Test } from 'tap';
import type { App } from '../../src/app.js';
import type { MessageAttachment } from '../../src/db/schema.js';
import type { Env } from '../helper.js';
import { type Account, call, expectStatus, registerAndVerify } from './accounts.js';
import { type AuthHarness, buildAuthApp } from './auth-app.js';

/*
 * Conversation and message factories over the public API (see README "Conversations and messages").
 * Like the account factories they throw with the response body when a step answers unexpectedly.
 */

export interface PublicUserBody {
  id: string;
  username: string;
  displayName: string;
  about: string | null;
  avatarUrl: string | null;
}

export interface MessageBody {
  id: string;
  conversationId: string;
  seq: number;
  senderId: string | null;
  clientId: string;
  type: 'text' | 'image' | 'video' | 'audio' | 'file';
  body: string | null;
  replyTo: { id: string; seq: number; senderId: string | null; type: string; body: string | null; deleted: boolean } | null;
  forwarded: boolean;
  mentions: string[];
  reactions: Array<{ emoji: string; count: number }>;
  attachments: MessageAttachment[];
  createdAt: string;
  editedAt: string | null;
  deletedAt: string | null;
  expiresAt: string | null;
}

export interface ConversationBody {
  id: string;
  kind: 'direct' | 'group' | 'broadcast';
  title: string | null;
  description: string | null;
  avatarUrl: string | null;
  roomName: string;
  peer: PublicUserBody | null;
  memberCount: number;
  membersPreview: PublicUserBody[];
  role: 'owner' | 'admin' | 'member';
  lastSeq: number;
  lastMessage: MessageBody | null;
  unreadCount: number;
  readSeq: number;
  deliveredSeq: number;
  muted: boolean;
  mutedUntil: string | null;
  notify: 'all' | 'mentions' | 'none';
  archived: boolean;
  pinned: boolean;
  retention: { mode: 'persistent' | 'disappearing' | 'ephemeral'; ttlSeconds: number | null };
  left: boolean;
  leftAt: string | null;
  createdAt: string;
  lastActivityAt: string;
}

export interface HistoryPage {
  items: MessageBody[];
  olderCursor: number | null;
  newerCursor: number | null;
  myReactions: Record<string, string[]>;
}

export interface ChatHarness extends AuthHarness {
  /** A new verified, signed-in account. */
  user(displayName?: string): Promise<Account>;
}

/** An app with real mail delivery, plus a one-call account factory. */
export async function buildChatApp(t: Test, env: Env = {}): Promise<ChatHarness> {
  const harness = await buildAuthApp(t, { env: { AUTH_LOGIN_OTP: 'false', ...env } });
  return {
    ...harness,
    user: (displayName?: string) => registerAndVerify(harness.app, harness.mailbox, displayName ? { displayName } : {}),
  };
}

export async function directChat(app: App, from: Account, to: Account): Promise<ConversationBody> {
  const response = await call(app, 'POST', '/chat/direct', { token: from.accessToken, payload: { userId: to.user.id } });
  if (response.statusCode === 200) return response.json() as ConversationBody;
  return expectStatus<ConversationBody>(response, 201, `direct chat ${from.username} -> ${to.username}`);
}

export async function createGroup(app: App, owner: Account, members: Account[], extra: Record<string, unknown> = {}): Promise<ConversationBody> {
  const response = await call(app, 'POST', '/chat/groups', {
    token: owner.accessToken,
    payload: { title: 'Group', memberIds: members.map((m) => m.user.id), ...extra },
  });
  return expectStatus<ConversationBody>(response, 201, `create group by ${owner.username}`);
}

let clientSequence = 0;
export function newClientId(): string {
  clientSequence += 1;
  return `c-${process.pid}-${clientSequence}-${Math.random().toString(36).slice(2, 8)}`;
}

/** POST /message with a fresh clientId (unless given); returns the 201 message. */
export async function sendText(app: App, from: Account, conversationId: string, body: string, extra: Record<string, unknown> = {}): Promise<MessageBody> {
  const response = await call(app, 'POST', '/message', {
    token: from.accessToken,
    payload: { conversationId, clientId: newClientId(), type: 'text', body, ...extra },
  });
  return expectStatus<MessageBody>(response, 201, `send by ${from.username}`);
}

export async function history(app: App, reader: Account, conversationId: string, query = ''): Promise<HistoryPage> {
  const response = await call(app, 'GET', `/message/chat/${conversationId}${query ? `?${query}` : ''}`, { token: reader.accessToken });
  return expectStatus<HistoryPage>(response, 200, `history for ${reader.username}`);
}

export async function conversation(app: App, reader: Account, conversationId: string): Promise<ConversationBody> {
  return expectStatus<ConversationBody>(await call(app, 'GET', `/chat/${conversationId}`, { token: reader.accessToken }), 200, `conversation for ${reader.username}`);
}

/** Every bus event published on a channel from now on, in order (the bus delivers to this instance too). */
export async function recordEvents(t: Test, app: App, channel: string): Promise<Array<{ type: string; conversationId: string; data: any }>> {
  const events: Array<{ type: string; conversationId: string; data: any }> = [];
  const unsubscribe = await app.bus.subscribe(channel, (message) => events.push(message as (typeof events)[number]));
  t.teardown(unsubscribe);
  return events;
}

/** Waits until `predicate` holds (bus delivery is asynchronous), failing after `ms`. */
export async function eventually(predicate: () => boolean, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export interface ConversationPage {
  items: ConversationBody[];
  nextCursor: string | null;
}

/** GET /chat (the caller's inbox) with an optional query string; returns the 200 page. */
export async function inbox(app: App, reader: Account, query = ''): Promise<ConversationPage> {
  const response = await call(app, 'GET', `/chat${query ? `?${query}` : ''}`, { token: reader.accessToken });
  return expectStatus<ConversationPage>(response, 200, `inbox for ${reader.username}`);
}

/** POST /users/:id/block; `blocker` blocks `blocked`. */
export async function block(app: App, blocker: Account, blocked: Account): Promise<void> {
  expectStatus(await call(app, 'POST', `/users/${blocked.user.id}/block`, { token: blocker.accessToken }), 204, `${blocker.username} blocks ${blocked.username}`);
}

export interface MemberBody {
  user: PublicUserBody;
  role: 'owner' | 'admin' | 'member';
  joinedAt: string;
}

/** Every current member (GET /chat/:id/members, followed page by page), earliest first. */
export async function listMembers(app: App, reader: Account, conversationId: string): Promise<MemberBody[]> {
  const all: MemberBody[] = [];
  let cursor: string | null = null;
  for (let pages = 0; pages < 50; pages++) {
    const query: string = cursor ? `?cursor=${encodeURIComponent(cursor)}` : '';
    const response = await call(app, 'GET', `/chat/${conversationId}/members${query}`, { token: reader.accessToken });
    const page = expectStatus<{ items: MemberBody[]; nextCursor: string | null }>(response, 200, `members for ${reader.username}`);
    all.push(...page.items);
    cursor = page.nextCursor;
    if (!cursor) return all;
  }
  throw new Error('members: too many pages');
}
