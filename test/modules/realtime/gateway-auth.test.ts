import { randomUUID } from 'node:crypto';
import { eq } from 'drizzle-orm';
import t from 'tap';
import { wsTickets } from '../../../src/db/schema.js';
import { captureLogs } from '../../helper.js';
import { AUTH_TEST_ENV, buildAuthApp } from '../../support/auth-app.js';
import { type Account, type PrivateUserBody, call, expectStatus, jwtClaims, registerAndVerify } from '../../support/accounts.js';
import { buildChatApp, conversation, createGroup, directChat, sendText } from '../../support/chat.js';
import { signHs256 } from '../../support/jwt.js';
import { connect, refusedStatus, socketBase } from '../../support/ws-client.js';
import { alive, expectRefused, getJson, open, refusal, sleep, wsTicket } from './gateway-helpers.js';

/*
 * The socket gateway's door: the four ways to authenticate (checked before the upgrade), the first
 * frame, room sockets, refusals as plain HTTP problems (401 / 403 / 404 / 429), and credentials that
 * never reach the log.
 */

const JWT_SECRET = 'gateway-auth-secret-0123456789abcdef-0123456789';
const ALLOWED_ORIGIN = 'https://app.example.test';
const h = await buildChatApp(t, { JWT_SECRET, CORS_ORIGINS: ALLOWED_ORIGIN });
const { app } = h;
const base = await socketBase(t, app);

const bearer = (account: Account) => ({ headers: { authorization: `Bearer ${account.accessToken}` } });
const me = (account: Account) => getJson<PrivateUserBody>(app, account, '/users/me');

t.test('Authorization header: the socket opens and its first frame is ready with the user and the conversations', async (t) => {
  const [a, b] = [await h.user('Alice'), await h.user('Bob')];
  const chat = await directChat(app, a, b);
  await sendText(app, a, chat.id, 'one');
  await sendText(app, a, chat.id, 'two');
  const group = await createGroup(app, b, [a]);
  const restChat = await conversation(app, b, chat.id);
  const restGroup = await conversation(app, b, group.id);

  const client = await connect(t, `${base}/ws`, bearer(b));
  const ready = await client.next('ready');
  t.equal(client.frames[0]?.type, 'ready', 'the first frame is ready');
  t.strictSame(ready.data.user, await me(b), 'data.user is the private user, as GET /users/me');
  t.equal(ready.data.conversations.length, 2, 'both conversations of the user');
  const pick = (c: typeof restChat) => ({ id: c.id, roomName: c.roomName, lastSeq: c.lastSeq, unreadCount: c.unreadCount, readSeq: c.readSeq, deliveredSeq: c.deliveredSeq });
  const byId = new Map<string, unknown>(ready.data.conversations.map((c: { id: string }) => [c.id, c]));
  t.strictSame(byId.get(chat.id), pick(restChat), 'the direct chat: id, roomName, lastSeq, unreadCount, readSeq, deliveredSeq');
  t.match(byId.get(chat.id), { lastSeq: 2, unreadCount: 2 }, 'two unread messages');
  t.strictSame(byId.get(group.id), pick(restGroup), 'the group');
  t.ok(await alive(client), 'the socket answers');

  const loner = await h.user();
  const lonely = await open(t, base, loner);
  t.strictSame(lonely.ready.data.conversations, [], 'a user without conversations gets an empty list');
  t.equal(lonely.ready.data.user.id, loner.user.id, 'and their own user');
});

t.test('Sec-WebSocket-Protocol "bearer, <token>": the server selects bearer', async (t) => {
  const a = await h.user();
  const client = await connect(t, `${base}/ws`, { protocols: ['bearer', a.accessToken] });
  t.equal(client.socket.protocol, 'bearer', 'the selected subprotocol is bearer (never the token)');
  const ready = await client.next('ready');
  t.equal(client.frames[0]?.type, 'ready', 'the first frame is ready');
  t.equal(ready.data.user.id, a.user.id, 'authenticated as the token owner');
  t.ok(await alive(client), 'the socket answers');

  await expectRefused(t, `${base}/ws`, { protocols: ['bearer', 'not.a.jwt'] }, 401, 'UNAUTHORIZED', 'a bad token in the subprotocol');
  await expectRefused(t, `${base}/ws`, { protocols: ['bearer'] }, 401, 'UNAUTHORIZED', 'bearer without a token');
});

t.test('?ticket=: a fresh ticket opens once; reused, unknown or expired tickets are 401 TICKET_INVALID', async (t) => {
  const a = await h.user();
  const ticket = await wsTicket(app, a);
  const client = await connect(t, `${base}/ws?ticket=${encodeURIComponent(ticket)}`);
  const ready = await client.next('ready');
  t.equal(client.frames[0]?.type, 'ready', 'the first frame is ready');
  t.equal(ready.data.user.id, a.user.id, 'authenticated as the user the ticket was issued to');
  t.ok(await alive(client), 'the socket answers');

  await expectRefused(t, `${base}/ws?ticket=${encodeURIComponent(ticket)}`, {}, 401, 'TICKET_INVALID', 'the same ticket again');
  t.ok(await alive(client), 'the first socket is unaffected');
  await expectRefused(t, `${base}/ws?ticket=${'x'.repeat(43)}`, {}, 401, 'TICKET_INVALID', 'an unknown ticket');

  const stale = await wsTicket(app, a);
  await app.db.update(wsTickets).set({ expiresAt: new Date(Date.now() - 1000) }).where(eq(wsTickets.userId, a.user.id));
  await expectRefused(t, `${base}/ws?ticket=${encodeURIComponent(stale)}`, {}, 401, 'TICKET_INVALID', 'an expired ticket');

  const other = await h.user();
  const second = await connect(t, `${base}/ws?ticket=${encodeURIComponent(await wsTicket(app, other))}`);
  t.equal((await second.next('ready')).data.user.id, other.user.id, 'each ticket opens as its own user');
});

t.test('?Authorization= and ?token= (existing clients) open the socket', async (t) => {
  const a = await h.user();
  for (const param of ['Authorization', 'token']) {
    const client = await connect(t, `${base}/ws?${param}=${encodeURIComponent(a.accessToken)}`);
    const ready = await client.next('ready');
    t.equal(client.frames[0]?.type, 'ready', `?${param}=: the first frame is ready`);
    t.equal(ready.data.user.id, a.user.id, `?${param}=: authenticated as the token owner`);
    t.ok(await alive(client), `?${param}=: the socket answers`);
    client.close();
    await client.closed();
  }
  await expectRefused(t, `${base}/ws?token=garbage`, {}, 401, 'UNAUTHORIZED', '?token=garbage');
  await expectRefused(t, `${base}/ws?Authorization=garbage`, {}, 401, 'UNAUTHORIZED', '?Authorization=garbage');
});

t.test('room socket /ws/chat/:room and /ws/chat/:room/: ready carries the conversation and lastSeq', async (t) => {
  const [a, b] = [await h.user(), await h.user()];
  const chat = await directChat(app, a, b);
  await sendText(app, b, chat.id, 'hi');
  await sendText(app, b, chat.id, 'there');
  await sendText(app, a, chat.id, 'back');
  const expected = await conversation(app, a, chat.id);
  t.match(expected.roomName, /\S/, 'the conversation has a room name');

  const slash = await connect(t, `${base}/ws/chat/${expected.roomName}/?Authorization=${encodeURIComponent(a.accessToken)}`);
  const ready = await slash.next('ready');
  t.equal(slash.frames[0]?.type, 'ready', 'trailing slash: the first frame is ready');
  t.strictSame(ready.data.user, await me(a), 'the private user');
  t.strictSame(ready.data.conversation, expected, 'the conversation resource, as GET /chat/:id');
  t.equal(ready.data.lastSeq, 3, 'lastSeq');
  t.ok(await alive(slash), 'the socket answers');

  const plain = await connect(t, `${base}/ws/chat/${expected.roomName}`, bearer(b));
  const plainReady = await plain.next('ready');
  t.equal(plainReady.data.conversation.id, chat.id, 'without the slash too');
  t.equal(plainReady.data.user.id, b.user.id, 'as the other member');
  t.equal(plainReady.data.conversation.peer?.id, a.user.id, 'the conversation as that member sees it');
});

t.test('room sockets: not a member, a former member or an unknown room -> 404 CONVERSATION_NOT_FOUND', async (t) => {
  const [a, b, outsider] = [await h.user(), await h.user(), await h.user()];
  const chat = await directChat(app, a, b);
  await expectRefused(t, `${base}/ws/chat/${chat.roomName}`, bearer(outsider), 404, 'CONVERSATION_NOT_FOUND', 'a direct chat of others');
  await expectRefused(t, `${base}/ws/chat/${chat.roomName}/`, bearer(outsider), 404, 'CONVERSATION_NOT_FOUND', 'a direct chat of others (slash)');
  await expectRefused(t, `${base}/ws/chat/r_doesnotexist${randomUUID().slice(0, 8)}`, bearer(a), 404, 'CONVERSATION_NOT_FOUND', 'an unknown room');
  await expectRefused(t, `${base}/ws/chat/${chat.id}`, bearer(a), 404, 'CONVERSATION_NOT_FOUND', 'the conversation id is not its room name');

  const group = await createGroup(app, a, [b]);
  expectStatus(await call(app, 'DELETE', `/chat/${group.id}/members/${b.user.id}`, { token: b.accessToken }), 204, 'leave');
  await expectRefused(t, `${base}/ws/chat/${group.roomName}`, bearer(b), 404, 'CONVERSATION_NOT_FOUND', 'a group the user left');
  const owner = await connect(t, `${base}/ws/chat/${group.roomName}`, bearer(a));
  t.equal((await owner.next('ready')).data.conversation.id, group.id, 'a current member still opens it');

  await expectRefused(t, `${base}/ws/chat/${chat.roomName}`, {}, 401, 'UNAUTHORIZED', 'credentials are checked on room sockets too');
});

t.test('no, malformed, forged, expired and revoked credentials -> 401, no socket', async (t) => {
  const a = await h.user();
  const claims = jwtClaims(a.accessToken);
  const now = Math.floor(Date.now() / 1000);

  await expectRefused(t, `${base}/ws`, {}, 401, 'UNAUTHORIZED', 'no credentials');
  await expectRefused(t, `${base}/ws`, { headers: { authorization: 'Bearer not.a.jwt' } }, 401, 'UNAUTHORIZED', 'a garbage bearer token');
  await expectRefused(t, `${base}/ws`, { headers: { authorization: `Basic ${Buffer.from('a:b').toString('base64')}` } }, 401, 'UNAUTHORIZED', 'another scheme');
  await expectRefused(t, `${base}/ws`, { headers: { authorization: `Bearer ${signHs256({ ...claims, iat: now, exp: now + 600 }, `${JWT_SECRET}-other`)}` } }, 401, 'UNAUTHORIZED', 'another signing key');

  const control = signHs256({ ...claims, iat: now, exp: now + 600 }, JWT_SECRET);
  const forged = await connect(t, `${base}/ws`, { headers: { authorization: `Bearer ${control}` } });
  t.equal((await forged.next('ready')).data.user.id, a.user.id, 'control: a hand-made token with the right secret opens (the forgeries differ only where stated)');
  forged.close();

  const expired = signHs256({ ...claims, iat: now - 1000, exp: now - 100 }, JWT_SECRET);
  await expectRefused(t, `${base}/ws`, { headers: { authorization: `Bearer ${expired}` } }, 401, 'TOKEN_EXPIRED', 'an expired token (header)');
  await expectRefused(t, `${base}/ws?token=${expired}`, {}, 401, 'TOKEN_EXPIRED', 'an expired token (?token=)');
  await expectRefused(t, `${base}/ws`, { protocols: ['bearer', expired] }, 401, 'TOKEN_EXPIRED', 'an expired token (subprotocol)');

  const b = await h.user();
  const ticket = await wsTicket(app, b);
  expectStatus(await call(app, 'POST', '/auth/logout', { payload: { refreshToken: b.refreshToken } }), 204, 'logout');
  await expectRefused(t, `${base}/ws`, bearer(b), 401, 'SESSION_REVOKED', 'the access token of a signed-out session');
  const ticketAfterLogout = await refusal(`${base}/ws?ticket=${encodeURIComponent(ticket)}`);
  t.equal(ticketAfterLogout.status, 401, 'a ticket of a signed-out session');
  t.ok(['SESSION_REVOKED', 'TICKET_INVALID'].includes(String(ticketAfterLogout.body?.code)), `a ticket of a signed-out session: ${ticketAfterLogout.body?.code}`);
});

t.test('Origin: an origin outside CORS_ORIGINS is 403 FORBIDDEN; the allowed origin and no origin open', async (t) => {
  const a = await h.user();
  await expectRefused(t, `${base}/ws`, { ...bearer(a), origin: 'https://evil.example.test' }, 403, 'FORBIDDEN', 'a foreign origin');
  await expectRefused(t, `${base}/ws?ticket=${encodeURIComponent(await wsTicket(app, a))}`, { origin: 'https://evil.example.test' }, 403, 'FORBIDDEN', 'a foreign origin with a ticket');
  await expectRefused(t, `${base}/ws`, { ...bearer(a), origin: 'https://app.example.test.evil.example' }, 403, 'FORBIDDEN', 'an origin that only starts like the allowed one');

  const allowed = await connect(t, `${base}/ws`, { ...bearer(a), origin: ALLOWED_ORIGIN });
  t.equal((await allowed.next('ready')).data.user.id, a.user.id, 'the allowed origin opens');
  const chat = await directChat(app, a, await h.user());
  const room = await connect(t, `${base}/ws/chat/${chat.roomName}`, { ...bearer(a), origin: ALLOWED_ORIGIN });
  t.equal((await room.next('ready')).data.conversation.id, chat.id, 'the allowed origin opens a room socket');
  await expectRefused(t, `${base}/ws/chat/${chat.roomName}`, { ...bearer(a), origin: 'https://evil.example.test' }, 403, 'FORBIDDEN', 'a foreign origin on a room socket');

  const noOrigin = await connect(t, `${base}/ws`, bearer(a));
  t.equal((await noOrigin.next('ready')).data.user.id, a.user.id, 'no Origin header (a non-browser client) opens');
});

t.test('without CORS_ORIGINS no browser origin is allowed', async (t) => {
  const other = await buildChatApp(t);
  const otherBase = await socketBase(t, other.app);
  const a = await other.user();
  await expectRefused(t, `${otherBase}/ws`, { ...bearer(a), origin: ALLOWED_ORIGIN }, 403, 'FORBIDDEN', 'any origin');
  const client = await connect(t, `${otherBase}/ws`, bearer(a));
  t.equal((await client.next('ready')).data.user.id, a.user.id, 'no Origin opens');
});

t.test('WS_MAX_SOCKETS_PER_USER: the socket over the cap is 429 RATE_LIMITED, open ones stay', async (t) => {
  const capped = await buildChatApp(t, { WS_MAX_SOCKETS_PER_USER: '2' });
  const cappedBase = await socketBase(t, capped.app);
  const [a, b] = [await capped.user(), await capped.user()];
  const chat = await directChat(capped.app, a, b);
  const first = await open(t, cappedBase, a);
  const second = await open(t, cappedBase, a, `/ws/chat/${chat.roomName}`);

  await expectRefused(t, `${cappedBase}/ws`, bearer(a), 429, 'RATE_LIMITED', 'a third socket (/ws)');
  await expectRefused(t, `${cappedBase}/ws/chat/${chat.roomName}`, bearer(a), 429, 'RATE_LIMITED', 'a third socket (room)');
  t.ok(await alive(first.client), 'the first socket is kept');
  t.ok(await alive(second.client), 'the second socket is kept');
  t.equal(first.client.socket.readyState, 1, 'still open');

  const other = await open(t, cappedBase, b);
  t.equal(other.ready.data.user.id, b.user.id, 'the cap is per user: another user opens');

  first.client.close();
  await first.client.closed();
  let reopened = false;
  for (let attempt = 0; attempt < 30 && !reopened; attempt++) {
    try {
      const client = await connect(t, `${cappedBase}/ws`, bearer(a));
      await client.next('ready');
      reopened = true;
    } catch (error) {
      if ((error as { status?: number }).status !== 429) throw error;
      await sleep(100);
    }
  }
  t.ok(reopened, 'a closed socket frees its slot');
  t.equal(await refusedStatus(t, `${cappedBase}/ws`, bearer(a)), 429, 'and the cap holds again');
});

t.test('WS_MAX_SOCKETS_PER_USER holds under concurrent upgrades: exactly the cap opens', async (t) => {
  const capped = await buildChatApp(t, { WS_MAX_SOCKETS_PER_USER: '3' });
  const cappedBase = await socketBase(t, capped.app);
  const a = await capped.user();
  const attempts = await Promise.allSettled(Array.from({ length: 12 }, () => connect(t, `${cappedBase}/ws`, bearer(a))));
  const opened = attempts.filter((r) => r.status === 'fulfilled');
  const refused = attempts.filter((r) => r.status === 'rejected').map((r) => (r.reason as { status?: number }).status);
  t.equal(opened.length, 3, 'three of twelve simultaneous upgrades open');
  t.strictSame(new Set(refused), new Set([429]), 'the others are 429');
});

t.test('tokens and tickets never reach the log', async (t) => {
  const logs = captureLogs();
  const logged = await buildAuthApp(t, { env: { ...AUTH_TEST_ENV, AUTH_LOGIN_OTP: 'false', LOG_LEVEL: 'trace', JWT_SECRET }, overrides: { logStream: logs.stream } });
  const loggedBase = await socketBase(t, logged.app);
  const a = await registerAndVerify(logged.app, logged.mailbox);
  const b = await registerAndVerify(logged.app, logged.mailbox);
  const chat = expectStatus<{ roomName: string }>(await call(logged.app, 'POST', '/chat/direct', { token: a.accessToken, payload: { userId: b.user.id } }), 201, 'direct');
  const secrets: string[] = [a.accessToken, a.refreshToken, b.accessToken, b.refreshToken];

  const header = await connect(t, `${loggedBase}/ws`, { headers: { authorization: `Bearer ${a.accessToken}` } });
  await header.next('ready');
  const protocol = await connect(t, `${loggedBase}/ws`, { protocols: ['bearer', a.accessToken] });
  await protocol.next('ready');
  const byToken = await connect(t, `${loggedBase}/ws?token=${encodeURIComponent(a.accessToken)}`);
  await byToken.next('ready');
  const room = await connect(t, `${loggedBase}/ws/chat/${chat.roomName}/?Authorization=${encodeURIComponent(b.accessToken)}`);
  await room.next('ready');
  const ticket = await wsTicket(logged.app, b);
  secrets.push(ticket);
  const byTicket = await connect(t, `${loggedBase}/ws?ticket=${encodeURIComponent(ticket)}`);
  await byTicket.next('ready');
  t.equal((await refusal(`${loggedBase}/ws?ticket=${encodeURIComponent(ticket)}`)).status, 401, 'a reused ticket (logged as a failure)');
  const badToken = `${a.accessToken.slice(0, -6)}AAAAAA`;
  secrets.push(badToken);
  t.equal((await refusal(`${loggedBase}/ws?Authorization=${encodeURIComponent(badToken)}`)).status, 401, 'a bad token (logged as a failure)');
  t.equal((await refusal(`${loggedBase}/ws`, { protocols: ['bearer', badToken] })).status, 401, 'a bad subprotocol token');

  const now = Math.floor(Date.now() / 1000);
  const fresh = signHs256({ ...jwtClaims(a.accessToken), iat: now, exp: now + 600 }, JWT_SECRET);
  secrets.push(fresh);
  t.equal((await header.request('auth.refresh', { accessToken: fresh })).type, 'ack', 'auth.refresh (the frame carries a token)');
  t.equal((await header.request('auth.refresh', { accessToken: badToken })).type, 'error', 'a refused auth.refresh');
  for (const client of [header, protocol, byToken, room, byTicket]) client.close();
  await sleep(200);

  const text = logs.text();
  t.match(text, /\/ws/, 'the socket requests were logged');
  for (const secret of secrets) t.notOk(text.includes(secret), `a secret (${secret.slice(0, 6)}…) is not in the log`);
  for (const secret of secrets) t.notOk(text.includes(secret.split('.')[2] ?? secret), 'nor the signature part of a token');
});
