import t from 'tap';
import { problemOf } from '../../helper.js';
import { PASSWORD, call, register, registerAndVerify, uniqueEmail, uniqueUsername, verifyOtp } from '../../support/accounts.js';
import { buildAuthApp } from '../../support/auth-app.js';
import { argon2Params, recoverCode, userRow, usersNamed } from '../../support/db.js';
import { TWILIO_FROM, TWILIO_SID } from '../../support/sms-gateway.js';

/*
 * Sign-up over the real delivery paths: codes come from mail accepted by a local SMTP server and from
 * the request the twilio SDK made to a local stand-in. One app serves the file; tests that need other
 * settings build their own.
 */

const { app, mailbox, sms } = await buildAuthApp(t);

t.test('register by email: the code arrives by SMTP, in text and html, and verifies the address', async (t) => {
  const username = uniqueUsername('mail');
  const email = uniqueEmail('ann');
  const before = Date.now();
  const { user, challenge } = await register(app, { username, email: email.toUpperCase(), password: PASSWORD, displayName: 'Ann' });
  t.equal(user.username, username);
  t.equal(user.displayName, 'Ann');
  t.equal(user.email, email, 'the address is stored lower-cased');
  t.equal(user.emailVerified, false, 'not verified before the code');
  t.equal(challenge.channel, 'email');
  t.equal(challenge.destination, `${email[0]}***@example.test`, 'the destination is masked');
  t.ok(Date.parse(challenge.expiresAt) > before, 'the challenge expires in the future');

  const mail = await mailbox.nextMessage(email);
  t.equal(mail.mailFrom, 'no-reply@chat.test', 'sent from MAIL_FROM');
  t.same(mail.rcptTo, [email]);
  t.match(mail.subject, /verification code/);
  t.match(mail.headers, /^Content-Type: multipart\/alternative/m, 'text and html parts');
  t.match(mail.code, /^\d{6}$/, 'a 6-digit code in the text part');
  t.match(mail.text, `Your Chat verification code is ${mail.code}.`);
  t.match(mail.html, `>${mail.code}<`, 'the same code in the html part');
  t.notMatch(mail.headers, mail.code!, 'the code is in no header (subject included)');

  const pair = await verifyOtp(app, challenge.challengeId, mail.code!);
  t.equal(pair.tokenType, 'Bearer');
  t.equal(pair.expiresIn, 900);
  t.match(pair.accessToken, /^[\w-]+\.[\w-]+\.[\w-]+$/);
  t.match(pair.refreshToken, /^[\w-]{32,}$/);
  t.equal(pair.user.id, user.id);
  t.equal(pair.user.emailVerified, true);
  t.ok((await userRow(app, user.id))?.emailVerifiedAt, 'email_verified_at is set in the database');
});

t.test('register by phone: numbers of several countries, the code in the Twilio request body', async (t) => {
  const numbers = ['+447911123456', '+2348031234567', '+14155550123'];
  for (const phone of numbers) {
    const { user, challenge } = await register(app, { username: uniqueUsername('phone'), phone, password: PASSWORD });
    t.equal(user.phone, phone, `${phone} accepted`);
    t.equal(user.email, null);
    t.equal(challenge.channel, 'sms');
    t.equal(challenge.destination, `${phone.slice(0, 3)}${'*'.repeat(phone.length - 7)}${phone.slice(-4)}`, 'masked');
    const message = await sms.nextMessage(phone);
    t.equal(message.method, 'POST');
    t.equal(message.path, `/2010-04-01/Accounts/${TWILIO_SID}/Messages.json`);
    t.equal(message.from, TWILIO_FROM);
    t.match(message.body, /^Your Chat verification code is \d{6}\./);
    const pair = await verifyOtp(app, challenge.challengeId, message.code!);
    t.equal(pair.user.phoneVerified, true, `${phone} verified by its code`);
  }

  const spaced = await register(app, { username: uniqueUsername('spaced'), phone: '+44 7911 123457', password: PASSWORD });
  t.equal(spaced.user.phone, '+447911123457', 'a number with spaces is stored in E.164');
  t.equal((await sms.nextMessage('+447911123457')).to, '+447911123457', 'and texted in E.164');
});

t.test('invalid phone numbers are INVALID_PHONE and nothing is sent', async (t) => {
  const requestsBefore = sms.requests.length;
  for (const phone of ['abc', '+1 555']) {
    const username = uniqueUsername('badphone');
    const response = await call(app, 'POST', '/auth/register', { payload: { username, phone, password: PASSWORD } });
    t.equal(response.statusCode, 400, `${phone} is refused`);
    t.equal(problemOf(t, response).code, 'INVALID_PHONE', `${phone}: INVALID_PHONE`);
    t.equal(await usersNamed(app, username), 0, 'no account');
  }
  t.equal(sms.requests.length, requestsBefore, 'no text was attempted');
});

t.test('an email address or a phone number is required', async (t) => {
  const username = uniqueUsername('nocontact');
  const response = await call(app, 'POST', '/auth/register', { payload: { username, password: PASSWORD } });
  t.equal(response.statusCode, 400);
  t.equal(problemOf(t, response).code, 'VALIDATION_FAILED');
  t.equal(await usersNamed(app, username), 0);
});

t.test('weak passwords are refused before anything is stored or sent', async (t) => {
  const mailsBefore = mailbox.received.length;
  const attempt = async (username: string, password: string) => {
    const response = await call(app, 'POST', '/auth/register', { payload: { username, email: uniqueEmail('weak'), password } });
    t.equal(response.statusCode, 400, `"${password}" is refused`);
    t.equal(await usersNamed(app, username), 0, 'no account');
    return problemOf(t, response);
  };

  const short = await attempt(uniqueUsername('weak'), 'Ab1!xyz');
  t.equal(short.code, 'VALIDATION_FAILED', 'under 8 characters fails the schema');
  t.ok(short.errors?.some((e) => e.field === 'body.password'), 'naming body.password');

  const common = await attempt(uniqueUsername('weak'), 'password123');
  t.equal(common.code, 'WEAK_PASSWORD');
  t.equal(common.rule, 'common');

  const name = uniqueUsername('samename');
  const same = await attempt(name, name.toUpperCase());
  t.equal(same.code, 'WEAK_PASSWORD');
  t.equal(same.rule, 'username', 'the username (in any case) is refused');

  t.equal(mailbox.received.length, mailsBefore, 'no mail was sent');
});

t.test('a taken username is 409 USERNAME_TAKEN, whatever its case', async (t) => {
  const owner = await registerAndVerify(app, mailbox, { username: uniqueUsername('Taken') });
  for (const username of [owner.username, owner.username.toLowerCase(), owner.username.toUpperCase()]) {
    const response = await call(app, 'POST', '/auth/register', { payload: { username, email: uniqueEmail('other'), password: PASSWORD } });
    t.equal(response.statusCode, 409, `${username} is taken`);
    t.equal(problemOf(t, response).code, 'USERNAME_TAKEN');
  }
  t.equal(await usersNamed(app, owner.username), 1, 'still one account with that name');
});

t.test("another account's verified email: the same 201, no mail, a challenge that never verifies", async (t) => {
  const owner = await registerAndVerify(app, mailbox);
  const fresh = await register(app, { username: uniqueUsername('fresh'), email: uniqueEmail('fresh'), password: PASSWORD });
  await mailbox.nextMessage(fresh.user.email!);
  const mailsBefore = mailbox.received.length;

  const username = uniqueUsername('copycat');
  const decoy = await register(app, { username, email: owner.email!, password: PASSWORD });
  t.same(Object.keys(decoy).sort(), Object.keys(fresh).sort(), 'same top-level shape');
  t.same(Object.keys(decoy.user).sort(), Object.keys(fresh.user).sort(), 'same user shape');
  t.same(Object.keys(decoy.challenge).sort(), Object.keys(fresh.challenge).sort(), 'same challenge shape');
  t.equal(decoy.user.username, username);
  t.equal(decoy.user.emailVerified, false);
  t.equal(decoy.challenge.destination, `${owner.email![0]}***@example.test`);
  t.equal(mailbox.received.length, mailsBefore, 'no mail was sent (registration sends before it answers)');
  t.equal(await usersNamed(app, username), 0, 'no account was created');

  const code = await recoverCode(app, decoy.challenge.challengeId);
  const response = await call(app, 'POST', '/auth/verify-otp', { payload: { challengeId: decoy.challenge.challengeId, code } });
  t.equal(response.statusCode, 400, 'even the code the decoy holds does not verify');
  t.equal(problemOf(t, response).code, 'OTP_INVALID');
  t.equal((await userRow(app, owner.user.id))?.email, owner.email, "the owner's address is untouched");
});

t.test('passwords are stored as argon2id at or above m=19456, t=2, p=1', async (t) => {
  // The configured cost (here the defaults), not the cheap one other tests hash with.
  const real = await buildAuthApp(t, { productionArgon2: true });
  const account = await registerAndVerify(real.app, real.mailbox);
  const row = await userRow(real.app, account.user.id);
  t.notOk(row?.passwordHash.includes(account.password), 'not in clear');
  const params = argon2Params(row?.passwordHash ?? '');
  t.ok(params, `an argon2 PHC string: ${row?.passwordHash.slice(0, 32)}`);
  t.equal(params?.type, 'argon2id');
  t.equal(params?.version, 19);
  t.ok((params?.m ?? 0) >= 19456, 'memory >= 19456 KiB');
  t.ok((params?.t ?? 0) >= 2, 'time cost >= 2');
  t.equal(params?.p, 1, 'parallelism 1');
});

t.test('a login rehashes a password stored with older parameters', async (t) => {
  const first = await buildAuthApp(t, { env: { ARGON2_TIME_COST: '2', AUTH_LOGIN_OTP: 'false' } });
  const account = await registerAndVerify(first.app, first.mailbox);
  const before = argon2Params((await userRow(first.app, account.user.id))!.passwordHash);
  t.equal(before?.t, 2);

  const second = await buildAuthApp(t, { backend: first.backend, mailbox: first.mailbox, env: { ARGON2_TIME_COST: '3', AUTH_LOGIN_OTP: 'false' } });
  const response = await call(second.app, 'POST', '/auth/login', { payload: { identifier: account.username, password: account.password } });
  t.equal(response.statusCode, 200, 'the old hash still verifies');
  const after = argon2Params((await userRow(second.app, account.user.id))!.passwordHash);
  t.equal(after?.t, 3, 'the stored hash now has t=3');
  t.equal(after?.m, 19456);
  t.equal(after?.type, 'argon2id');

  const again = await call(second.app, 'POST', '/auth/login', { payload: { identifier: account.username, password: account.password } });
  t.equal(again.statusCode, 200, 'the new hash verifies the same password');
  const wrong = await call(second.app, 'POST', '/auth/login', { payload: { identifier: account.username, password: 'Wrong-Horse-Battery' } });
  t.equal(wrong.statusCode, 401, 'and not another one');
});
