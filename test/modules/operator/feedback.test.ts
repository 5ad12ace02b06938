import t from 'tap';
import { problemOf } from '../../helper.js';
import { type Account, call, expectStatus } from '../../support/accounts.js';
import { buildChatApp } from '../../support/chat.js';
import { createAdmin, grantRole } from '../../support/staff.js';
import { socketBase } from '../../support/ws-client.js';
import { open } from '../realtime/gateway-helpers.js';

/*
 * Feedback tickets: a user files and lists their own; staff (support and admin) list, filter, answer,
 * assign and close them; the author hears of a reply on their socket and sees it in their list.
 */

const h = await buildChatApp(t);
const admin = await createAdmin(h.app);
const agent = await grantRole(h.app, admin, await h.user('Sam from Support'), 'support');

interface Ticket {
  id: string;
  userId: string;
  category: string;
  subject: string;
  status: string;
  assigneeId: string | null;
  replies: Array<{ body: string; author: { id: string | null; displayName: string | null } }>;
}

async function file(user: Account, extra: Record<string, unknown> = {}): Promise<Ticket> {
  const response = await call(h.app, 'POST', '/feedback', { token: user.accessToken, payload: { category: 'bug', subject: 'Photos do not load', body: 'Grey boxes everywhere.', ...extra } });
  return expectStatus<Ticket>(response, 201, 'file a ticket');
}

t.test('a user files tickets and lists only their own, newest first, page by page', async (t) => {
  const [alice, bob] = [await h.user(), await h.user()];
  const first = await file(alice, { subject: 'first' });
  const second = await file(alice, { category: 'idea', subject: 'second' });
  await file(bob);
  t.equal(first.status, 'open');
  t.same(first.replies, []);
  const page1 = expectStatus<{ items: Ticket[]; nextCursor: string | null }>(await call(h.app, 'GET', '/feedback?limit=1', { token: alice.accessToken }), 200, 'page 1');
  t.same(page1.items.map((x) => x.id), [second.id]);
  t.ok(page1.nextCursor);
  const page2 = expectStatus<{ items: Ticket[]; nextCursor: string | null }>(await call(h.app, 'GET', `/feedback?limit=1&cursor=${page1.nextCursor}`, { token: alice.accessToken }), 200, 'page 2');
  t.same(page2.items.map((x) => x.id), [first.id]);
  t.equal(page2.nextCursor, null);
});

t.test('bad input is a problem with a code', async (t) => {
  const user = await h.user();
  const badCategory = await call(h.app, 'POST', '/feedback', { token: user.accessToken, payload: { category: 'rant', subject: 's', body: 'b' } });
  t.equal(badCategory.statusCode, 400);
  t.equal(problemOf(t, badCategory).code, 'VALIDATION_FAILED');
  const blank = await call(h.app, 'POST', '/feedback', { token: user.accessToken, payload: { category: 'bug', subject: '   ', body: 'b' } });
  t.equal(problemOf(t, blank).code, 'VALIDATION_FAILED');
  const tooLong = await call(h.app, 'POST', '/feedback', { token: user.accessToken, payload: { category: 'bug', subject: 's', body: 'x'.repeat(5001) } });
  t.equal(tooLong.statusCode, 400);
  const attachments = await call(h.app, 'POST', '/feedback', { token: user.accessToken, payload: { category: 'bug', subject: 's', body: 'b', attachments: ['x'] } });
  t.equal(attachments.statusCode, 400, 'attachments must be media ids');
  const cursor = await call(h.app, 'GET', '/feedback?cursor=nonsense', { token: user.accessToken });
  t.equal(problemOf(t, cursor).code, 'INVALID_CURSOR');
  t.equal((await call(h.app, 'GET', '/feedback')).statusCode, 401);
});

t.test('support staff answer a ticket: the author gets feedback.replied on the socket and in the list', async (t) => {
  const user = await h.user();
  const ticket = await file(user);
  const { client } = await open(t, await socketBase(t, h.app), user);
  const answered = await call(h.app, 'POST', `/admin/feedback/${ticket.id}/replies`, { token: agent.accessToken, payload: { body: 'Fixed in today’s release.' } });
  const body = expectStatus<Ticket>(answered, 201, 'reply');
  t.equal(body.status, 'answered');
  const frame = await client.next('feedback.replied');
  t.equal(frame.data.ticketId, ticket.id);
  t.equal(frame.data.reply.body, 'Fixed in today’s release.');
  t.equal(frame.data.reply.author.displayName, 'Sam from Support', 'signed with the staff member’s display name');
  const mine = expectStatus<{ items: Ticket[] }>(await call(h.app, 'GET', '/feedback', { token: user.accessToken }), 200, 'list');
  t.equal(mine.items[0]!.status, 'answered');
  t.equal(mine.items[0]!.replies[0]!.body, 'Fixed in today’s release.');
  const audit = expectStatus<{ items: Array<{ action: string; actorId: string; targetId: string }> }>(await call(h.app, 'GET', `/admin/audit?targetId=${ticket.id}`, { token: admin.accessToken }), 200, 'audit');
  t.match(audit.items, [{ action: 'feedback.replied', actorId: agent.user.id, targetId: ticket.id }], 'the reply is in the audit log');
});

t.test('staff filter by status, category and text, read one, assign and close', async (t) => {
  const user = await h.user();
  const marker = `zebra${Date.now()}`;
  const ticket = await file(user, { category: 'complaint', subject: `About the ${marker}` });
  const found = expectStatus<{ items: Ticket[] }>(await call(h.app, 'GET', `/admin/feedback?q=${marker.toUpperCase()}&category=complaint&status=open`, { token: agent.accessToken }), 200, 'search');
  t.same(found.items.map((x) => x.id), [ticket.id]);
  const none = expectStatus<{ items: Ticket[] }>(await call(h.app, 'GET', `/admin/feedback?q=${marker}&category=idea`, { token: agent.accessToken }), 200, 'other category');
  t.same(none.items, []);
  t.equal(expectStatus<Ticket>(await call(h.app, 'GET', `/admin/feedback/${ticket.id}`, { token: admin.accessToken }), 200, 'get').subject, `About the ${marker}`);
  const patched = expectStatus<Ticket>(await call(h.app, 'PATCH', `/admin/feedback/${ticket.id}`, { token: admin.accessToken, payload: { status: 'closed', assigneeId: agent.user.id } }), 200, 'patch');
  t.equal(patched.status, 'closed');
  t.equal(patched.assigneeId, agent.user.id);
  const notStaff = await call(h.app, 'PATCH', `/admin/feedback/${ticket.id}`, { token: admin.accessToken, payload: { assigneeId: user.user.id } });
  t.equal(problemOf(t, notStaff).code, 'VALIDATION_FAILED', 'only staff can be assigned');
  const missing = await call(h.app, 'GET', '/admin/feedback/0192f0c1-7a00-7000-8000-0000000000aa', { token: admin.accessToken });
  t.equal(problemOf(t, missing).code, 'NOT_FOUND');
});

t.test('ordinary users get 403 on the staff routes, before their input is looked at', async (t) => {
  const user = await h.user();
  const ticket = await file(user);
  for (const [method, url, payload] of [
    ['GET', '/admin/feedback', undefined],
    ['GET', `/admin/feedback/${ticket.id}`, undefined],
    ['POST', `/admin/feedback/${ticket.id}/replies`, { body: 'hi' }],
    ['PATCH', `/admin/feedback/${ticket.id}`, { status: 'closed' }],
    ['POST', '/admin/feedback/not-an-id/replies', {}],
  ] as const) {
    const response = await call(h.app, method, url, { token: user.accessToken, ...(payload ? { payload } : {}) });
    t.equal(response.statusCode, 403, `${method} ${url}`);
    t.equal(problemOf(t, response).code, 'FORBIDDEN');
  }
});
