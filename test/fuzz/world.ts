import type { Test } from 'tap';
import type { App } from '../../src/app.js';
import { type Account, PASSWORD, type TokenPairBody, call, expectStatus } from '../support/accounts.js';
import { buildChatApp, createGroup, directChat, sendText } from '../support/chat.js';
import { png, upload } from '../support/media.js';
import { createAdmin } from '../support/staff.js';

/*
 * What the fuzz plays in: a signed-in user who owns something of every kind (a direct chat, a group,
 * a broadcast list, messages, an upload, a status, a feedback ticket, a report, a support
 * conversation), the people around them, an admin, and an announcement. Their ids are the hints the
 * generators prefer for parameters and fields of those names, so valid input reaches the code behind
 * the ownership checks. `heal` undoes what fuzzed calls may have broken for the ones after them
 * (signed out, blocked, members removed, messages deleted), through the public API.
 */

/** Caps that would turn fuzz traffic into 429s are raised; the socket may take many frames. */
export const FUZZ_ENV = { WS_RATE_LIMIT: '1000000', WS_MAX_SOCKETS_PER_USER: '1000', RATE_LIMIT_MAX: '1000000', LOG_LEVEL: 'silent' };

export interface World {
  app: App;
  me: Account;
  admin: Account;
  peer: Account;
  third: Account;
  /** The target of admin actions (bans, roles, reports), so they never lock out `me` or `admin`. */
  victim: Account;
  directId: string;
  groupId: string;
  broadcastId: string;
  roomName: string;
  /** Pools by hint name; see `hints`. */
  hints(name: string): readonly unknown[] | undefined;
  /** Makes `me` and `admin` signed in, unblocked and in their group again, with live messages to act on. */
  heal(): Promise<void>;
}

async function relogin(app: App, account: Account): Promise<void> {
  const me = await call(app, 'GET', '/users/me', { token: account.accessToken });
  if (me.statusCode === 200) return;
  const identifier = account.email ?? account.username;
  const pair = expectStatus<TokenPairBody>(await call(app, 'POST', '/auth/login', { payload: { identifier, password: PASSWORD } }), 200, `sign ${identifier} in again`);
  account.accessToken = pair.accessToken;
  account.refreshToken = pair.refreshToken;
}

export async function buildWorld(t: Test): Promise<World> {
  const { app, user } = await buildChatApp(t, FUZZ_ENV);
  const [me, peer, third, victim] = [await user('Fuzz Me'), await user('Peer'), await user('Third'), await user('Victim')];
  const admin = await createAdmin(app);
  const direct = await directChat(app, me, peer);
  const group = await createGroup(app, me, [peer, third]);
  const broadcast = expectStatus<{ id: string }>(await call(app, 'POST', '/chat/broadcasts', { token: me.accessToken, payload: { title: 'Fuzz list', recipientIds: [peer.user.id, third.user.id] } }), 201, 'broadcast');
  const messages = [
    (await sendText(app, me, direct.id, 'hello')).id,
    (await sendText(app, peer, direct.id, 'hi back')).id,
    (await sendText(app, me, group.id, 'group hello')).id,
    (await sendText(app, peer, group.id, 'peer in group')).id,
  ];
  const media = await upload(app, me, await png(32, 24), 'fuzz.png');
  const signed = new URL(media.url, 'http://local');
  const status = expectStatus<{ id: string }>(await call(app, 'POST', '/status', { token: me.accessToken, payload: { type: 'text', body: 'fuzzing' } }), 201, 'status');
  const ticket = expectStatus<{ id: string }>(await call(app, 'POST', '/feedback', { token: me.accessToken, payload: { category: 'bug', subject: 'Fuzz', body: 'A ticket to act on' } }), 201, 'feedback');
  const report = expectStatus<{ id: string }>(await call(app, 'POST', '/reports', { token: me.accessToken, payload: { userId: victim.user.id, reason: 'fuzz' } }), 201, 'report');
  const supportResponse = await call(app, 'POST', '/support', { token: me.accessToken });
  const support = expectStatus<{ conversation?: { id: string }; id?: string }>(supportResponse, supportResponse.statusCode === 200 ? 200 : 201, 'support');
  const supportId = support.conversation?.id ?? support.id!;
  await call(app, 'POST', `/admin/support/${supportId}/claim`, { token: admin.accessToken });
  const announcement = expectStatus<{ id: string }>(await call(app, 'POST', '/admin/announcements', { token: admin.accessToken, payload: { title: 'Fuzz', body: 'An announcement to read' } }), 201, 'announcement');
  // A second session of `me`, for DELETE /auth/sessions/{id} to end instead of the one in use.
  await call(app, 'POST', '/auth/login', { payload: { identifier: me.email, password: PASSWORD, deviceName: 'spare' } });
  const sessions = expectStatus<{ items: Array<{ id: string; current: boolean }> }>(await call(app, 'GET', '/auth/sessions', { token: me.accessToken }), 200, 'sessions');
  const spareSessions = sessions.items.filter((s) => !s.current).map((s) => s.id);

  const freshMessages: string[] = [];
  const ids = (...accounts: Account[]) => accounts.map((a) => a.user.id);
  const conversations = [direct.id, group.id, broadcast.id];
  const pools = (): Record<string, readonly unknown[]> => {
    const messageIds = [...messages, ...freshMessages.slice(-4)];
    const users = ids(peer, third, victim, me);
    const others = ids(peer, third, victim);
    return {
      'chat.id': conversations,
      'message.conversationId': conversations,
      conversationId: conversations,
      'members.userId': ids(peer, third),
      'message.id': messageIds,
      messageId: messageIds,
      replyToId: messageIds,
      forwardFromId: messageIds,
      'reactions.emoji': ['👍', '❤️', '😂'],
      emoji: ['👍', '❤️'],
      'media.id': [media.id],
      mediaId: [media.id],
      attachments: [media.id],
      exp: [signed.searchParams.get('exp')],
      sig: [signed.searchParams.get('sig')],
      'status.id': [status.id],
      'users.id': users,
      'chatprofile.userId': users,
      userId: others,
      memberIds: others,
      recipientIds: others,
      userIds: others,
      mentions: others,
      only: others,
      except: others,
      'sessions.id': spareSessions,
      'announcements.id': [announcement.id],
      'admin.users.id': ids(victim),
      'admin.feedback.id': [ticket.id],
      'admin.support.id': [supportId],
      'admin.announcements.id': [announcement.id],
      'admin.reports.id': [report.id],
      assigneeId: ids(admin),
      actorId: ids(admin),
      targetId: ids(victim, me),
      q: [me.username, 'fuzz', peer.username.slice(0, 4)],
      accessToken: [me.accessToken],
      'after{}': conversations,
    };
  };

  return {
    app,
    me,
    admin,
    peer,
    third,
    victim,
    directId: direct.id,
    groupId: group.id,
    broadcastId: broadcast.id,
    roomName: group.roomName,
    hints: (name) => pools()[name],
    async heal() {
      await relogin(app, me);
      await relogin(app, admin);
      for (const other of [peer, third, victim]) await call(app, 'DELETE', `/users/${other.user.id}/block`, { token: me.accessToken });
      await call(app, 'POST', `/chat/${group.id}/members`, { token: me.accessToken, payload: { userIds: ids(peer, third) } });
      for (const conversationId of [direct.id, group.id]) {
        const sent = await call(app, 'POST', '/message', { token: me.accessToken, payload: { conversationId, clientId: `heal-${freshMessages.length}-${Date.now()}`, type: 'text', body: 'again' } });
        if (sent.statusCode === 201) freshMessages.push((sent.json() as { id: string }).id);
      }
    },
  };
}
