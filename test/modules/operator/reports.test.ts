import t from 'tap';
import { problemOf } from '../../helper.js';
import { call, expectStatus } from '../../support/accounts.js';
import { buildChatApp, createGroup, directChat, history, sendText } from '../../support/chat.js';
import { createAdmin, grantRole } from '../../support/staff.js';
import { socketBase } from '../../support/ws-client.js';
import { open } from '../realtime/gateway-helpers.js';

/*
 * Abuse reports: users report a message they can see or a user; admins work the queue (dismiss,
 * delete the message for everyone, ban). Staff see the reported message only, as it was reported.
 */

const h = await buildChatApp(t);
const admin = await createAdmin(h.app);

interface Report {
  id: string;
  messageId: string | null;
  targetUserId: string | null;
  messageBody: string | null;
  status: string;
  action: string | null;
}

async function report(token: string, payload: Record<string, unknown>): Promise<Report> {
  return expectStatus<Report>(await call(h.app, 'POST', '/reports', { token, payload }), 201, 'report');
}

async function act(id: string, payload: Record<string, unknown>) {
  return call(h.app, 'POST', `/admin/reports/${id}/actions`, { token: admin.accessToken, payload });
}

t.test('a reported message is deleted for everyone; the members see the tombstone', async (t) => {
  const [alice, troll] = [await h.user(), await h.user()];
  const group = await createGroup(h.app, alice, [troll]);
  const bad = await sendText(h.app, troll, group.id, 'buy cheap pills');
  const { client } = await open(t, await socketBase(t, h.app), alice);
  const filed = await report(alice.accessToken, { messageId: bad.id, reason: 'spam' });
  t.match(filed, { messageId: bad.id, targetUserId: troll.user.id, messageBody: 'buy cheap pills', status: 'open' });
  const queue = expectStatus<{ items: Report[] }>(await call(h.app, 'GET', '/admin/reports', { token: admin.accessToken }), 200, 'queue');
  t.ok(queue.items.some((r) => r.id === filed.id));
  const done = expectStatus<Report>(await act(filed.id, { action: 'delete_message' }), 200, 'delete');
  t.match(done, { status: 'actioned', action: 'delete_message' });
  const frame = await client.next('message.deleted');
  t.equal(frame.data.id, bad.id);
  t.equal((await history(h.app, alice, group.id)).items[0]!.deletedAt !== null, true, 'the tombstone is in the history');
  t.equal(problemOf(t, await act(filed.id, { action: 'dismiss' })).code, 'CONFLICT', 'a report is handled once');
  const closed = expectStatus<{ items: Report[] }>(await call(h.app, 'GET', '/admin/reports?status=actioned', { token: admin.accessToken }), 200, 'actioned');
  t.ok(closed.items.some((r) => r.id === filed.id));
});

t.test('reporting a user, then banning them from the queue; dismissing another', async (t) => {
  const [alice, troll] = [await h.user(), await h.user()];
  const filed = await report(alice.accessToken, { userId: troll.user.id, reason: 'harassment' });
  const done = expectStatus<Report>(await act(filed.id, { action: 'ban' }), 200, 'ban');
  t.equal(done.action, 'ban');
  const target = expectStatus<{ status: string; banReason: string }>(await call(h.app, 'GET', `/admin/users/${troll.user.id}`, { token: admin.accessToken }), 200, 'user');
  t.match(target, { status: 'banned', banReason: 'harassment' });
  const other = await report(alice.accessToken, { userId: (await h.user()).user.id, reason: 'not sure' });
  t.equal(expectStatus<Report>(await act(other.id, { action: 'dismiss' }), 200, 'dismiss').status, 'dismissed');
  const audit = expectStatus<{ items: Array<{ action: string }> }>(await call(h.app, 'GET', `/admin/audit?targetId=${filed.id}`, { token: admin.accessToken }), 200, 'audit');
  t.same(audit.items.map((e) => e.action), ['report.ban']);
});

t.test('only what the reporter can see can be reported; bad input is a problem', async (t) => {
  const [alice, bob, carol] = [await h.user(), await h.user(), await h.user()];
  const direct = await directChat(h.app, alice, bob);
  const secret = await sendText(h.app, alice, direct.id, 'just between us');
  const foreign = await call(h.app, 'POST', '/reports', { token: carol.accessToken, payload: { messageId: secret.id, reason: 'x' } });
  t.equal(problemOf(t, foreign).code, 'MESSAGE_NOT_FOUND', 'a message of a conversation you are not in');
  t.equal(problemOf(t, await call(h.app, 'POST', '/reports', { token: alice.accessToken, payload: { messageId: secret.id, reason: 'x' } })).code, 'BAD_REQUEST', 'your own message');
  t.equal(problemOf(t, await call(h.app, 'POST', '/reports', { token: alice.accessToken, payload: { userId: alice.user.id, reason: 'x' } })).code, 'BAD_REQUEST', 'yourself');
  t.equal(problemOf(t, await call(h.app, 'POST', '/reports', { token: alice.accessToken, payload: { userId: '0192f0c1-7a00-7000-8000-0000000000aa', reason: 'x' } })).code, 'USER_NOT_FOUND');
  for (const payload of [{ reason: 'x' }, { messageId: secret.id, userId: bob.user.id, reason: 'x' }, { userId: bob.user.id }, { userId: bob.user.id, reason: '' }]) {
    const response = await call(h.app, 'POST', '/reports', { token: bob.accessToken, payload });
    t.equal(problemOf(t, response).code, 'VALIDATION_FAILED', JSON.stringify(Object.keys(payload)));
  }
  const badAction = await act('0192f0c1-7a00-7000-8000-0000000000aa', { action: 'explode' });
  t.equal(problemOf(t, badAction).code, 'VALIDATION_FAILED');
  t.equal(problemOf(t, await act('0192f0c1-7a00-7000-8000-0000000000aa', { action: 'dismiss' })).code, 'NOT_FOUND');
});

t.test('support staff and users cannot work the reports queue', async (t) => {
  const agent = await grantRole(h.app, admin, await h.user(), 'support');
  const user = await h.user();
  const filed = await report(user.accessToken, { userId: agent.user.id, reason: 'rude' });
  for (const who of [agent, user]) {
    t.equal((await call(h.app, 'GET', '/admin/reports', { token: who.accessToken })).statusCode, 403);
    t.equal((await call(h.app, 'POST', `/admin/reports/${filed.id}/actions`, { token: who.accessToken, payload: { action: 'ban' } })).statusCode, 403);
  }
});
