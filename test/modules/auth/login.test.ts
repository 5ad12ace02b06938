import t from 'tap';
import { problemOf } from '../../helper.js';
import {
  type ChallengeBody,
  PASSWORD,
  type TokenPairBody,
  call,
  expectStatus,
  register,
  registerAndVerify,
  registerByPhone,
  uniqueEmail,
  uniqueUsername,
} from '../../support/accounts.js';
import { buildAuthApp } from '../../support/auth-app.js';
import { recoverCode } from '../../support/db.js';

/*
 * Password sign-in (two-step by default), passwordless codes and the boot-time admin, over real
 * SMTP and the twilio SDK.
 */

const { app, mailbox, sms } = await buildAuthApp(t);

type LoginAnswer = { otpRequired: true; challenge: ChallengeBody };

t.test('two-step login: password, then the code from the mail, then tokens', async (t) => {
  const account = await registerAndVerify(app, mailbox);
  const login = expectStatus<LoginAnswer>(
    await call(app, 'POST', '/auth/login', { payload: { identifier: account.username, password: account.password, deviceName: 'Pixel 8' } }),
    200,
    'login',
  );
  t.same(Object.keys(login).sort(), ['challenge', 'otpRequired'], 'no tokens yet');
  t.equal(login.otpRequired, true);
  t.equal(login.challenge.channel, 'email');
  t.equal(login.challenge.destination, `${account.email![0]}***@example.test`);

  const mail = await mailbox.nextMessage(account.email);
  t.match(mail.subject, /sign-in code/);
  const verified = expectStatus<TokenPairBody>(
    await call(app, 'POST', '/auth/verify-otp', { payload: { challengeId: login.challenge.challengeId, code: mail.code, deviceName: 'Pixel 8' } }),
    200,
    'verify',
  );
  t.equal(verified.tokenType, 'Bearer');
  t.equal(verified.user.id, account.user.id);
  t.not(verified.refreshToken, account.refreshToken, 'a new session');

  const sessions = await call(app, 'GET', '/auth/sessions', { token: verified.accessToken });
  t.ok(sessions.json().items.some((s: { deviceName: string; current: boolean }) => s.current && s.deviceName === 'Pixel 8'), 'the device name is kept');
});

t.test('login by email address (any case) and by phone number', async (t) => {
  const byMail = await registerAndVerify(app, mailbox);
  const viaEmail = expectStatus<LoginAnswer>(
    await call(app, 'POST', '/auth/login', { payload: { identifier: ` ${byMail.email!.toUpperCase()} `, password: byMail.password } }),
    200,
    'login by email',
  );
  const tokens = expectStatus<TokenPairBody>(
    await call(app, 'POST', '/auth/verify-otp', { payload: { challengeId: viaEmail.challenge.challengeId, code: await mailbox.codeFor(byMail.email!) } }),
    200,
    'verify',
  );
  t.equal(tokens.user.id, byMail.user.id, 'found by its email');

  const byPhone = await registerByPhone(app, sms, { phone: '+4915112345678' });
  const viaPhone = expectStatus<LoginAnswer>(
    await call(app, 'POST', '/auth/login', { payload: { identifier: '+49 151 12345678', password: byPhone.password } }),
    200,
    'login by phone',
  );
  t.equal(viaPhone.challenge.channel, 'sms', 'the code goes to the phone');
  const message = await sms.nextMessage('+4915112345678');
  t.match(message.body, /sign-in code/);
  const phoneTokens = expectStatus<TokenPairBody>(
    await call(app, 'POST', '/auth/verify-otp', { payload: { challengeId: viaPhone.challenge.challengeId, code: message.code } }),
    200,
    'verify',
  );
  t.equal(phoneTokens.user.id, byPhone.user.id, 'found by its number');
});

t.test('AUTH_LOGIN_OTP=false answers tokens directly', async (t) => {
  const single = await buildAuthApp(t, { env: { AUTH_LOGIN_OTP: 'false' } });
  const account = await registerAndVerify(single.app, single.mailbox);
  const mailsBefore = single.mailbox.received.length;
  const body = expectStatus<TokenPairBody>(
    await call(single.app, 'POST', '/auth/login', { payload: { identifier: account.username, password: account.password } }),
    200,
    'login',
  );
  t.equal(body.tokenType, 'Bearer');
  t.equal(body.user.id, account.user.id);
  t.notOk('otpRequired' in body);
  const me = await call(single.app, 'GET', '/users/me', { token: body.accessToken });
  t.equal(me.statusCode, 200, 'the access token works');
  t.equal(single.mailbox.received.length, mailsBefore, 'no code was sent');
});

t.test('unknown user and wrong password answer the identical 401', async (t) => {
  const account = await registerAndVerify(app, mailbox);
  const answers = [
    await call(app, 'POST', '/auth/login', { payload: { identifier: uniqueUsername('ghost'), password: PASSWORD } }),
    await call(app, 'POST', '/auth/login', { payload: { identifier: account.username, password: 'Not-The-Password-1' } }),
    await call(app, 'POST', '/auth/login', { payload: { identifier: uniqueEmail('ghost'), password: PASSWORD } }),
    await call(app, 'POST', '/auth/login', { payload: { identifier: account.email, password: 'Not-The-Password-1' } }),
  ];
  const bodies = answers.map((response) => {
    t.equal(response.statusCode, 401);
    const { requestId, ...rest } = problemOf(t, response);
    t.ok(requestId, 'each has a request id');
    return rest;
  });
  t.equal(bodies[0]?.code, 'INVALID_CREDENTIALS');
  for (const body of bodies.slice(1)) t.same(body, bodies[0], 'identical apart from requestId');
});

t.test('passwordless: a verified email gets a code; an unknown one the same answer and nothing', async (t) => {
  const account = await registerAndVerify(app, mailbox);
  const unknownEmail = uniqueEmail('nobody');
  const unverified = await register(app, { username: uniqueUsername('unverified'), email: uniqueEmail('unverified'), password: PASSWORD });
  await mailbox.nextMessage(unverified.user.email!);

  const decoys = [];
  for (const email of [unknownEmail, unverified.user.email!]) {
    const response = await call(app, 'POST', '/auth/otp', { payload: { email } });
    t.equal(response.statusCode, 202, `${email}: 202`);
    decoys.push(response.json().challenge as ChallengeBody);
  }
  const known = await call(app, 'POST', '/auth/otp', { payload: { email: account.email } });
  t.equal(known.statusCode, 202);
  const real = known.json().challenge as ChallengeBody;
  const mail = await mailbox.nextMessage(account.email);
  t.match(mail.subject, /sign-in code/);

  for (const decoy of decoys) {
    t.same(Object.keys(decoy).sort(), Object.keys(real).sort(), 'the same keys');
    t.equal(decoy.channel, real.channel);
    t.match(decoy.destination, /^[a-z]\*\*\*@example\.test$/, 'the same masked format');
  }
  t.match(real.destination, /^[a-z]\*\*\*@example\.test$/);
  t.equal(mailbox.sentTo(unknownEmail).length, 0, 'nothing went to the unknown address');
  t.equal(mailbox.sentTo(unverified.user.email!).length, 1, 'nothing more went to the unverified address than its sign-up code');

  for (const decoy of decoys) {
    const code = await recoverCode(app, decoy.challengeId);
    const response = await call(app, 'POST', '/auth/verify-otp', { payload: { challengeId: decoy.challengeId, code } });
    t.equal(response.statusCode, 400, 'the decoy never verifies, not even with the code it holds');
    t.equal(problemOf(t, response).code, 'OTP_INVALID');
  }

  const tokens = expectStatus<TokenPairBody>(
    await call(app, 'POST', '/auth/verify-otp', { payload: { challengeId: real.challengeId, code: mail.code } }),
    200,
    'verify',
  );
  t.equal(tokens.user.id, account.user.id, 'the real code signs in');
});

t.test('passwordless by phone sends a text to a verified number', async (t) => {
  const account = await registerByPhone(app, sms, { phone: '+33612345678' });
  const response = await call(app, 'POST', '/auth/otp', { payload: { phone: '+33612345678' } });
  t.equal(response.statusCode, 202);
  const { challenge } = response.json() as { challenge: ChallengeBody };
  t.equal(challenge.channel, 'sms');
  t.equal(challenge.destination, '+33*****5678');
  const tokens = expectStatus<TokenPairBody>(
    await call(app, 'POST', '/auth/verify-otp', { payload: { challengeId: challenge.challengeId, code: await sms.codeFor('+33612345678') } }),
    200,
    'verify',
  );
  t.equal(tokens.user.id, account.user.id);
});

t.test('ADMIN_USERNAME/ADMIN_PASSWORD create an admin at boot who signs in without a code', async (t) => {
  const admin = await buildAuthApp(t, { env: { ADMIN_USERNAME: 'root_admin', ADMIN_PASSWORD: 'Adm1n-Passw0rd-Long', AUTH_LOGIN_OTP: 'true' } });
  const body = expectStatus<TokenPairBody>(
    await call(admin.app, 'POST', '/auth/login', { payload: { identifier: 'root_admin', password: 'Adm1n-Passw0rd-Long' } }),
    200,
    'admin login',
  );
  t.equal(body.tokenType, 'Bearer', 'tokens directly: the account has no contact to send a code to');
  t.equal(body.user.role, 'admin');
  t.equal(body.user.email, null);
  const me = await call(admin.app, 'GET', '/users/me', { token: body.accessToken });
  t.equal(me.json().role, 'admin');
  const wrong = await call(admin.app, 'POST', '/auth/login', { payload: { identifier: 'root_admin', password: 'Wrong-Passw0rd-Long' } });
  t.equal(wrong.statusCode, 401, 'the password is checked');
  t.equal(admin.mailbox.received.length + admin.sms.requests.length, 0, 'nothing was sent');
});
