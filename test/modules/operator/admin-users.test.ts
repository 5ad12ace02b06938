import t from 'tap';
import { problemOf } from '../../helper.js';
import { type Account, call, expectStatus, signIn } from '../../support/accounts.js';
import { buildChatApp } from '../../support/chat.js';
import { createAdmin, grantRole } from '../../support/staff.js';
import { socketBase } from '../../support/ws-client.js';
import { alive, open } from '../realtime/gateway-helpers.js';

/*
 * Accounts as admins manage them: search, ban (sessions revoked, sockets closed at once), unban, roles,
 * sessions, the audit log; and the gate in front of every /admin route.
 */

const h = await buildChatApp(t);
const admin = await createAdmin(h.app);
const agent = await grantRole(h.app, admin, await h.user(), 'support');

interface AdminUser {
  id: string;
  username: string;
  role: string;
  status: string;
  banReason: string | null;
}

t.test('a ban revokes every session and closes every socket of the user at once; unban lets them back', async (t) => {
  const base = await socketBase(t, h.app);
  const [user, bystander] = [await h.user(), await h.user()];
  const laptop = { ...user, ...(await signIn(h.app, h.mailbox, user, 'laptop')) } as Account;
  const sockets = [(await open(t, base, user)).client, (await open(t, base, laptop)).client];
  const other = (await open(t, base, bystander)).client;

  const banned = expectStatus<AdminUser>(await call(h.app, 'POST', `/admin/users/${user.user.id}/ban`, { token: admin.accessToken, payload: { reason: 'spam' } }), 200, 'ban');
  t.match(banned, { status: 'banned', banReason: 'spam' });
  for (const socket of sockets) t.equal((await socket.closed()).code, 4401, 'socket closed');
  t.ok(await alive(other), 'other users stay connected');

  const refused = await call(h.app, 'GET', '/users/me', { token: user.accessToken });
  t.equal(refused.statusCode, 401);
  t.equal(problemOf(t, refused).code, 'SESSION_REVOKED', 'the access token stops working');
  const login = await call(h.app, 'POST', '/auth/login', { payload: { identifier: user.username, password: user.password } });
  t.equal(problemOf(t, login).code, 'ACCOUNT_BANNED', 'and no new sign-in');
  const refresh = await call(h.app, 'POST', '/auth/refresh', { payload: { refreshToken: user.refreshToken } });
  t.equal(refresh.statusCode >= 400, true, 'nor a refresh');
  t.same(expectStatus<{ items: unknown[] }>(await call(h.app, 'GET', `/admin/users/${user.user.id}/sessions`, { token: admin.accessToken }), 200, 'sessions').items, [], 'no live sessions');

  expectStatus(await call(h.app, 'DELETE', `/admin/users/${user.user.id}/ban`, { token: admin.accessToken }), 200, 'unban');
  await signIn(h.app, h.mailbox, user);
  const audit = expectStatus<{ items: Array<{ action: string; actorId: string; details: Record<string, unknown> | null }> }>(
    await call(h.app, 'GET', `/admin/audit?targetId=${user.user.id}`, { token: admin.accessToken }),
    200,
    'audit',
  );
  t.match(audit.items, [{ action: 'user.unbanned', actorId: admin.user.id }, { action: 'user.banned', actorId: admin.user.id, details: { reason: 'spam' } }]);
});

t.test('search by name prefix, status and role, page by page; sessions of a user', async (t) => {
  const user = await h.user('Zed Searchable');
  const byName = expectStatus<{ items: AdminUser[] }>(await call(h.app, 'GET', `/admin/users?q=${user.username.slice(0, 12)}`, { token: admin.accessToken }), 200, 'search');
  t.ok(byName.items.some((u) => u.id === user.user.id));
  const supportOnly = expectStatus<{ items: AdminUser[] }>(await call(h.app, 'GET', '/admin/users?role=support', { token: admin.accessToken }), 200, 'role');
  t.same(supportOnly.items.map((u) => u.id), [agent.user.id]);
  const first = expectStatus<{ items: AdminUser[]; nextCursor: string }>(await call(h.app, 'GET', '/admin/users?limit=1', { token: admin.accessToken }), 200, 'page 1');
  const second = expectStatus<{ items: AdminUser[] }>(await call(h.app, 'GET', `/admin/users?limit=1&cursor=${first.nextCursor}`, { token: admin.accessToken }), 200, 'page 2');
  t.ok(first.items[0]!.username.toLowerCase() < second.items[0]!.username.toLowerCase(), 'ordered by username');
  const sessions = expectStatus<{ items: Array<{ id: string }> }>(await call(h.app, 'GET', `/admin/users/${user.user.id}/sessions`, { token: admin.accessToken }), 200, 'sessions');
  t.equal(sessions.items.length, 1);
  const bad = await call(h.app, 'GET', '/admin/users?status=gone', { token: admin.accessToken });
  t.equal(problemOf(t, bad).code, 'VALIDATION_FAILED');
  t.equal(problemOf(t, await call(h.app, 'GET', '/admin/users/0192f0c1-7a00-7000-8000-0000000000aa', { token: admin.accessToken })).code, 'USER_NOT_FOUND');
});

t.test('role changes take effect on the next request; admins cannot ban or demote themselves, nor ban an admin', async (t) => {
  const user = await h.user();
  expectStatus(await call(h.app, 'GET', '/admin/support', { token: user.accessToken }), 403, 'before');
  await grantRole(h.app, admin, user, 'support');
  expectStatus(await call(h.app, 'GET', '/admin/support', { token: user.accessToken }), 200, 'the same token, now support');
  await grantRole(h.app, admin, user, 'user');
  expectStatus(await call(h.app, 'GET', '/admin/support', { token: user.accessToken }), 403, 'and back');
  t.equal(problemOf(t, await call(h.app, 'POST', `/admin/users/${admin.user.id}/ban`, { token: admin.accessToken, payload: { reason: 'x' } })).code, 'FORBIDDEN');
  t.equal(problemOf(t, await call(h.app, 'PUT', `/admin/users/${admin.user.id}/role`, { token: admin.accessToken, payload: { role: 'user' } })).code, 'FORBIDDEN');
  const other = await grantRole(h.app, admin, await h.user(), 'admin');
  t.equal(problemOf(t, await call(h.app, 'POST', `/admin/users/${other.user.id}/ban`, { token: admin.accessToken, payload: { reason: 'x' } })).code, 'FORBIDDEN');
  const badRole = await call(h.app, 'PUT', `/admin/users/${user.user.id}/role`, { token: admin.accessToken, payload: { role: 'root' } });
  t.equal(problemOf(t, badRole).code, 'VALIDATION_FAILED');
  const noReason = await call(h.app, 'POST', `/admin/users/${user.user.id}/ban`, { token: admin.accessToken, payload: {} });
  t.equal(problemOf(t, noReason).code, 'VALIDATION_FAILED');
});

t.test('support staff cannot ban, unban or change roles', async (t) => {
  const user = await h.user();
  for (const [method, url, payload] of [
    ['POST', `/admin/users/${user.user.id}/ban`, { reason: 'x' }],
    ['DELETE', `/admin/users/${user.user.id}/ban`, undefined],
    ['PUT', `/admin/users/${user.user.id}/role`, { role: 'admin' }],
    ['PUT', `/admin/users/${agent.user.id}/role`, { role: 'admin' }],
  ] as const) {
    const response = await call(h.app, method, url, { token: agent.accessToken, ...(payload ? { payload } : {}) });
    t.equal(response.statusCode, 403, `${method} ${url}`);
    t.equal(problemOf(t, response).code, 'FORBIDDEN');
  }
  const me = expectStatus<{ role: string; status: string }>(await call(h.app, 'GET', '/users/me', { token: user.accessToken }), 200, 'still fine');
  t.match(me, { role: 'user' });
});

t.test('every /admin route answers 403 to a non-staff user (and 401 without a token)', async (t) => {
  const user = await h.user();
  const paths = (h.app.swagger() as { paths: Record<string, Record<string, unknown>> }).paths;
  const routes = Object.entries(paths)
    .filter(([path]) => path.startsWith('/api/v1/admin/'))
    .flatMap(([path, methods]) => Object.keys(methods).map((method) => [method.toUpperCase(), path.replace(/\{[^}]+\}/g, '0192f0c1-7a00-7000-8000-0000000000aa')] as const));
  t.ok(routes.length >= 22, `${routes.length} admin routes`);
  for (const [method, url] of routes) {
    const response = await call(h.app, method as 'GET', url, { token: user.accessToken, ...(method === 'GET' || method === 'DELETE' ? {} : { payload: {} }) });
    t.equal(response.statusCode, 403, `${method} ${url}`);
    t.equal((await call(h.app, method as 'GET', url)).statusCode, 401, `${method} ${url} without a token`);
  }
});
