import { randomUUID } from 'node:crypto';
import t from 'tap';
import { problemOf } from '../../helper.js';
import { type ChallengeBody, type PrivateUserBody, call, registerAndVerify, registerByPhone, signIn, uniqueEmail } from '../../support/accounts.js';
import { buildAuthApp } from '../../support/auth-app.js';
import { recoverCode, setUserStatus, userRow } from '../../support/db.js';

/*
 * Your own account (/users/me), public profiles, password change and contact changes confirmed by a
 * code sent to the new address or number.
 */

const { app, mailbox, sms } = await buildAuthApp(t);

t.test('GET /users/me is the private view of the caller', async (t) => {
  const account = await registerAndVerify(app, mailbox, { displayName: 'Me Myself' });
  const response = await call(app, 'GET', '/users/me', { token: account.accessToken });
  t.equal(response.statusCode, 200);
  const me = response.json() as PrivateUserBody;
  t.same(me, account.user, 'the same view the tokens came with');
  t.equal(me.email, account.email);
  t.equal(me.emailVerified, true);
  t.equal(me.displayName, 'Me Myself');
  t.equal((await call(app, 'GET', '/users/me')).statusCode, 401, 'needs a token');
});

t.test('PATCH /users/me edits the profile', async (t) => {
  const account = await registerAndVerify(app, mailbox);
  const patch = (payload: unknown) => call(app, 'PATCH', '/users/me', { token: account.accessToken, payload });

  const edited = await patch({ displayName: '  New Name  ', about: 'Hello there', avatarUrl: 'https://cdn.example.test/a.png' });
  t.equal(edited.statusCode, 200);
  t.match(edited.json(), { displayName: 'New Name', about: 'Hello there', avatarUrl: 'https://cdn.example.test/a.png' });
  t.match((await call(app, 'GET', '/users/me', { token: account.accessToken })).json(), { displayName: 'New Name', about: 'Hello there' }, 'stored');

  const cleared = await patch({ about: null, avatarUrl: null });
  t.equal(cleared.statusCode, 200);
  t.match(cleared.json(), { displayName: 'New Name', about: null, avatarUrl: null }, 'null clears; absent keeps');

  const escalation = await patch({ displayName: 'Sneaky', role: 'admin', emailVerified: false, email: 'x@example.test' });
  t.equal(escalation.statusCode, 400, 'fields that are not profile fields are refused, as on every route');
  t.same(problemOf(t, escalation).errors?.map((e) => e.field).sort(), ['body.email', 'body.emailVerified', 'body.role']);
  t.match((await call(app, 'GET', '/users/me', { token: account.accessToken })).json(), { displayName: 'New Name', role: 'user', email: account.email, emailVerified: true }, 'nothing changed');
  t.equal((await patch({ displayName: 'Sneaky' })).statusCode, 200);

  for (const [payload, why] of [
    [{ avatarUrl: 'http://cdn.example.test/a.png' }, 'a plain-http avatar'],
    [{ avatarUrl: 'javascript:alert(1)' }, 'a script URL'],
    [{}, 'an empty body'],
    [{ displayName: '   ' }, 'a blank display name'],
    [{ displayName: 'x'.repeat(65) }, 'a display name over 64 characters'],
  ] as const) {
    const response = await patch(payload);
    t.equal(response.statusCode, 400, `${why} is refused`);
    t.equal(problemOf(t, response).code, 'VALIDATION_FAILED');
  }
  t.equal((await userRow(app, account.user.id))?.displayName, 'Sneaky', 'refused patches changed nothing');
});

t.test('GET /users/:id is a public profile without contact details', async (t) => {
  const viewer = await registerAndVerify(app, mailbox);
  const target = await registerAndVerify(app, mailbox, { displayName: 'Target' });
  const response = await call(app, 'GET', `/users/${target.user.id}`, { token: viewer.accessToken });
  t.equal(response.statusCode, 200);
  const body = response.json();
  t.same(Object.keys(body).sort(), ['about', 'avatarUrl', 'displayName', 'id', 'username']);
  t.equal(body.displayName, 'Target');
  t.notMatch(response.body, target.email!, 'no email anywhere in the answer');

  const unknown = await call(app, 'GET', `/users/${randomUUID()}`, { token: viewer.accessToken });
  t.equal(unknown.statusCode, 404);
  t.equal(problemOf(t, unknown).code, 'USER_NOT_FOUND');

  await setUserStatus(app, target.user.id, 'banned');
  const banned = await call(app, 'GET', `/users/${target.user.id}`, { token: viewer.accessToken });
  t.equal(banned.statusCode, 404, 'a banned user is not found');
});

t.test('PUT /users/me/password needs the current password and ends the other sessions', async (t) => {
  const account = await registerAndVerify(app, mailbox);
  const other = await signIn(app, mailbox, account, 'other');
  const change = (currentPassword: string, newPassword: string) =>
    call(app, 'PUT', '/users/me/password', { token: account.accessToken, payload: { currentPassword, newPassword } });

  const wrong = await change('Not-The-Password-1', 'Changed-Passphrase-2');
  t.equal(wrong.statusCode, 400);
  t.equal(problemOf(t, wrong).code, 'CURRENT_PASSWORD_INCORRECT');
  const weak = await change(account.password, 'password123');
  t.equal(weak.statusCode, 400);
  t.equal(problemOf(t, weak).code, 'WEAK_PASSWORD');
  t.equal((await call(app, 'GET', '/users/me', { token: other.accessToken })).statusCode, 200, 'failed changes end nothing');

  t.equal((await change(account.password, 'Changed-Passphrase-2')).statusCode, 204);
  const otherMe = await call(app, 'GET', '/users/me', { token: other.accessToken });
  t.equal(otherMe.statusCode, 401, 'the other session ended');
  t.equal(problemOf(t, otherMe).code, 'SESSION_REVOKED');
  t.equal((await call(app, 'POST', '/auth/refresh', { payload: { refreshToken: other.refreshToken } })).statusCode, 401);
  t.equal((await call(app, 'GET', '/users/me', { token: account.accessToken })).statusCode, 200, 'the current one is kept');
  t.equal((await call(app, 'POST', '/auth/refresh', { payload: { refreshToken: account.refreshToken } })).statusCode, 200);

  const login = (password: string) => call(app, 'POST', '/auth/login', { payload: { identifier: account.username, password } });
  t.equal((await login(account.password)).statusCode, 401, 'the old password is gone');
  t.equal((await login('Changed-Passphrase-2')).statusCode, 200, 'the new one works');
});

t.test('PUT /users/me/email takes effect only with the code sent to the new address', async (t) => {
  const account = await registerAndVerify(app, mailbox);
  const newEmail = uniqueEmail('moved');
  const response = await call(app, 'PUT', '/users/me/email', { token: account.accessToken, payload: { email: newEmail.toUpperCase() } });
  t.equal(response.statusCode, 202);
  const { challenge } = response.json() as { challenge: ChallengeBody };
  t.equal(challenge.channel, 'email');
  t.equal(challenge.destination, `${newEmail[0]}***@example.test`);

  const meBefore = (await call(app, 'GET', '/users/me', { token: account.accessToken })).json() as PrivateUserBody;
  t.equal(meBefore.email, account.email, 'unchanged until confirmed');
  const mail = await mailbox.nextMessage(newEmail);
  t.match(mail.subject, /new email address/);
  t.equal(mailbox.sentTo(account.email!).length, 1, 'nothing went to the old address (only its sign-up code)');

  const confirm = (code: string) => call(app, 'POST', '/users/me/contact/verify', { token: account.accessToken, payload: { challengeId: challenge.challengeId, code } });
  const wrong = await confirm(String((Number(mail.code) + 1) % 1_000_000).padStart(6, '0'));
  t.equal(wrong.statusCode, 400);
  t.equal(problemOf(t, wrong).code, 'OTP_INVALID');
  const done = await confirm(mail.code!);
  t.equal(done.statusCode, 200);
  t.match(done.json(), { email: newEmail, emailVerified: true });
  t.equal((await userRow(app, account.user.id))?.email, newEmail, 'stored');

  const byNewEmail = await call(app, 'POST', '/auth/login', { payload: { identifier: newEmail, password: account.password } });
  t.equal(byNewEmail.statusCode, 200, 'the new address signs in');
  t.equal((await call(app, 'POST', '/auth/login', { payload: { identifier: account.email, password: account.password } })).statusCode, 401, 'the old one no longer does');
});

t.test('an email or number of another account answers like a free one: a decoy challenge, nothing sent, never verifies', async (t) => {
  const account = await registerAndVerify(app, mailbox);
  const holder = await registerAndVerify(app, mailbox);
  const phoneHolder = await registerByPhone(app, sms, { phone: '+61412345678' });
  const mailsBefore = mailbox.received.length;
  const textsBefore = sms.sentTo(phoneHolder.phone!).length;
  const free = await call(app, 'PUT', '/users/me/email', { token: account.accessToken, payload: { email: uniqueEmail('free') } });
  const email = await call(app, 'PUT', '/users/me/email', { token: account.accessToken, payload: { email: holder.email!.toUpperCase() } });
  t.equal(email.statusCode, 202, 'the same status as for a free address');
  t.same(Object.keys(email.json() as object), Object.keys(free.json() as object), 'and the same shape');
  const { challenge } = email.json() as { challenge: ChallengeBody };
  t.match(challenge, { channel: 'email', destination: /^\w\*\*\*@example\.test$/ });
  t.equal(mailbox.sentTo(holder.email!).length, 1, 'nothing goes to the holder (only their sign-up code)');
  t.equal(mailbox.received.length, mailsBefore + 1, 'only the free address got a mail');
  const verify = await call(app, 'POST', '/users/me/contact/verify', { token: account.accessToken, payload: { challengeId: challenge.challengeId, code: await recoverCode(app, challenge.challengeId) } });
  t.equal(problemOf(t, verify).code, 'OTP_INVALID', 'the decoy never verifies, even with its own code');
  t.equal((await userRow(app, account.user.id))?.email, account.email, 'nothing changed');

  const phone = await call(app, 'PUT', '/users/me/phone', { token: account.accessToken, payload: { phone: phoneHolder.phone } });
  t.equal(phone.statusCode, 202);
  t.equal(sms.sentTo(phoneHolder.phone!).length, textsBefore, 'no text to the holder');
});

t.test('PUT /users/me/phone: the code goes by text to the new number', async (t) => {
  const account = await registerAndVerify(app, mailbox);
  const invalid = await call(app, 'PUT', '/users/me/phone', { token: account.accessToken, payload: { phone: '+1 555' } });
  t.equal(invalid.statusCode, 400);
  t.equal(problemOf(t, invalid).code, 'INVALID_PHONE');

  const response = await call(app, 'PUT', '/users/me/phone', { token: account.accessToken, payload: { phone: '+1 415 555 0199' } });
  t.equal(response.statusCode, 202);
  const { challenge } = response.json() as { challenge: ChallengeBody };
  t.equal(challenge.channel, 'sms');
  t.equal((await userRow(app, account.user.id))?.phone, null, 'no number until confirmed');
  const message = await sms.nextMessage('+14155550199');
  t.match(message.body, /new phone number/);
  const done = await call(app, 'POST', '/users/me/contact/verify', { token: account.accessToken, payload: { challengeId: challenge.challengeId, code: message.code } });
  t.equal(done.statusCode, 200);
  t.match(done.json(), { phone: '+14155550199', phoneVerified: true, email: account.email });
});
