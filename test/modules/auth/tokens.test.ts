import { eq } from 'drizzle-orm';
import t from 'tap';
import { wsTickets } from '../../../src/db/schema.js';
import { AppError } from '../../../src/errors.js';
import { problemOf } from '../../helper.js';
import { authHeader, call, jwtClaims, registerAndVerify, signIn } from '../../support/accounts.js';
import { buildAuthApp } from '../../support/auth-app.js';
import { setUserStatus } from '../../support/db.js';
import { signHs256, unsignedToken } from '../../support/jwt.js';

/*
 * Access tokens (claims, algorithm, audience, expiry), banned accounts and socket tickets. Forged
 * tokens are built by hand with node:crypto and the app's JWT_SECRET.
 */

const JWT_SECRET = 'tokens-test-secret-0123456789abcdef-0123456789';
const { app, mailbox, backend } = await buildAuthApp(t, { env: { JWT_SECRET } });

const me = (token: string) => call(app, 'GET', '/users/me', { token });

t.test('access tokens carry iss, aud, sub, sid and exp', async (t) => {
  const account = await registerAndVerify(app, mailbox);
  const claims = jwtClaims(account.accessToken);
  const header = JSON.parse(Buffer.from(account.accessToken.split('.')[0]!, 'base64url').toString('utf8'));
  t.equal(header.alg, 'HS256');
  t.equal(claims.iss, 'chat-backend');
  t.equal(claims.aud, 'chat-api');
  t.equal(claims.sub, account.user.id);
  t.match(claims.sid, /^[0-9a-f-]{36}$/, 'the session id');
  t.equal(claims.role, 'user');
  t.equal((claims.exp as number) - (claims.iat as number), 900, 'lives ACCESS_TOKEN_TTL_SECONDS');
  const sessions = await call(app, 'GET', '/auth/sessions', { token: account.accessToken });
  t.equal(sessions.json().items.find((s: { current: boolean }) => s.current)?.id, claims.sid, 'sid is the current session');
});

t.test('forged, foreign and expired tokens are refused', async (t) => {
  const account = await registerAndVerify(app, mailbox);
  const claims = jwtClaims(account.accessToken);
  const now = Math.floor(Date.now() / 1000);

  const control = signHs256({ ...claims, iat: now, exp: now + 600 }, JWT_SECRET);
  t.equal((await me(control)).statusCode, 200, 'a hand-made token with the right secret and claims is accepted (the forgeries below differ only where stated)');

  const none = await me(unsignedToken({ ...claims, iat: now, exp: now + 600 }));
  t.equal(none.statusCode, 401, 'alg none');
  t.equal(problemOf(t, none).code, 'UNAUTHORIZED');

  const wrongKey = await me(signHs256({ ...claims, iat: now, exp: now + 600 }, `${JWT_SECRET}-other`));
  t.equal(wrongKey.statusCode, 401, 'another secret');
  t.equal(problemOf(t, wrongKey).code, 'UNAUTHORIZED');

  const hs512 = await me(signHs256({ ...claims, iat: now, exp: now + 600 }, JWT_SECRET, { alg: 'HS512', typ: 'JWT' }));
  t.equal(hs512.statusCode, 401, 'a header naming another algorithm');

  const expired = await me(signHs256({ ...claims, iat: now - 1000, exp: now - 100 }, JWT_SECRET));
  t.equal(expired.statusCode, 401, 'expired');
  t.equal(problemOf(t, expired).code, 'TOKEN_EXPIRED');

  const noSid = await me(signHs256({ sub: claims.sub, iss: claims.iss, aud: claims.aud, iat: now, exp: now + 600 }, JWT_SECRET));
  t.equal(noSid.statusCode, 401, 'without a session id');

  const missing = await call(app, 'GET', '/users/me');
  t.equal(missing.statusCode, 401, 'no Authorization header');
  t.equal(problemOf(t, missing).code, 'UNAUTHORIZED');
  const basic = await app.inject({ method: 'GET', url: '/api/v1/users/me', headers: { authorization: `Basic ${Buffer.from('a:b').toString('base64')}` } });
  t.equal(basic.statusCode, 401, 'another scheme');
  const garbage = await me('not.a.jwt');
  t.equal(garbage.statusCode, 401, 'garbage');
});

t.test('a token signed with the server key but with malformed or missing claims is a 401, never a 500', async (t) => {
  const account = await registerAndVerify(app, mailbox);
  const claims = jwtClaims(account.accessToken);
  const now = Math.floor(Date.now() / 1000);
  const good = { ...claims, iat: now, exp: now + 600 };
  const without = (name: string) => Object.fromEntries(Object.entries(good).filter(([key]) => key !== name));
  const cases: Array<[string, Record<string, unknown>]> = [
    ['a session id that is not a uuid', { ...good, sid: 'not-a-uuid' }],
    ['a session id with a NUL', { ...good, sid: `${claims.sid}\u0000` }],
    ['a numeric session id', { ...good, sid: 42 }],
    ['a subject that is not a uuid', { ...good, sub: "1' or '1'='1" }],
    ['an unknown role', { ...good, role: 'root' }],
    ['no aud', without('aud')],
    ['no iss', without('iss')],
    ['no exp', without('exp')],
    ['an exp that is not a number', { ...good, exp: 'tomorrow' }],
    ['no role', without('role')],
  ];
  for (const [what, forged] of cases) {
    const response = await me(signHs256(forged, JWT_SECRET));
    t.equal(response.statusCode, 401, `${what}: 401`);
    t.equal(problemOf(t, response).code, 'UNAUTHORIZED', what);
  }
  t.equal((await me(signHs256(good, JWT_SECRET))).statusCode, 200, 'the same token with well-formed claims is accepted');
});

t.test('a token signed with the same secret for another audience is refused', async (t) => {
  const other = await buildAuthApp(t, { backend, mailbox, env: { JWT_SECRET, JWT_AUDIENCE: 'other' } });
  const account = await registerAndVerify(other.app, mailbox);
  t.equal(jwtClaims(account.accessToken).aud, 'other');
  t.equal((await call(other.app, 'GET', '/users/me', { token: account.accessToken })).statusCode, 200, 'its own audience accepts it');
  const response = await me(account.accessToken);
  t.equal(response.statusCode, 401, 'chat-api does not');
  t.equal(problemOf(t, response).code, 'UNAUTHORIZED');
});

t.test('a banned account cannot sign in, refresh or use its tokens', async (t) => {
  const account = await registerAndVerify(app, mailbox);
  const second = await signIn(app, mailbox, account);
  await setUserStatus(app, account.user.id, 'banned');

  const login = await call(app, 'POST', '/auth/login', { payload: { identifier: account.username, password: account.password } });
  t.equal(login.statusCode, 403, 'login');
  t.equal(problemOf(t, login).code, 'ACCOUNT_BANNED');
  const wrongPassword = await call(app, 'POST', '/auth/login', { payload: { identifier: account.username, password: 'Not-The-Password-1' } });
  t.equal(wrongPassword.statusCode, 401, 'a wrong password still says only that');

  const refresh = await call(app, 'POST', '/auth/refresh', { payload: { refreshToken: second.refreshToken } });
  t.equal(refresh.statusCode, 403, 'refresh');
  t.equal(problemOf(t, refresh).code, 'ACCOUNT_BANNED');

  const access = await me(account.accessToken);
  t.equal(access.statusCode, 403, 'access token');
  t.equal(problemOf(t, access).code, 'ACCOUNT_BANNED');

  await setUserStatus(app, account.user.id, 'active');
  t.equal((await me(account.accessToken)).statusCode, 200, 'lifting the ban restores the session (the 403s came from the ban)');
});

t.test('ws-ticket: short-lived, stored hashed, single use', async (t) => {
  const account = await registerAndVerify(app, mailbox);
  const sid = jwtClaims(account.accessToken).sid as string;
  const unauthenticated = await call(app, 'POST', '/auth/ws-ticket');
  t.equal(unauthenticated.statusCode, 401, 'needs an access token');

  const before = Date.now();
  const response = await call(app, 'POST', '/auth/ws-ticket', { token: account.accessToken });
  const after = Date.now();
  t.equal(response.statusCode, 200);
  const { ticket, expiresAt } = response.json() as { ticket: string; expiresAt: string };
  t.match(ticket, /^[\w-]{32,}$/);
  t.ok(Date.parse(expiresAt) > before, 'expires in the future');
  t.ok(Date.parse(expiresAt) <= after + 60_000, 'at most 60 s ahead');

  const rows = await app.db.select().from(wsTickets).where(eq(wsTickets.sessionId, sid));
  t.equal(rows.length, 1, 'one ticket row for the session');
  t.not(rows[0]?.ticketHash, ticket, 'the ticket itself is not stored');
  t.notOk(rows[0]?.ticketHash.includes(ticket), 'nor as part of the stored value');

  const actor = await app.services.auth.consumeWsTicket(ticket);
  t.same(actor, { userId: account.user.id, sessionId: sid, role: 'user' }, 'the ticket names its user and session');
  const reuse = await app.services.auth.consumeWsTicket(ticket).then(
    () => undefined,
    (error: unknown) => error,
  );
  t.ok(reuse instanceof AppError, 'the second use fails');
  t.equal((reuse as AppError).code, 'TICKET_INVALID');

  const unknown = await app.services.auth.consumeWsTicket('never-issued-ticket').catch((error: unknown) => error);
  t.equal((unknown as AppError).code, 'TICKET_INVALID', 'an unknown ticket fails');
});

t.test("a ticket of a session that ended does not open a socket", async (t) => {
  const account = await registerAndVerify(app, mailbox);
  const { ticket } = (await app.inject({ method: 'POST', url: '/api/v1/auth/ws-ticket', headers: authHeader(account.accessToken) })).json() as { ticket: string };
  t.equal((await call(app, 'POST', '/auth/logout', { payload: { refreshToken: account.refreshToken } })).statusCode, 204);
  const error = await app.services.auth.consumeWsTicket(ticket).catch((e: unknown) => e);
  t.ok(error instanceof AppError, 'refused');
  t.equal((error as AppError).code, 'SESSION_REVOKED');
});
