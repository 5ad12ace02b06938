import t from 'tap';
import { type ChallengeBody, type TokenPairBody, call, expectStatus, register, registerByPhone, uniqueEmail, uniqueUsername, verifyOtp } from '../../support/accounts.js';
import { buildAuthApp } from '../../support/auth-app.js';
import { TWILIO_TOKEN } from '../../support/sms-gateway.js';
import { captureLogs } from '../../helper.js';

/*
 * At LOG_LEVEL=trace, a whole sign-up / sign-in / refresh / reset flow leaves no password, code or
 * token in the log. The real SMTP and Twilio providers are used: the console providers log codes on
 * purpose.
 */

t.test('no password, code or token reaches the log', async (t) => {
  const logs = captureLogs();
  const logStream = logs.stream;
  const { app, mailbox, sms } = await buildAuthApp(t, { env: { LOG_LEVEL: 'trace' }, overrides: { logStream } });
  const secrets: string[] = [TWILIO_TOKEN];
  const keep = (...values: string[]) => {
    secrets.push(...values);
  };

  const username = uniqueUsername('logged');
  const email = uniqueEmail('logged');
  const password = 'Secret-Passphrase-For-Logs-1';
  keep(password);
  const { challenge } = await register(app, { username, email, password });
  const signupCode = await mailbox.codeFor(email);
  keep(signupCode);
  const first = await verifyOtp(app, challenge.challengeId, signupCode);
  keep(first.accessToken, first.refreshToken);

  const refreshed = expectStatus<TokenPairBody>(await call(app, 'POST', '/auth/refresh', { payload: { refreshToken: first.refreshToken } }), 200, 'refresh');
  keep(refreshed.accessToken, refreshed.refreshToken);
  const reused = await call(app, 'POST', '/auth/refresh', { payload: { refreshToken: first.refreshToken } });
  t.equal(reused.statusCode, 401, 'a failing refresh is logged too');

  const wrongLogin = await call(app, 'POST', '/auth/login', { payload: { identifier: username, password: 'Wrong-Passphrase-For-Logs-2' } });
  t.equal(wrongLogin.statusCode, 401);
  keep('Wrong-Passphrase-For-Logs-2');
  const login = expectStatus<{ challenge: ChallengeBody }>(await call(app, 'POST', '/auth/login', { payload: { identifier: email, password } }), 200, 'login');
  const loginCode = await mailbox.codeFor(email);
  keep(loginCode);
  const wrongCode = String((Number(loginCode) + 1) % 1_000_000).padStart(6, '0');
  t.equal((await call(app, 'POST', '/auth/verify-otp', { payload: { challengeId: login.challenge.challengeId, code: wrongCode } })).statusCode, 400);
  keep(wrongCode);
  const second = await verifyOtp(app, login.challenge.challengeId, loginCode);
  keep(second.accessToken, second.refreshToken);

  const ticket = expectStatus<{ ticket: string }>(await call(app, 'POST', '/auth/ws-ticket', { token: second.accessToken }), 200, 'ticket');
  keep(ticket.ticket);

  const forgot = expectStatus<{ challenge: ChallengeBody }>(await call(app, 'POST', '/auth/forgot-password', { payload: { identifier: username } }), 202, 'forgot');
  const resetCode = await mailbox.codeFor(email);
  keep(resetCode, 'Reset-Passphrase-For-Logs-3');
  const reset = await call(app, 'POST', '/auth/reset-password', { payload: { challengeId: forgot.challenge.challengeId, code: resetCode, newPassword: 'Reset-Passphrase-For-Logs-3' } });
  t.equal(reset.statusCode, 204);

  const byPhone = await registerByPhone(app, sms, { phone: '+447911123444', password: 'Phone-Passphrase-For-Logs-4' });
  keep('Phone-Passphrase-For-Logs-4', byPhone.accessToken, byPhone.refreshToken, sms.sentTo('+447911123444')[0]!.code!);
  t.equal((await call(app, 'GET', '/users/me', { token: byPhone.accessToken })).statusCode, 200);

  const log = logs.text();
  t.ok(logs.text().split('\n').length > 20, 'the log was captured');
  t.match(log, '/api/v1/auth/verify-otp', 'requests are logged at trace');
  t.match(log, 'REFRESH_TOKEN_REUSED', 'rejections are logged with their (non-secret) error code');
  t.match(log, 'INVALID_CREDENTIALS');
  t.equal(secrets.filter((s) => s.length < 6).length, 0, 'every secret is specific enough to search for');
  for (const secret of new Set(secrets)) {
    t.notOk(log.includes(secret), `${secret.slice(0, 4)}… (${secret.length} chars) is not in the log`);
  }
});
