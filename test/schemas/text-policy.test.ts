import { randomUUID } from 'node:crypto';
import t from 'tap';
import { parseFrame } from '../../src/realtime/frames.js';
import { problemOf } from '../helper.js';
import { call } from '../support/accounts.js';
import { buildChatApp, directChat, newClientId } from '../support/chat.js';
import { inputSchemas, offendingPaths } from '../support/request-schemas.js';
import { createAdmin } from '../support/staff.js';
import { connect, socketBase } from '../support/ws-client.js';

/*
 * The text policy (src/schemas/common.ts Text): no C0 control character, DEL or unpaired surrogate in
 * any text a client sends. Postgres refuses U+0000, so before the policy every route below answered 500.
 */

const NUL = 'a\u0000b';
const SAFE_FORMATS = new Set(['uuid', 'date-time', 'date', 'email', 'binary']);

/** A string schema that accepts a NUL character. */
const acceptsNul = (schema: any) =>
  schema.type === 'string' && schema.enum === undefined && schema.const === undefined && !SAFE_FORMATS.has(schema.format) && (typeof schema.pattern !== 'string' || new RegExp(schema.pattern, 'u').test(NUL));

const harness = await buildChatApp(t);
const { app } = harness;

t.test('every string a route or socket frame accepts is under the text policy', async (t) => {
  const { inputs, components } = await inputSchemas(app);
  const open = inputs.filter((input) => !input.where.includes('multipart/form-data')).flatMap((input) => offendingPaths(input.schema, components, input.where, acceptsNul));
  t.same(open, [], 'strings without a pattern refusing U+0000 (use Text() from src/schemas/common.ts)');
});

t.test('a NUL character in any listed text is a 400 naming the field', async (t) => {
  const [alice, bob] = [await harness.user(), await harness.user()];
  const admin = await createAdmin(app);
  const chat = await directChat(app, alice, bob);
  const id = randomUUID();
  const cases: Array<{ method: 'GET' | 'POST' | 'PUT' | 'PATCH'; url: string; payload?: Record<string, unknown>; token?: string; field: string }> = [
    { method: 'POST', url: '/auth/login', payload: { identifier: NUL, password: 'x' }, field: 'body.identifier' },
    { method: 'POST', url: '/auth/login', payload: { identifier: 'alice', password: NUL }, field: 'body.password' },
    { method: 'POST', url: '/auth/register', payload: { username: 'nul_user', password: 'Corr3ct-Horse-Battery', email: 'nul@example.test', displayName: NUL }, field: 'body.displayName' },
    { method: 'POST', url: '/auth/register', payload: { username: 'nul_user', password: 'Corr3ct-Horse-Battery', phone: `+1415555${NUL}` }, field: 'body.phone' },
    { method: 'POST', url: '/auth/forgot-password', payload: { identifier: NUL }, field: 'body.identifier' },
    { method: 'PATCH', url: '/users/me', payload: { displayName: NUL }, token: alice.accessToken, field: 'body.displayName' },
    { method: 'PATCH', url: '/users/me', payload: { about: NUL }, token: alice.accessToken, field: 'body.about' },
    { method: 'POST', url: '/message', payload: { conversationId: chat.id, clientId: newClientId(), type: 'text', body: NUL }, token: alice.accessToken, field: 'body.body' },
    { method: 'PATCH', url: `/message/${id}`, payload: { body: NUL }, token: alice.accessToken, field: 'body.body' },
    { method: 'PUT', url: `/message/${id}/reactions/${encodeURIComponent(NUL)}`, token: alice.accessToken, field: 'params.emoji' },
    { method: 'POST', url: '/chat/groups', payload: { title: NUL, memberIds: [] }, token: alice.accessToken, field: 'body.title' },
    { method: 'POST', url: '/chat/groups', payload: { title: 'ok', description: NUL, memberIds: [] }, token: alice.accessToken, field: 'body.description' },
    { method: 'POST', url: '/chat/broadcasts', payload: { title: NUL, recipientIds: [bob.user.id] }, token: alice.accessToken, field: 'body.title' },
    { method: 'PATCH', url: `/chat/${chat.id}`, payload: { title: NUL }, token: alice.accessToken, field: 'body.title' },
    { method: 'POST', url: '/status', payload: { type: 'text', body: NUL }, token: alice.accessToken, field: 'body.body' },
    { method: 'POST', url: '/reports', payload: { userId: bob.user.id, reason: NUL }, token: alice.accessToken, field: 'body.reason' },
    { method: 'POST', url: '/feedback', payload: { category: 'bug', subject: NUL, body: 'x' }, token: alice.accessToken, field: 'body.subject' },
    { method: 'POST', url: '/feedback', payload: { category: 'bug', subject: 'x', body: NUL }, token: alice.accessToken, field: 'body.body' },
    { method: 'POST', url: `/admin/feedback/${id}/replies`, payload: { body: NUL }, token: admin.accessToken, field: 'body.body' },
    { method: 'POST', url: '/admin/announcements', payload: { title: NUL, body: 'x' }, token: admin.accessToken, field: 'body.title' },
    { method: 'POST', url: '/admin/announcements', payload: { title: 'x', body: NUL }, token: admin.accessToken, field: 'body.body' },
    { method: 'POST', url: `/admin/support/${id}/messages`, payload: { clientId: 'c-1', body: NUL }, token: admin.accessToken, field: 'body.body' },
    { method: 'POST', url: `/admin/users/${bob.user.id}/ban`, payload: { reason: NUL }, token: admin.accessToken, field: 'body.reason' },
    { method: 'POST', url: `/admin/reports/${id}/actions`, payload: { action: 'ban', reason: NUL }, token: admin.accessToken, field: 'body.reason' },
    { method: 'POST', url: '/media', payload: { fileName: NUL, dataBase64: 'aGk=' }, token: alice.accessToken, field: 'body.fileName' },
    { method: 'GET', url: `/users?q=${encodeURIComponent(NUL)}`, token: alice.accessToken, field: 'query.q' },
    { method: 'GET', url: `/auth/users?q=${encodeURIComponent(NUL)}`, token: alice.accessToken, field: 'query.q' },
    { method: 'GET', url: `/chat?q=${encodeURIComponent(NUL)}`, token: alice.accessToken, field: 'query.q' },
    { method: 'GET', url: `/message/search?q=${encodeURIComponent(NUL)}`, token: alice.accessToken, field: 'query.q' },
    { method: 'GET', url: `/admin/users?q=${encodeURIComponent(NUL)}`, token: admin.accessToken, field: 'query.q' },
    { method: 'GET', url: `/admin/feedback?q=${encodeURIComponent(NUL)}`, token: admin.accessToken, field: 'query.q' },
  ];
  for (const { method, url, payload, token, field } of cases) {
    const response = await call(app, method, url, { ...(payload ? { payload } : {}), ...(token ? { token } : {}) });
    t.equal(response.statusCode, 400, `${method} ${url.slice(0, 60)} ${field}: 400`);
    const problem = problemOf(t, response);
    t.equal(problem.code, 'VALIDATION_FAILED');
    t.ok(problem.errors?.some((e) => e.field === field && /control characters/.test(e.message)), `names ${field}: ${JSON.stringify(problem.errors)}`);
  }
  const tabbed = await call(app, 'POST', '/message', { token: alice.accessToken, payload: { conversationId: chat.id, clientId: newClientId(), type: 'text', body: 'line one\n\tline two 😀' } });
  t.equal(tabbed.statusCode, 201, 'multi-line text keeps tab, newline and emoji');
  const lone = await call(app, 'PATCH', '/users/me', { token: alice.accessToken, payload: { displayName: 'x\ud800' } });
  t.equal(lone.statusCode, 400, 'an unpaired surrogate is refused too');
});

t.test('on the socket, message.send and message.edit with NUL get a VALIDATION_FAILED error frame', async (t) => {
  const [alice, bob] = [await harness.user(), await harness.user()];
  const chat = await directChat(app, alice, bob);
  const socket = await connect(t, `${await socketBase(t, app)}/ws`, { headers: { authorization: `Bearer ${alice.accessToken}` } });
  const send = await socket.request('message.send', { conversationId: chat.id, clientId: newClientId(), type: 'text', body: NUL });
  t.equal(send.type, 'error');
  t.equal(send.data.code, 'VALIDATION_FAILED');
  t.match(send.data.errors, [{ field: 'data.body', message: /control characters/ }]);
  const edit = await socket.request('message.edit', { messageId: randomUUID(), body: NUL });
  t.equal(edit.data.code, 'VALIDATION_FAILED');
  t.match(edit.data.errors, [{ field: 'data.body' }]);
  const frame = parseFrame(JSON.stringify({ type: 'reaction.set', data: { messageId: randomUUID(), emoji: '\u0007' } }));
  t.match(frame, { ok: false, code: 'VALIDATION_FAILED', errors: [{ field: 'data.emoji' }] });
});
