import { eq } from 'drizzle-orm';
import t from 'tap';
import type { App } from '../../../src/app.js';
import { users } from '../../../src/db/schema.js';
import { problemOf } from '../../helper.js';
import { PASSWORD, call, register, uniqueEmail, uniqueUsername } from '../../support/accounts.js';
import { buildAuthApp } from '../../support/auth-app.js';
import { userRow } from '../../support/db.js';
import { createAdmin } from '../../support/staff.js';

/*
 * A sign-up never verified within the code lifetime stops holding its username and contact (the next
 * sign-up takes them); an account that is no sign-up never does, however old: the operator's admin,
 * made without email or phone, must not be deleted by someone registering its username (and then made
 * admin by the next boot's ensureAdmin, which finds that username).
 */

const { app } = await buildAuthApp(t);

/** Test setup: the account was created longer ago than the code lifetime (the clock is not waited out). */
async function ageAccount(app: App, id: string): Promise<void> {
  await app.db.update(users).set({ createdAt: new Date(Date.now() - 2 * 3_600_000) }).where(eq(users.id, id));
}

t.test('an abandoned sign-up gives up its username and email to the next sign-up', async (t) => {
  const [username, email] = [uniqueUsername('abandoned'), uniqueEmail('abandoned')];
  const first = await register(app, { username, password: PASSWORD, email });
  await ageAccount(app, first.user.id);
  const second = await register(app, { username, password: PASSWORD, email });
  t.not(second.user.id, first.user.id, 'a new account');
  t.equal(await userRow(app, first.user.id), undefined, 'the abandoned one is gone');
});

t.test('a sign-up still within the code lifetime keeps its username', async (t) => {
  const username = uniqueUsername('pending');
  const first = await register(app, { username, password: PASSWORD, email: uniqueEmail('pending') });
  const again = await call(app, 'POST', '/auth/register', { payload: { username, password: PASSWORD, email: uniqueEmail('other') } });
  t.equal(again.statusCode, 409);
  t.equal(problemOf(t, again).code, 'USERNAME_TAKEN');
  t.ok(await userRow(app, first.user.id), 'still there');
});

t.test('the admin made without a contact is never taken for an abandoned sign-up', async (t) => {
  const admin = await createAdmin(app);
  const adminId = admin.user.id;
  await ageAccount(app, adminId);
  const takeover = await call(app, 'POST', '/auth/register', { payload: { username: admin.username, password: PASSWORD, email: uniqueEmail('attacker') } });
  t.equal(takeover.statusCode, 409, 'its username is taken');
  t.equal(problemOf(t, takeover).code, 'USERNAME_TAKEN');
  const row = await userRow(app, adminId);
  t.equal(row?.role, 'admin', 'the admin is still there, still admin');
  t.equal((await call(app, 'GET', '/users/me', { token: admin.accessToken })).statusCode, 200, 'and its session works');
});

t.test('staff made from an unverified sign-up is not released either', async (t) => {
  const username = uniqueUsername('staff');
  const signup = await register(app, { username, password: PASSWORD, email: uniqueEmail('staff') });
  await app.db.update(users).set({ role: 'support' }).where(eq(users.id, signup.user.id));
  await ageAccount(app, signup.user.id);
  const again = await call(app, 'POST', '/auth/register', { payload: { username, password: PASSWORD, email: uniqueEmail('other') } });
  t.equal(again.statusCode, 409, 'a role other than user is never a pending sign-up');
  t.ok(await userRow(app, signup.user.id), 'still there');
});
