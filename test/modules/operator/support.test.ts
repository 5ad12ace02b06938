import t from 'tap';
import { problemOf } from '../../helper.js';
import { type Account, call, expectStatus } from '../../support/accounts.js';
import { type ConversationBody, type MessageBody, buildChatApp, createGroup, directChat, history, newClientId, sendText } from '../../support/chat.js';
import { createAdmin, grantRole } from '../../support/staff.js';
import { socketBase } from '../../support/ws-client.js';
import { open } from '../realtime/gateway-helpers.js';
import { waitUntil } from '../realtime/cluster-support.js';

/*
 * Customer service: a user's one support conversation; staff (support, admin) see it in the queue
 * with unread counts and waiting time, claim it, read it and answer it, signed with their display
 * name, through the ordinary message and socket machinery. Staff never reach private conversations.
 */

const h = await buildChatApp(t);
const admin = await createAdmin(h.app);
const agent = await grantRole(h.app, admin, await h.user('Sam from Support'), 'support');

interface Thread {
  conversation: ConversationBody & { kind: string };
  staff: Array<{ id: string; displayName: string }>;
}
interface QueueItem {
  conversationId: string;
  user: { id: string };
  assignee: { id: string; displayName: string } | null;
  lastSeq: number;
  unreadCount: number;
  waitingSince: string | null;
  waitingSeconds: number;
}

async function openSupport(user: Account, status = 201): Promise<Thread> {
  return expectStatus<Thread>(await call(h.app, 'POST', '/support', { token: user.accessToken }), status, 'open support');
}

async function queueItem(staff: Account, conversationId: string, query = ''): Promise<QueueItem | undefined> {
  const page = expectStatus<{ items: QueueItem[] }>(await call(h.app, 'GET', `/admin/support?limit=100${query}`, { token: staff.accessToken }), 200, 'queue');
  return page.items.find((i) => i.conversationId === conversationId);
}

t.test('a user opens one support conversation; staff answer it and the user sees who answered', async (t) => {
  const base = await socketBase(t, h.app);
  const user = await h.user('Customer');
  const thread = await openSupport(user);
  t.equal(thread.conversation.kind, 'support');
  t.same(thread.staff, []);
  t.equal((await openSupport(user, 200)).conversation.id, thread.conversation.id, 'opening again returns the same one');
  const id = thread.conversation.id;
  const userSocket = (await open(t, base, user)).client;

  await sendText(h.app, user, id, 'My photos do not load');
  await sendText(h.app, user, id, 'Still broken');
  const waiting = await queueItem(agent, id);
  t.match(waiting, { user: { id: user.user.id }, assignee: null, lastSeq: 2, unreadCount: 2 });
  t.ok(waiting!.waitingSince, 'waiting since the first unanswered message');
  t.ok(waiting!.waitingSeconds >= 0);
  t.ok(await queueItem(agent, id, '&assignee=none'), 'unclaimed');

  const claimed = expectStatus<Thread>(await call(h.app, 'POST', `/admin/support/${id}/claim`, { token: agent.accessToken }), 200, 'claim');
  t.same(claimed.staff.map((s) => s.displayName), ['Sam from Support']);
  t.match(await queueItem(agent, id, '&assignee=me'), { assignee: { id: agent.user.id } }, 'claimed by the agent');
  t.equal(await queueItem(agent, id, '&assignee=none'), undefined);

  const agentSocket = (await open(t, base, agent)).client;
  const read = expectStatus<{ items: MessageBody[] }>(await call(h.app, 'GET', `/admin/support/${id}/messages`, { token: agent.accessToken }), 200, 'read');
  t.same(read.items.map((m) => m.body), ['My photos do not load', 'Still broken'], 'staff see the whole history');

  const answer = await call(h.app, 'POST', `/admin/support/${id}/messages`, { token: agent.accessToken, payload: { clientId: newClientId(), body: 'Looking into it' } });
  const message = expectStatus<MessageBody>(answer, 201, 'answer');
  t.equal(message.senderId, agent.user.id);
  await waitUntil('the user gets the answer', () => userSocket.frames.some((f) => f.type === 'message.created' && f.data.id === message.id));
  t.match(await queueItem(agent, id), { unreadCount: 0, waitingSince: null, waitingSeconds: 0 }, 'answered: nothing waits');

  const seen = (await openSupport(user, 200)).staff;
  t.same(seen.map((s) => [s.id, s.displayName]), [[agent.user.id, 'Sam from Support']], 'the user signs the answer with the staff member’s display name');

  const followUp = await sendText(h.app, user, id, 'Thanks!');
  await waitUntil('the agent’s socket follows the conversation', () => agentSocket.frames.some((f) => f.type === 'message.created' && f.data.id === followUp.id));
  const viaChat = await sendText(h.app, agent, id, 'Anything else?');
  t.equal(viaChat.senderId, agent.user.id, 'staff can also use the ordinary /message route once in');
  t.same((await history(h.app, user, id)).items.map((m) => m.body), ['My photos do not load', 'Still broken', 'Looking into it', 'Thanks!', 'Anything else?']);

  expectStatus(await call(h.app, 'DELETE', `/chat/${id}/members/${user.user.id}`, { token: user.accessToken }), 204, 'the user leaves');
  t.equal((await openSupport(user, 200)).conversation.left, false, 'opening it again brings them back');
  await sendText(h.app, user, id, 'One more thing');

  const audit = expectStatus<{ items: Array<{ action: string }> }>(await call(h.app, 'GET', `/admin/audit?targetId=${id}`, { token: admin.accessToken }), 200, 'audit');
  t.same(audit.items.map((e) => e.action), ['support.replied', 'support.claimed']);
});

t.test('an admin answers too; a repeated clientId returns the original', async (t) => {
  const user = await h.user();
  const { conversation } = await openSupport(user);
  await sendText(h.app, user, conversation.id, 'hello?');
  const clientId = newClientId();
  const first = expectStatus<MessageBody>(await call(h.app, 'POST', `/admin/support/${conversation.id}/messages`, { token: admin.accessToken, payload: { clientId, body: 'Hi' } }), 201, 'answer');
  const again = expectStatus<MessageBody>(await call(h.app, 'POST', `/admin/support/${conversation.id}/messages`, { token: admin.accessToken, payload: { clientId, body: 'Hi' } }), 200, 'retry');
  t.equal(again.id, first.id);
  t.match(await queueItem(admin, conversation.id), { assignee: { id: admin.user.id } }, 'answering an unclaimed one claims it');
});

t.test('a demoted staff member loses the support conversations they were in, history included', async (t) => {
  const user = await h.user();
  const { conversation } = await openSupport(user);
  await sendText(h.app, user, conversation.id, 'help');
  const former = await grantRole(h.app, admin, await h.user('Temp Agent'), 'support');
  expectStatus(await call(h.app, 'POST', `/admin/support/${conversation.id}/claim`, { token: former.accessToken }), 200, 'claim');
  const { client } = await open(t, await socketBase(t, h.app), former);
  await grantRole(h.app, admin, former, 'user');
  const left = await client.next('member.left');
  t.equal(left.data.conversationId, conversation.id, 'their socket stops following it');
  for (const url of [`/chat/${conversation.id}`, `/message/chat/${conversation.id}`]) {
    t.equal(problemOf(t, await call(h.app, 'GET', url, { token: former.accessToken })).code, 'CONVERSATION_NOT_FOUND', url);
  }
  t.match(await queueItem(agent, conversation.id), { assignee: null }, 'nothing stays assigned to them');
  t.same((await openSupport(user, 200)).staff, [], 'the user no longer sees them in it');
  t.equal((await openSupport(user, 200)).conversation.memberCount, 1);
});

t.test('the queue counts messages, not the changes between them (receipts, joins)', async (t) => {
  const user = await h.user();
  const { conversation } = await openSupport(user);
  const id = conversation.id;
  await sendText(h.app, user, id, 'first');
  expectStatus(await call(h.app, 'POST', `/admin/support/${id}/claim`, { token: agent.accessToken }), 200, 'claim');
  expectStatus(await call(h.app, 'GET', `/admin/support/${id}/messages`, { token: agent.accessToken }), 200, 'the agent joins by reading');
  const last = (await history(h.app, user, id)).items.at(-1)!;
  expectStatus(await call(h.app, 'POST', `/chat/${id}/read`, { token: agent.accessToken, payload: { seq: last.seq } }), 200, 'the agent reads it');
  t.match(await queueItem(agent, id), { unreadCount: 0, waitingSince: null }, "the agent's own receipt (a change with a seq) is not unread");
  expectStatus(await call(h.app, 'POST', `/chat/${id}/read`, { token: user.accessToken, payload: { seq: last.seq } }), 200, "the user's receipt takes the next seq");
  const next = await sendText(h.app, user, id, 'second');
  const item = await queueItem(agent, id);
  t.match(item, { unreadCount: 1 }, 'one message waits');
  t.equal(item!.waitingSince, next.createdAt, 'since the message after the receipt, not the receipt');
});

t.test('a demoted staff member loses even the support conversations they had left', async (t) => {
  const user = await h.user();
  const { conversation } = await openSupport(user);
  await sendText(h.app, user, conversation.id, 'help');
  const former = await grantRole(h.app, admin, await h.user('Left Agent'), 'support');
  expectStatus(await call(h.app, 'POST', `/admin/support/${conversation.id}/claim`, { token: former.accessToken }), 200, 'claim');
  expectStatus(await call(h.app, 'DELETE', `/chat/${conversation.id}/members/${former.user.id}`, { token: former.accessToken }), 204, 'they leave it');
  t.equal(expectStatus<{ left: boolean }>(await call(h.app, 'GET', `/chat/${conversation.id}`, { token: former.accessToken }), 200, 'a former member reads it').left, true);
  await grantRole(h.app, admin, former, 'user');
  t.equal(problemOf(t, await call(h.app, 'GET', `/message/chat/${conversation.id}`, { token: former.accessToken })).code, 'CONVERSATION_NOT_FOUND', 'not even the history they saw');
});

t.test('staff cannot read private conversations through any route', async (t) => {
  const [alice, bob] = [await h.user(), await h.user()];
  const direct = await directChat(h.app, alice, bob);
  const group = await createGroup(h.app, alice, [bob]);
  await sendText(h.app, alice, direct.id, 'private');
  for (const staff of [admin, agent]) {
    for (const id of [direct.id, group.id]) {
      for (const [method, url, payload] of [
        ['GET', `/admin/support/${id}/messages`, undefined],
        ['POST', `/admin/support/${id}/claim`, undefined],
        ['POST', `/admin/support/${id}/messages`, { clientId: newClientId(), body: 'x' }],
        ['GET', `/chat/${id}`, undefined],
        ['GET', `/message/chat/${id}`, undefined],
        ['GET', `/chat/${id}/members`, undefined],
      ] as const) {
        const response = await call(h.app, method, url, { token: staff.accessToken, ...(payload ? { payload } : {}) });
        t.equal(response.statusCode, 404, `${staff.user.role}: ${method} ${url.replace(id, ':id')}`);
        t.equal(problemOf(t, response).code, 'CONVERSATION_NOT_FOUND');
      }
    }
    const search = expectStatus<{ items: MessageBody[] }>(await call(h.app, 'GET', '/message/search?q=private', { token: staff.accessToken }), 200, 'search');
    t.notOk(search.items.some((m) => m.conversationId === direct.id), 'search does not reach it either');
  }
});

t.test('non-staff get 403 on the support queue routes; bad input is a problem', async (t) => {
  const user = await h.user();
  const { conversation } = await openSupport(user);
  for (const [method, url] of [
    ['GET', '/admin/support'],
    ['POST', `/admin/support/${conversation.id}/claim`],
    ['GET', `/admin/support/${conversation.id}/messages`],
    ['POST', `/admin/support/${conversation.id}/messages`],
  ] as const) {
    const response = await call(h.app, method, url, { token: user.accessToken, ...(method === 'POST' ? { payload: { clientId: 'x', body: 'y' } } : {}) });
    t.equal(response.statusCode, 403, `${method} ${url}`);
    t.equal(problemOf(t, response).code, 'FORBIDDEN');
  }
  const badAssignee = await call(h.app, 'GET', '/admin/support?assignee=someone', { token: agent.accessToken });
  t.equal(problemOf(t, badAssignee).code, 'VALIDATION_FAILED');
  const emptyBody = await call(h.app, 'POST', `/admin/support/${conversation.id}/messages`, { token: agent.accessToken, payload: { clientId: newClientId(), body: '' } });
  t.equal(problemOf(t, emptyBody).code, 'VALIDATION_FAILED');
  const unknown = await call(h.app, 'POST', '/admin/support/0192f0c1-7a00-7000-8000-0000000000aa/claim', { token: agent.accessToken });
  t.equal(problemOf(t, unknown).code, 'CONVERSATION_NOT_FOUND');
});
