import { randomBytes, randomUUID } from 'node:crypto';
import t from 'tap';
import { problemOf } from '../../helper.js';
import { type Account, PASSWORD, call, expectStatus, register, registerAndVerify, registerByPhone } from '../../support/accounts.js';
import { buildAuthApp } from '../../support/auth-app.js';
import { setUserStatus } from '../../support/db.js';

/*
 * User search (prefix of username or display name, whole verified email or number), cursor pages,
 * and blocking, which hides people from each other.
 */

const { app, mailbox, sms } = await buildAuthApp(t);

interface PublicUserBody {
  id: string;
  username: string;
  displayName: string;
  about: string | null;
  avatarUrl: string | null;
}
interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/** A prefix no other test's users share. */
const freshPrefix = () => `s${randomBytes(3).toString('hex')}`;

async function search(token: string, query: string, path = '/users'): Promise<Page<PublicUserBody>> {
  return expectStatus<Page<PublicUserBody>>(await call(app, 'GET', `${path}?${query}`, { token }), 200, `search ${query}`);
}

const names = (page: Page<PublicUserBody>) => page.items.map((u) => u.username).sort();

async function people(prefix: string, suffixes: string[]): Promise<Account[]> {
  const accounts = [];
  for (const suffix of suffixes) accounts.push(await registerAndVerify(app, mailbox, { username: `${prefix}_${suffix}` }));
  return accounts;
}

t.test('q matches the start of a username or display name, case-insensitively', async (t) => {
  const p = freshPrefix();
  const [viewer, alpha, beta] = await people(p, ['viewer', 'alpha', 'beta']);
  const named = await registerAndVerify(app, mailbox, { displayName: `${p.toUpperCase()} Gamma` });
  await registerAndVerify(app, mailbox, { username: `x${p}_inside`, displayName: `not ${p}` });

  const page = await search(viewer!.accessToken, `q=${p.toUpperCase()}`);
  t.same(names(page), [alpha!.username, beta!.username, named.username].sort(), 'prefixes only, the caller excluded');
  t.same(Object.keys(page.items[0]!).sort(), ['about', 'avatarUrl', 'displayName', 'id', 'username'], 'public profiles');
  t.notMatch(JSON.stringify(page), /@example\.test/, 'no email addresses');
  t.same(names(await search(viewer!.accessToken, `q=${p}_al`)), [alpha!.username]);
  t.same(names(await search(viewer!.accessToken, `q=${p}%25`)), [], '% is not a wildcard');
  t.same(names(await search(viewer!.accessToken, `q=${p.slice(0, -1)}_`)), [], '_ is not a wildcard');
});

t.test('cursor pages of 2 cover every match once, in order', async (t) => {
  const p = freshPrefix();
  const [viewer, ...rest] = await people(p, ['viewer', 'e', 'a', 'D', 'b', 'c']);
  const expected = rest.map((a) => a.username).sort((x, y) => (x.toLowerCase() < y.toLowerCase() ? -1 : 1));

  const seen: string[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const page: Page<PublicUserBody> = await search(viewer!.accessToken, `q=${p}&limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    t.ok(page.items.length <= 2, 'at most limit items');
    seen.push(...page.items.map((u) => u.username));
    cursor = page.nextCursor;
    pages += 1;
  } while (cursor && pages < 10);
  t.same(seen, expected, 'every match once, ordered by username');
  t.equal(new Set(seen).size, seen.length, 'no duplicates');
  t.equal(pages, 3, '5 matches in pages of 2');

  const tooMany = await call(app, 'GET', '/users?limit=101', { token: viewer!.accessToken });
  t.equal(tooMany.statusCode, 400, 'limit above 100 is refused');
  t.equal(problemOf(t, tooMany).code, 'VALIDATION_FAILED');
  const badCursor = await call(app, 'GET', '/users?cursor=bm90LWpzb24', { token: viewer!.accessToken });
  t.equal(badCursor.statusCode, 400);
  t.equal(problemOf(t, badCursor).code, 'INVALID_CURSOR');
  t.equal((await call(app, 'GET', '/users?q=a')).statusCode, 401, 'search needs a token');
});

t.test('a whole verified email or number finds its user; a prefix of it does not', async (t) => {
  const viewer = await registerAndVerify(app, mailbox);
  const target = await registerAndVerify(app, mailbox);
  const email = target.email!;
  t.same(names(await search(viewer.accessToken, `q=${encodeURIComponent(email)}`)), [target.username], 'the exact address');
  t.same(names(await search(viewer.accessToken, `q=${encodeURIComponent(email.toUpperCase())}`)), [target.username], 'in any case');
  t.same(names(await search(viewer.accessToken, `q=${encodeURIComponent(email.slice(0, email.indexOf('@') + 3))}`)), [], 'a prefix of it finds no one');

  const pending = await register(app, { username: `pend_${randomBytes(3).toString('hex')}`, email: `pending.${randomBytes(3).toString('hex')}@example.test`, password: PASSWORD });
  t.same(names(await search(viewer.accessToken, `q=${encodeURIComponent(pending.user.email!)}`)), [], 'an unverified address finds no one');

  const byPhone = await registerByPhone(app, sms, { phone: '+12015550123' });
  t.same(names(await search(viewer.accessToken, `q=${encodeURIComponent('+1 201 555 0123')}`)), [byPhone.username], 'a verified number');
  t.same(names(await search(viewer.accessToken, `q=${encodeURIComponent('+1201555')}`)), [], 'part of a number finds no one');
});

t.test('banned and blocked users (either way) are not found; GET /auth/users is the same search', async (t) => {
  const p = freshPrefix();
  const [viewer, visible, banned, blockedByViewer, blockerOfViewer] = await people(p, ['viewer', 'visible', 'banned', 'blocked', 'blocker']);
  await setUserStatus(app, banned!.user.id, 'banned');
  t.equal((await call(app, 'POST', `/users/${blockedByViewer!.user.id}/block`, { token: viewer!.accessToken })).statusCode, 204);
  t.equal((await call(app, 'POST', `/users/${viewer!.user.id}/block`, { token: blockerOfViewer!.accessToken })).statusCode, 204);

  const page = await search(viewer!.accessToken, `q=${p}`);
  t.same(names(page), [visible!.username], 'only the visible one');
  t.same(await search(viewer!.accessToken, `q=${p}`, '/auth/users'), page, 'GET /auth/users answers the same');
  t.same(names(await search(blockerOfViewer!.accessToken, `q=${p}_viewer`)), [], 'the blocker does not find the one they blocked');
  t.same(names(await search(visible!.accessToken, `q=${p}_b`)), [blockedByViewer!.username, blockerOfViewer!.username].sort(), 'others still find both');
});

t.test('block, list and unblock', async (t) => {
  const p = freshPrefix();
  const [me, ...others] = await people(p, ['me', 'one', 'two', 'three']);
  const token = me!.accessToken;
  // Blocked last-registered first: a tie on the block time falls back to id order, which then agrees.
  for (const other of [...others].reverse()) t.equal((await call(app, 'POST', `/users/${other.user.id}/block`, { token })).statusCode, 204);
  t.equal((await call(app, 'POST', `/users/${others[2]!.user.id}/block`, { token })).statusCode, 204, 'blocking twice is fine (and keeps the first time)');

  const listed: string[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const response = await call(app, 'GET', `/users/me/blocks?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, { token });
    const page = expectStatus<Page<{ user: PublicUserBody; blockedAt: string }>>(response, 200, 'blocks');
    for (const entry of page.items) {
      t.ok(Date.parse(entry.blockedAt) > 0, 'with the time of the block');
      t.notOk('email' in entry.user, 'public profile');
    }
    listed.push(...page.items.map((entry) => entry.user.username));
    cursor = page.nextCursor;
    pages += 1;
  } while (cursor && pages < 10);
  t.same([...listed].sort(), others.map((o) => o.username).sort(), 'every blocked user once');
  t.equal(pages, 2, '3 blocks in pages of 2');
  t.same(listed, others.map((o) => o.username), 'newest first');

  t.equal((await call(app, 'DELETE', `/users/${others[1]!.user.id}/block`, { token })).statusCode, 204);
  const after = expectStatus<Page<{ user: PublicUserBody }>>(await call(app, 'GET', '/users/me/blocks', { token }), 200, 'blocks');
  t.same(after.items.map((e) => e.user.username).sort(), [others[0]!.username, others[2]!.username].sort(), 'unblocked is gone');
  t.equal((await call(app, 'GET', '/users/me/blocks?limit=101', { token })).statusCode, 400);
});

t.test('blocking yourself or nobody is refused', async (t) => {
  const me = await registerAndVerify(app, mailbox);
  const self = await call(app, 'POST', `/users/${me.user.id}/block`, { token: me.accessToken });
  t.equal(self.statusCode, 400);
  t.equal(problemOf(t, self).code, 'CANNOT_BLOCK_SELF');
  const nobody = await call(app, 'POST', `/users/${randomUUID()}/block`, { token: me.accessToken });
  t.equal(nobody.statusCode, 404);
  t.equal(problemOf(t, nobody).code, 'USER_NOT_FOUND');
});

t.test("a block hides each profile from the other, until it is lifted", async (t) => {
  const blocker = await registerAndVerify(app, mailbox);
  const blocked = await registerAndVerify(app, mailbox);
  t.equal((await call(app, 'POST', `/users/${blocked.user.id}/block`, { token: blocker.accessToken })).statusCode, 204);

  const seenByBlocker = await call(app, 'GET', `/users/${blocked.user.id}`, { token: blocker.accessToken });
  t.equal(seenByBlocker.statusCode, 404, 'the blocker cannot see the blocked');
  t.equal(problemOf(t, seenByBlocker).code, 'USER_NOT_FOUND');
  const seenByBlocked = await call(app, 'GET', `/users/${blocker.user.id}`, { token: blocked.accessToken });
  t.equal(seenByBlocked.statusCode, 404, 'nor the other way round');
  t.equal((await call(app, 'GET', `/users/${blocker.user.id}`, { token: blocker.accessToken })).statusCode, 200, 'your own profile stays visible');

  t.equal((await call(app, 'DELETE', `/users/${blocked.user.id}/block`, { token: blocker.accessToken })).statusCode, 204);
  t.equal((await call(app, 'GET', `/users/${blocked.user.id}`, { token: blocker.accessToken })).statusCode, 200, 'visible again');
  t.equal((await call(app, 'GET', `/users/${blocker.user.id}`, { token: blocked.accessToken })).statusCode, 200);
});
