import t from 'tap';
import { captureLogs, problemOf } from '../../helper.js';
import { type ChallengeBody, PASSWORD, call, expectStatus, register, registerAndVerify, uniqueEmail, uniqueUsername } from '../../support/accounts.js';
import { buildAuthApp } from '../../support/auth-app.js';
import { challengeRow, expireChallenge, usersNamed } from '../../support/db.js';

/*
 * One-time codes: wrong tries, single use, expiry, resends and the hourly caps, and the per-address
 * rate limit of /auth routes. Codes come from the real mail.
 */

/** A 6-digit code that is certainly not `code`. */
const otherThan = (code: string) => String((Number(code) + 1) % 1_000_000).padStart(6, '0');

const verify = (app: Parameters<typeof call>[0], challengeId: string, code: string) => call(app, 'POST', '/auth/verify-otp', { payload: { challengeId, code } });
const resend = (app: Parameters<typeof call>[0], challengeId: string, remoteAddress?: string) =>
  call(app, 'POST', '/auth/resend-otp', { payload: { challengeId }, ...(remoteAddress ? { remoteAddress } : {}) });

t.test('wrong codes count down; the 5th is 429 and then even the right code fails', async (t) => {
  const { app, mailbox } = await buildAuthApp(t);
  const email = uniqueEmail('tries');
  const { challenge } = await register(app, { username: uniqueUsername('tries'), email, password: PASSWORD });
  const code = await mailbox.codeFor(email);

  for (const remaining of [4, 3, 2, 1]) {
    const response = await verify(app, challenge.challengeId, otherThan(code));
    t.equal(response.statusCode, 400);
    const problem = problemOf(t, response);
    t.equal(problem.code, 'OTP_INVALID');
    t.equal(problem.attemptsRemaining, remaining, `${remaining} tries left`);
  }
  const fifth = await verify(app, challenge.challengeId, otherThan(code));
  t.equal(fifth.statusCode, 429, 'the 5th wrong code kills the challenge');
  t.equal(problemOf(t, fifth).code, 'OTP_ATTEMPTS_EXCEEDED');

  const right = await verify(app, challenge.challengeId, code);
  t.equal(right.statusCode, 429, 'the right code no longer helps');
  t.equal(problemOf(t, right).code, 'OTP_ATTEMPTS_EXCEEDED');
  const again = await resend(app, challenge.challengeId);
  t.equal(again.statusCode, 429, 'nor does a resend');
  t.equal(problemOf(t, again).code, 'OTP_ATTEMPTS_EXCEEDED');
});

t.test('a code works once', async (t) => {
  const { app, mailbox } = await buildAuthApp(t);
  const email = uniqueEmail('once');
  const { challenge } = await register(app, { username: uniqueUsername('once'), email, password: PASSWORD });
  const code = await mailbox.codeFor(email);
  t.equal((await verify(app, challenge.challengeId, code)).statusCode, 200);
  const second = await verify(app, challenge.challengeId, code);
  t.equal(second.statusCode, 400, 'the second use fails');
  t.equal(problemOf(t, second).code, 'OTP_INVALID');
  t.ok((await challengeRow(app, challenge.challengeId))?.consumedAt, 'the challenge is consumed in the database');
});

t.test('an expired code is OTP_EXPIRED', async (t) => {
  const { app, mailbox } = await buildAuthApp(t, { env: { OTP_TTL_SECONDS: '30' } });
  const email = uniqueEmail('expired');
  const { challenge } = await register(app, { username: uniqueUsername('expired'), email, password: PASSWORD });
  t.ok(Date.parse(challenge.expiresAt) <= Date.now() + 30_000, 'issued for at most OTP_TTL_SECONDS');
  const mail = await mailbox.nextMessage(email);
  await expireChallenge(app, challenge.challengeId);
  const response = await verify(app, challenge.challengeId, mail.code!);
  t.equal(response.statusCode, 400);
  t.equal(problemOf(t, response).code, 'OTP_EXPIRED');
});

t.test('a resend within the interval is OTP_RESEND_TOO_SOON with retryAfter', async (t) => {
  const { app, mailbox } = await buildAuthApp(t);
  const email = uniqueEmail('soon');
  const { challenge } = await register(app, { username: uniqueUsername('soon'), email, password: PASSWORD });
  const response = await resend(app, challenge.challengeId);
  t.equal(response.statusCode, 429);
  const problem = problemOf(t, response);
  t.equal(problem.code, 'OTP_RESEND_TOO_SOON');
  t.ok(Number.isInteger(problem.retryAfter) && (problem.retryAfter as number) >= 1 && (problem.retryAfter as number) <= 30, `retryAfter in 1..30: ${problem.retryAfter}`);
  t.equal(mailbox.sentTo(email).length, 1, 'no second mail');
});

t.test('resends up to OTP_MAX_SENDS; only the newest code works', async (t) => {
  const { app, mailbox } = await buildAuthApp(t, { env: { OTP_RESEND_INTERVAL_SECONDS: '0', OTP_MAX_SENDS: '3' } });
  const email = uniqueEmail('resend');
  const { challenge } = await register(app, { username: uniqueUsername('resend'), email, password: PASSWORD });
  const codes = [await mailbox.codeFor(email)];
  for (let i = 0; i < 2; i++) {
    const response = await resend(app, challenge.challengeId);
    t.equal(response.statusCode, 202, `resend ${i + 1} accepted`);
    const next = response.json().challenge as ChallengeBody;
    t.equal(next.challengeId, challenge.challengeId, 'the same challenge');
    codes.push(await mailbox.codeFor(email));
  }
  const limit = await resend(app, challenge.challengeId);
  t.equal(limit.statusCode, 429, 'the 4th send is refused');
  t.equal(problemOf(t, limit).code, 'OTP_SEND_LIMIT');
  t.equal(mailbox.sentTo(email).length, 3, 'three mails in all');
  t.equal((await challengeRow(app, challenge.challengeId))?.sendCount, 3);

  const newest = codes.at(-1)!;
  const old = codes.find((code) => code !== newest) ?? otherThan(newest);
  const stale = await verify(app, challenge.challengeId, old);
  t.equal(stale.statusCode, 400, 'an older code no longer works');
  t.equal(problemOf(t, stale).code, 'OTP_INVALID');
  t.equal((await verify(app, challenge.challengeId, newest)).statusCode, 200, 'the newest one does');
});

t.test('OTP_DESTINATION_HOURLY_CAP limits codes to one address across challenges', async (t) => {
  const { app, mailbox } = await buildAuthApp(t, { env: { OTP_DESTINATION_HOURLY_CAP: '2', OTP_RESEND_INTERVAL_SECONDS: '0' } });
  const account = await registerAndVerify(app, mailbox);
  const login = expectStatus<{ challenge: ChallengeBody }>(
    await call(app, 'POST', '/auth/login', { payload: { identifier: account.username, password: account.password } }),
    200,
    'login',
  );
  await mailbox.codeFor(account.email!);

  const third = await resend(app, login.challenge.challengeId);
  t.equal(third.statusCode, 429, 'a resend would be the 3rd code to that address this hour');
  const problem = problemOf(t, third);
  t.equal(problem.code, 'OTP_SEND_LIMIT');
  t.equal(problem.retryAfter, 3600);
  const anotherLogin = await call(app, 'POST', '/auth/login', { payload: { identifier: account.username, password: account.password } });
  t.equal(anotherLogin.statusCode, 429, 'so is a new challenge to it');
  t.equal(problemOf(t, anotherLogin).code, 'OTP_SEND_LIMIT');
  t.equal(mailbox.sentTo(account.email!).length, 2, 'two mails reached the address');

  const other = await call(app, 'POST', '/auth/register', { payload: { username: uniqueUsername('other'), email: uniqueEmail('other'), password: PASSWORD } });
  t.equal(other.statusCode, 201, 'other addresses are not affected');
});

t.test('someone flooding forgot-password for an address uses up their own budget, not the owner’s; all addresses together meet a logged ceiling', async (t) => {
  const logs = captureLogs();
  const { app, mailbox } = await buildAuthApp(t, {
    env: { OTP_DESTINATION_HOURLY_CAP: '3', OTP_DESTINATION_GLOBAL_HOURLY_CAP: '8', LOG_LEVEL: 'warn' },
    overrides: { logStream: logs.stream },
  });
  const owner = await registerAndVerify(app, mailbox, { remoteAddress: '192.0.2.10' });
  const forgot = (remoteAddress: string) => call(app, 'POST', '/auth/forgot-password', { payload: { identifier: owner.email }, remoteAddress });
  for (let i = 0; i < 3; i++) expectStatus(await forgot('203.0.113.66'), 202, `attacker request ${i + 1}`);
  const capped = await forgot('203.0.113.66');
  t.equal(capped.statusCode, 429, 'the attacker hits the cap');
  t.equal(problemOf(t, capped).code, 'OTP_SEND_LIMIT');

  const login = await call(app, 'POST', '/auth/login', { payload: { identifier: owner.username, password: owner.password }, remoteAddress: '192.0.2.10' });
  const { challenge } = expectStatus<{ challenge: ChallengeBody }>(login, 200, 'the owner still gets a sign-in code');
  await mailbox.codeFor(owner.email!); // the sign-up code
  const delivered = mailbox.sentTo(owner.email!).at(-1);
  t.ok(delivered?.subject?.includes('sign-in'), 'and it arrives');
  t.ok(challenge.challengeId);

  // 5 codes so far (sign-up, 3 for the attacker, the sign-in): 3 more from other addresses reach 8.
  for (const address of ['198.51.100.1', '198.51.100.1', '198.51.100.2']) expectStatus(await forgot(address), 202, `from ${address}`);
  const ceiling = await forgot('198.51.100.3');
  t.equal(ceiling.statusCode, 429, 'all addresses together meet the ceiling (8 codes this hour)');
  t.match(logs.text(), /hourly code ceiling of a destination reached/, 'which is logged as a warning');
  t.notMatch(logs.text(), owner.email!, 'without the full address');
});

t.test('OTP_IP_HOURLY_CAP limits codes requested from one client address', async (t) => {
  const { app, mailbox } = await buildAuthApp(t, { env: { OTP_IP_HOURLY_CAP: '2' } });
  for (let i = 0; i < 2; i++) {
    await register(app, { username: uniqueUsername('ip'), email: uniqueEmail('ip'), password: PASSWORD, remoteAddress: '203.0.113.7' });
  }
  const username = uniqueUsername('ip');
  const email = uniqueEmail('ip');
  const third = await call(app, 'POST', '/auth/register', { payload: { username, email, password: PASSWORD }, remoteAddress: '203.0.113.7' });
  t.equal(third.statusCode, 429, 'the 3rd code from that address is refused');
  t.equal(problemOf(t, third).code, 'OTP_SEND_LIMIT');
  t.equal(await usersNamed(app, username), 0, 'and the sign-up is not kept');
  t.equal(mailbox.sentTo(email).length, 0, 'no mail');

  const passwordless = await call(app, 'POST', '/auth/otp', { payload: { email: uniqueEmail('ip') }, remoteAddress: '203.0.113.7' });
  t.equal(passwordless.statusCode, 429, 'decoys count and are capped too');

  const elsewhere = await call(app, 'POST', '/auth/register', { payload: { username, email, password: PASSWORD }, remoteAddress: '198.51.100.9' });
  t.equal(elsewhere.statusCode, 201, 'another client address may');
});

t.test('AUTH_RATE_LIMIT_MAX limits each /auth route per client address', async (t) => {
  const { app } = await buildAuthApp(t, { env: { AUTH_RATE_LIMIT_MAX: '3' } });
  const login = (remoteAddress: string) => call(app, 'POST', '/auth/login', { payload: { identifier: 'nobody_here', password: PASSWORD }, remoteAddress });
  for (let i = 1; i <= 3; i++) t.equal((await login('192.0.2.10')).statusCode, 401, `attempt ${i} is answered`);
  const fourth = await login('192.0.2.10');
  t.equal(fourth.statusCode, 429, 'the 4th is rate limited');
  const problem = problemOf(t, fourth);
  t.equal(problem.code, 'RATE_LIMITED');
  t.ok(Number.isInteger(problem.retryAfter) && (problem.retryAfter as number) >= 1 && (problem.retryAfter as number) <= 60, `retryAfter ${problem.retryAfter}`);
  t.equal((await login('192.0.2.11')).statusCode, 401, 'another address is not limited');
});
