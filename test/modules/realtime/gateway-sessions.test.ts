import t from 'tap';
import { type Account, call, expectStatus, signIn } from '../../support/accounts.js';
import { buildChatApp } from '../../support/chat.js';
import { socketBase } from '../../support/ws-client.js';
import { alive, open } from './gateway-helpers.js';

/*
 * Sockets live no longer than their session: ending a session (logout, logout-all, a password
 * change for the other devices) closes its sockets at once with 4401, and only those.
 */

const h = await buildChatApp(t);
const base = await socketBase(t, h.app);

/** A second signed-in device of the same account. */
async function secondDevice(account: Account): Promise<Account> {
  return { ...account, ...(await signIn(h.app, h.mailbox, account, 'second device')) };
}

t.test('logout-all closes every socket of the account with 4401, and no one else’s', async (t) => {
  const [a, other] = [await h.user(), await h.user()];
  const a2 = await secondDevice(a);
  const phone = (await open(t, base, a)).client;
  const laptop = (await open(t, base, a2)).client;
  const bystander = (await open(t, base, other)).client;
  expectStatus(await call(h.app, 'POST', '/auth/logout-all', { token: a.accessToken }), 204, 'logout-all');
  t.equal((await phone.closed()).code, 4401, 'the device that logged out');
  t.equal((await laptop.closed()).code, 4401, 'and the other device');
  t.ok(await alive(bystander), 'another user’s socket stays open');
});

t.test('logging out one session closes only that session’s sockets', async (t) => {
  const a = await h.user();
  const a2 = await secondDevice(a);
  const first = (await open(t, base, a)).client;
  const second = (await open(t, base, a2)).client;
  expectStatus(await call(h.app, 'POST', '/auth/logout', { payload: { refreshToken: a2.refreshToken } }), 204, 'logout');
  t.equal((await second.closed()).code, 4401, 'the socket of the ended session closes');
  t.ok(await alive(first), 'the other session’s socket stays open');
});

t.test('a password change closes the sockets of the other sessions, not the current one', async (t) => {
  const a = await h.user();
  const a2 = await secondDevice(a);
  const current = (await open(t, base, a)).client;
  const elsewhere = (await open(t, base, a2)).client;
  const changed = await call(h.app, 'PUT', '/users/me/password', { token: a.accessToken, payload: { currentPassword: a.password, newPassword: 'An0ther-Long-Passphrase' } });
  expectStatus(changed, 204, 'password change');
  t.equal((await elsewhere.closed()).code, 4401, 'the other device is signed out');
  t.ok(await alive(current), 'the device that changed it stays connected');
});
