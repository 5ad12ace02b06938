import type { App } from '../../src/app.js';
import { type Account, PASSWORD, type TokenPairBody, call, expectStatus, uniqueUsername } from './accounts.js';

/*
 * Staff accounts the way an operator makes them: the first admin through what `npm run admin:create`
 * calls (AuthService.ensureAdmin), then a password sign-in; support staff by that admin through
 * PUT /admin/users/:id/role.
 */

/** A new admin, signed in with a password (the harness runs with AUTH_LOGIN_OTP=false). */
export async function createAdmin(app: App): Promise<Account> {
  const username = uniqueUsername('admin');
  await app.services.auth.ensureAdmin({ username, password: PASSWORD });
  const pair = expectStatus<TokenPairBody>(await call(app, 'POST', '/auth/login', { payload: { identifier: username, password: PASSWORD } }), 200, `login ${username}`);
  return { ...pair, username, password: PASSWORD, email: undefined, phone: undefined };
}

/** Gives `account` a role through the admin API; the account's token carries it from the next request. */
export async function grantRole(app: App, admin: Account, account: Account, role: 'user' | 'support' | 'admin'): Promise<Account> {
  const response = await call(app, 'PUT', `/admin/users/${account.user.id}/role`, { token: admin.accessToken, payload: { role } });
  expectStatus(response, 200, `make ${account.username} ${role}`);
  return { ...account, user: { ...account.user, role } };
}
