import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import t from 'tap';
import { type Account, PASSWORD, type TokenPairBody, call, expectStatus, uniqueUsername } from '../../support/accounts.js';
import { type MessageBody, newClientId, sendText } from '../../support/chat.js';
import { TRANSPORT, buildCluster, openSocket, waitUntil } from '../realtime/cluster-support.js';

/*
 * The operator's day, end to end, on two instances A and B sharing one database and (with REDIS_URL)
 * Redis: a new admin, created as the README says, signs in, answers a ticket and a support chat,
 * posts an announcement that reaches sockets on both instances, and bans a user whose socket on the
 * other instance closes at once.
 *
 * With DATABASE_URL the admin is made by the real `npm run admin:create` script against the test's
 * database; on the embedded run (an in-memory database no other process can open) by the function
 * that script calls, AuthService.ensureAdmin.
 */

t.comment(`transport between the instances: ${TRANSPORT === 'redis' ? 'Redis pub/sub' : 'one shared in-process bus (REDIS_URL unset)'}`);

const run = promisify(execFile);
const c = await buildCluster(t);

async function createAdminAsTheReadmeSays(username: string): Promise<void> {
  const url = c.backend.env.DATABASE_URL;
  if (!url) {
    await c.a.services.auth.ensureAdmin({ username, password: PASSWORD });
    return;
  }
  const { stdout } = await run('npm', ['run', '--silent', 'admin:create', '--', '--username', username, '--password', PASSWORD], {
    env: { ...process.env, DATABASE_URL: url, REDIS_URL: '', LOG_LEVEL: 'silent' },
    timeout: 60_000,
  });
  if (!stdout.includes(`created admin ${username}`)) throw new Error(`admin:create said: ${stdout}`);
}

t.test('a new admin answers a ticket and a support chat, announces to both instances and bans a user', async (t) => {
  const username = uniqueUsername('ops');
  await createAdminAsTheReadmeSays(username);
  const login = expectStatus<TokenPairBody>(await call(c.b, 'POST', '/auth/login', { payload: { identifier: username, password: PASSWORD } }), 200, 'admin login on B');
  t.equal(login.user.role, 'admin');
  const admin: Account = { ...login, username, password: PASSWORD, email: undefined, phone: undefined };

  const alice = await c.user('Alice');
  const bob = await c.user('Bob');
  const aliceOnA = await openSocket(t, c.a, alice);
  const bobOnB = await openSocket(t, c.b, bob);

  // A ticket filed on A, answered from B; Alice's socket on A hears of it.
  const ticket = expectStatus<{ id: string }>(await call(c.a, 'POST', '/feedback', { token: alice.accessToken, payload: { category: 'bug', subject: 'Sync', body: 'Messages arrive late.' } }), 201, 'ticket');
  expectStatus(await call(c.b, 'POST', `/admin/feedback/${ticket.id}/replies`, { token: admin.accessToken, payload: { body: 'Fixed now.' } }), 201, 'answer the ticket');
  const replied = await aliceOnA.next('feedback.replied', 20_000);
  t.equal(replied.data.ticketId, ticket.id);
  const own = expectStatus<{ items: Array<{ status: string; replies: Array<{ body: string }> }> }>(await call(c.a, 'GET', '/feedback', { token: alice.accessToken }), 200, 'Alice’s tickets');
  t.match(own.items[0], { status: 'answered', replies: [{ body: 'Fixed now.' }] });

  // A support chat opened by Bob on B, answered by the admin on A.
  const thread = expectStatus<{ conversation: { id: string } }>(await call(c.b, 'POST', '/support', { token: bob.accessToken }), 201, 'support');
  const supportId = thread.conversation.id;
  await sendText(c.b, bob, supportId, 'I cannot log in on my tablet');
  const queue = expectStatus<{ items: Array<{ conversationId: string; unreadCount: number }> }>(await call(c.a, 'GET', '/admin/support', { token: admin.accessToken }), 200, 'queue');
  t.match(queue.items.find((i) => i.conversationId === supportId), { unreadCount: 1 });
  const answer = expectStatus<MessageBody>(
    await call(c.a, 'POST', `/admin/support/${supportId}/messages`, { token: admin.accessToken, payload: { clientId: newClientId(), body: 'Try signing out everywhere first.' } }),
    201,
    'answer the chat',
  );
  await waitUntil('Bob on B gets the answer', () => bobOnB.frames.some((f) => f.type === 'message.created' && f.data.id === answer.id));
  const signed = expectStatus<{ staff: Array<{ id: string; displayName: string }> }>(await call(c.b, 'POST', '/support', { token: bob.accessToken }), 200, 'thread');
  t.same(signed.staff.map((s) => s.id), [admin.user.id], 'the answer is signed by the admin');

  // An announcement posted on A reaches sockets on A and on B.
  const announcement = expectStatus<{ id: string }>(await call(c.a, 'POST', '/admin/announcements', { token: admin.accessToken, payload: { title: 'Welcome', body: 'New features today.' } }), 201, 'announce');
  for (const [label, socket] of [['A', aliceOnA], ['B', bobOnB]] as const) {
    const frame = await socket.next('announcement', 20_000);
    t.equal(frame.data.id, announcement.id, `the socket on ${label} got it`);
  }

  // Banning Bob from A closes his socket on B at once.
  const started = Date.now();
  expectStatus(await call(c.a, 'POST', `/admin/users/${bob.user.id}/ban`, { token: admin.accessToken, payload: { reason: 'abuse' } }), 200, 'ban');
  const closed = await bobOnB.closed(20_000);
  t.equal(closed.code, 4401, 'Bob’s socket on B closed');
  t.ok(Date.now() - started < 5000, 'at once');
  t.equal((await call(c.b, 'GET', '/users/me', { token: bob.accessToken })).statusCode, 401, 'his token no longer works on B');
  const audit = expectStatus<{ items: Array<{ action: string }> }>(await call(c.b, 'GET', `/admin/audit?actorId=${admin.user.id}`, { token: admin.accessToken }), 200, 'audit');
  t.same(audit.items.map((e) => e.action), ['user.banned', 'announcement.created', 'support.replied', 'feedback.replied'], 'every action is in the audit log');
});
