import t from 'tap';
import { problemOf } from '../../helper.js';
import { type TokenPairBody, call, expectStatus, registerAndVerify, signIn } from '../../support/accounts.js';
import { buildAuthApp } from '../../support/auth-app.js';

/*
 * Sessions and refresh tokens: rotation, reuse detection, logout, logout-all, the device list and
 * signing a device out. Every "dead" token is shown dead on both refresh and an authenticated call.
 */

const { app, mailbox } = await buildAuthApp(t);

const refresh = (refreshToken: string) => call(app, 'POST', '/auth/refresh', { payload: { refreshToken } });
const me = (accessToken: string) => call(app, 'GET', '/users/me', { token: accessToken });

interface SessionItem {
  id: string;
  deviceName: string | null;
  userAgent: string | null;
  ip: string | null;
  createdAt: string;
  lastUsedAt: string;
  expiresAt: string;
  current: boolean;
}

async function sessionsOf(accessToken: string): Promise<SessionItem[]> {
  return expectStatus<{ items: SessionItem[] }>(await call(app, 'GET', '/auth/sessions', { token: accessToken }), 200, 'sessions').items;
}

t.test('refresh rotates the pair; reusing an old refresh token revokes the whole session', async (t) => {
  const account = await registerAndVerify(app, mailbox);
  const other = await signIn(app, mailbox, account, 'other device');

  const first = await refresh(account.refreshToken);
  t.equal(first.statusCode, 200);
  const rotated = first.json() as TokenPairBody;
  t.not(rotated.refreshToken, account.refreshToken, 'a new refresh token');
  t.equal(rotated.tokenType, 'Bearer');
  t.equal(rotated.user.id, account.user.id);
  t.equal((await me(rotated.accessToken)).statusCode, 200, 'the new access token works');

  const second = expectStatus<TokenPairBody>(await refresh(rotated.refreshToken), 200, 'refresh again');
  const newest = second;

  const reuse = await refresh(account.refreshToken);
  t.equal(reuse.statusCode, 401, 'an already rotated token is refused');
  t.equal(problemOf(t, reuse).code, 'REFRESH_TOKEN_REUSED');

  const afterReuse = await refresh(newest.refreshToken);
  t.equal(afterReuse.statusCode, 401, 'the newest refresh token of that session is dead too');
  t.equal(problemOf(t, afterReuse).code, 'REFRESH_TOKEN_INVALID');
  const access = await me(newest.accessToken);
  t.equal(access.statusCode, 401, "and the session's access token");
  t.equal(problemOf(t, access).code, 'SESSION_REVOKED');

  t.equal((await me(other.accessToken)).statusCode, 200, 'other sessions of the account live on');
  t.equal((await refresh(other.refreshToken)).statusCode, 200);
});

t.test('an unknown refresh token is REFRESH_TOKEN_INVALID', async (t) => {
  const response = await refresh('not-a-token-that-was-ever-issued');
  t.equal(response.statusCode, 401);
  t.equal(problemOf(t, response).code, 'REFRESH_TOKEN_INVALID');
});

t.test('logout ends the session of the refresh token', async (t) => {
  const account = await registerAndVerify(app, mailbox);
  const kept = await signIn(app, mailbox, account);
  const response = await call(app, 'POST', '/auth/logout', { payload: { refreshToken: account.refreshToken } });
  t.equal(response.statusCode, 204);
  const after = await refresh(account.refreshToken);
  t.equal(after.statusCode, 401, 'the refresh token no longer works');
  t.equal(problemOf(t, after).code, 'REFRESH_TOKEN_INVALID');
  t.equal((await me(account.accessToken)).statusCode, 401, 'nor the access token');
  t.equal((await me(kept.accessToken)).statusCode, 200, 'the other session is kept');
  const again = await call(app, 'POST', '/auth/logout', { payload: { refreshToken: account.refreshToken } });
  t.equal(again.statusCode, 204, 'logging out twice is fine');
});

t.test('logout-all ends every session of the account, and only of that account', async (t) => {
  const account = await registerAndVerify(app, mailbox);
  const phone = await signIn(app, mailbox, account, 'phone');
  const bystander = await registerAndVerify(app, mailbox);

  const unauthenticated = await call(app, 'POST', '/auth/logout-all');
  t.equal(unauthenticated.statusCode, 401, 'needs an access token');

  t.equal((await call(app, 'POST', '/auth/logout-all', { token: phone.accessToken })).statusCode, 204);
  for (const pair of [account, phone]) {
    t.equal((await refresh(pair.refreshToken)).statusCode, 401, 'refresh token dead');
    const access = await me(pair.accessToken);
    t.equal(access.statusCode, 401, 'access token dead');
    t.equal(problemOf(t, access).code, 'SESSION_REVOKED');
  }
  t.equal((await me(bystander.accessToken)).statusCode, 200, "another account's session is untouched");
});

t.test('the session list marks the caller; devices can be signed out', async (t) => {
  const account = await registerAndVerify(app, mailbox);
  const tablet = await signIn(app, mailbox, account, 'tablet');
  const stranger = await registerAndVerify(app, mailbox);

  const items = await sessionsOf(tablet.accessToken);
  t.equal(items.length, 2, 'both sessions are listed');
  const current = items.filter((s) => s.current);
  t.equal(current.length, 1, 'exactly one is current');
  t.equal(current[0]?.deviceName, 'tablet', "and it is the caller's");
  const firstSession = items.find((s) => !s.current)!;
  for (const s of items) {
    t.ok(Date.parse(s.expiresAt) > Date.parse(s.createdAt), 'expires after it was created');
    t.equal(s.ip, '127.0.0.1', 'the client address is recorded');
  }
  t.same(
    (await sessionsOf(account.accessToken)).map((s) => [s.id, s.current]).sort(),
    items.map((s) => [s.id, !s.current]).sort(),
    'from the other session, the other one is current',
  );

  const strangers = await sessionsOf(stranger.accessToken);
  t.equal(strangers.length, 1, "a stranger sees only their own");
  const foreign = await call(app, 'DELETE', `/auth/sessions/${firstSession.id}`, { token: stranger.accessToken });
  t.equal(foreign.statusCode, 404, "another user's session cannot be signed out");
  t.equal(problemOf(t, foreign).code, 'SESSION_NOT_FOUND');
  t.equal((await me(account.accessToken)).statusCode, 200, 'and it lives on');

  const own = await call(app, 'DELETE', `/auth/sessions/${firstSession.id}`, { token: tablet.accessToken });
  t.equal(own.statusCode, 204);
  const dead = await me(account.accessToken);
  t.equal(dead.statusCode, 401, "the signed-out device's access token is dead");
  t.equal(problemOf(t, dead).code, 'SESSION_REVOKED');
  t.equal((await refresh(account.refreshToken)).statusCode, 401, 'and its refresh token');
  t.same((await sessionsOf(tablet.accessToken)).map((s) => s.id), [current[0]?.id], 'only the caller is left');

  const twice = await call(app, 'DELETE', `/auth/sessions/${firstSession.id}`, { token: tablet.accessToken });
  t.equal(twice.statusCode, 404, 'a revoked session is not found again');
  const bogus = await call(app, 'DELETE', '/auth/sessions/not-a-uuid', { token: tablet.accessToken });
  t.equal(bogus.statusCode, 400, 'the id must be a uuid');
  t.equal(problemOf(t, bogus).code, 'VALIDATION_FAILED');
});
