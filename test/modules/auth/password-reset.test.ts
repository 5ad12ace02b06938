import t from 'tap';
import { problemOf } from '../../helper.js';
import { type ChallengeBody, call, registerAndVerify, registerByPhone, signIn, uniqueEmail, uniqueUsername } from '../../support/accounts.js';
import { buildAuthApp } from '../../support/auth-app.js';
import { recoverCode } from '../../support/db.js';

/*
 * Forgotten passwords: the answer never tells whether an account exists; the code resets the
 * password once and ends every session of the account.
 */

const { app, mailbox, sms } = await buildAuthApp(t);
const NEW_PASSWORD = 'Brand-New-Passphrase-9';

async function forgot(identifier: string): Promise<ChallengeBody> {
  const response = await call(app, 'POST', '/auth/forgot-password', { payload: { identifier } });
  if (response.statusCode !== 202) throw new Error(`forgot-password ${identifier}: ${response.statusCode} ${response.body}`);
  return response.json().challenge as ChallengeBody;
}

const reset = (challengeId: string, code: string, newPassword = NEW_PASSWORD) =>
  call(app, 'POST', '/auth/reset-password', { payload: { challengeId, code, newPassword } });

const login = (identifier: string, password: string) => call(app, 'POST', '/auth/login', { payload: { identifier, password } });

t.test('forgot-password answers 202 with a challenge whether or not the account exists', async (t) => {
  const account = await registerAndVerify(app, mailbox);
  const unknownEmail = uniqueEmail('nobody');
  const unknown = { username: await forgot(uniqueUsername('nobody')), email: await forgot(unknownEmail) };
  const known = { username: await forgot(account.username), email: await forgot(account.email!) };

  const mails = [await mailbox.nextMessage(account.email), await mailbox.nextMessage(account.email)];
  for (const mail of mails) {
    t.match(mail.subject, /password reset code/, 'the known account gets reset mails');
    t.match(mail.code, /^\d{6}$/);
  }
  const keys = Object.keys(known.email).sort();
  for (const challenge of [...Object.values(unknown), ...Object.values(known)]) t.same(Object.keys(challenge).sort(), keys, 'the same shape');
  t.equal(known.username.destination, '***', 'for a username, where the code went is not told');
  t.equal(unknown.username.destination, '***', '... nor whether it went anywhere');
  t.equal(known.email.destination, `${account.email![0]}***@example.test`);
  t.equal(unknown.email.destination, `${unknownEmail[0]}***@example.test`, 'an unknown address is masked the same way');
  t.equal(known.email.channel, unknown.email.channel);
  t.equal(mailbox.sentTo(unknownEmail).length, 0, 'nothing went to the unknown address');

  const code = await recoverCode(app, unknown.email.challengeId);
  const attempt = await reset(unknown.email.challengeId, code);
  t.equal(attempt.statusCode, 400, "an unknown identifier's challenge never resets anything, even with its code");
  t.equal(problemOf(t, attempt).code, 'OTP_INVALID');
});

t.test('reset-password sets the new password and ends every session', async (t) => {
  const account = await registerAndVerify(app, mailbox);
  const second = await signIn(app, mailbox, account, 'laptop');
  const challenge = await forgot(account.email!);
  const code = await mailbox.codeFor(account.email!);

  const wrongPurpose = await call(app, 'POST', '/auth/verify-otp', { payload: { challengeId: challenge.challengeId, code } });
  t.equal(wrongPurpose.statusCode, 400, 'a reset code does not sign in');
  t.equal(problemOf(t, wrongPurpose).code, 'OTP_INVALID');

  const response = await reset(challenge.challengeId, code);
  t.equal(response.statusCode, 204);
  t.equal(response.body, '');

  const old = await login(account.username, account.password);
  t.equal(old.statusCode, 401, 'the old password no longer works');
  t.equal(problemOf(t, old).code, 'INVALID_CREDENTIALS');
  const fresh = await login(account.username, NEW_PASSWORD);
  t.equal(fresh.statusCode, 200, 'the new one does');
  t.equal(fresh.json().otpRequired, true);

  for (const [name, pair] of [['first', account], ['second', second]] as const) {
    const refresh = await call(app, 'POST', '/auth/refresh', { payload: { refreshToken: pair.refreshToken } });
    t.equal(refresh.statusCode, 401, `the ${name} session's refresh token is dead`);
    const me = await call(app, 'GET', '/users/me', { token: pair.accessToken });
    t.equal(me.statusCode, 401, `the ${name} session's access token is dead`);
    t.equal(problemOf(t, me).code, 'SESSION_REVOKED');
  }

  const replay = await reset(challenge.challengeId, code, 'Yet-Another-Passphrase-7');
  t.equal(replay.statusCode, 400, 'the code resets once');
  t.equal(problemOf(t, replay).code, 'OTP_INVALID');
  t.equal((await login(account.username, 'Yet-Another-Passphrase-7')).statusCode, 401);
});

t.test('a refused new password does not use up the code', async (t) => {
  const account = await registerAndVerify(app, mailbox);
  const challenge = await forgot(account.username);
  const code = await mailbox.codeFor(account.email!);
  const weak = await reset(challenge.challengeId, code, 'password123');
  t.equal(weak.statusCode, 400);
  t.equal(problemOf(t, weak).code, 'WEAK_PASSWORD');
  const retry = await reset(challenge.challengeId, code);
  t.equal(retry.statusCode, 204, 'the same code still resets with an acceptable password');
  t.equal((await login(account.username, NEW_PASSWORD)).statusCode, 200);
});

t.test('a phone account gets its reset code by text', async (t) => {
  const account = await registerByPhone(app, sms, { phone: '+919812345678' });
  const challenge = await forgot('+919812345678');
  t.equal(challenge.channel, 'sms');
  t.equal(challenge.destination, '+91******5678');
  const message = await sms.nextMessage('+919812345678');
  t.match(message.body, /password reset code/);
  t.equal((await reset(challenge.challengeId, message.code!)).statusCode, 204);
  t.equal((await login(account.username, NEW_PASSWORD)).statusCode, 200, 'the new password works');
});
