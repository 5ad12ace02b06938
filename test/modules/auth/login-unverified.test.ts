import t from 'tap';
import { type ChallengeBody, type TokenPairBody, PASSWORD, call, expectStatus, register, uniqueEmail, uniqueUsername, verifyOtp } from '../../support/accounts.js';
import { buildAuthApp } from '../../support/auth-app.js';

/*
 * With AUTH_LOGIN_OTP=false a password returns tokens at once, but only for an account that has
 * verified a contact: an unverified sign-up gets a code challenge instead, and answering it verifies it.
 */

const h = await buildAuthApp(t, { env: { AUTH_LOGIN_OTP: 'false' } });

t.test('an unverified account gets a code, not tokens; answering it verifies the account', async (t) => {
  const username = uniqueUsername();
  const email = uniqueEmail();
  await register(h.app, { username, email, password: PASSWORD });
  await h.mailbox.codeFor(email); // the sign-up code, never used
  const login = () => call(h.app, 'POST', '/auth/login', { payload: { identifier: username, password: PASSWORD } });

  const first = expectStatus<{ otpRequired?: true; challenge?: ChallengeBody; accessToken?: string }>(await login(), 200, 'login');
  t.equal(first.accessToken, undefined, 'no tokens for an unverified account');
  t.equal(first.otpRequired, true);
  const pair = await verifyOtp(h.app, first.challenge!.challengeId, await h.mailbox.codeFor(email));
  t.equal(pair.user.emailVerified, true, 'the code verified the email');

  const second = expectStatus<TokenPairBody>(await login(), 200, 'login again');
  t.type(second.accessToken, 'string', 'now the password alone signs in');
});
