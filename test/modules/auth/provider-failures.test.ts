import { eq } from 'drizzle-orm';
import t from 'tap';
import { otpChallenges } from '../../../src/db/schema.js';
import { problemOf } from '../../helper.js';
import { PASSWORD, call, register, uniqueEmail, uniqueUsername } from '../../support/accounts.js';
import { buildAuthApp } from '../../support/auth-app.js';
import { usersNamed } from '../../support/db.js';

/*
 * A code that cannot be delivered fails the sign-up as a whole: the answer names the provider's
 * failure and nothing of the account (or its challenge) is left in the database.
 */

const { app, mailbox, sms } = await buildAuthApp(t);

async function challengesTo(destination: string): Promise<number> {
  return (await app.db.select().from(otpChallenges).where(eq(otpChallenges.destination, destination))).length;
}

t.test('Twilio refusing the message (400): 502 SMS_DELIVERY_FAILED and no account left', async (t) => {
  sms.setMode('reject');
  t.teardown(() => sms.setMode('accept'));
  const username = uniqueUsername('smsfail');
  const requestsBefore = sms.requests.length;
  const response = await call(app, 'POST', '/auth/register', { payload: { username, phone: '+447911123499', password: PASSWORD } });
  t.equal(response.statusCode, 502);
  const problem = problemOf(t, response);
  t.equal(problem.code, 'SMS_DELIVERY_FAILED');
  t.equal(problem.providerCode, 21211, "Twilio's error code is passed on");
  t.equal(sms.requests.length, requestsBefore + 1, 'the SDK did call the provider');
  t.equal(await usersNamed(app, username), 0, 'no user row');
  t.equal(await challengesTo('+447911123499'), 0, 'no challenge row');

  sms.setMode('accept');
  const retry = await register(app, { username, phone: '+447911123499', password: PASSWORD });
  t.equal(retry.user.username, username, 'the name and number are free for a retry');
  t.ok((await sms.nextMessage('+447911123499')).code, 'which gets its code');
});

t.test('Twilio unavailable (503): 503 PROVIDER_UNAVAILABLE and no account left', async (t) => {
  sms.setMode('unavailable');
  t.teardown(() => sms.setMode('accept'));
  const username = uniqueUsername('smsdown');
  const response = await call(app, 'POST', '/auth/register', { payload: { username, phone: '+2348031234599', password: PASSWORD } });
  t.equal(response.statusCode, 503);
  t.equal(problemOf(t, response).code, 'PROVIDER_UNAVAILABLE');
  t.equal(await usersNamed(app, username), 0, 'no user row');
  t.equal(await challengesTo('+2348031234599'), 0, 'no challenge row');
});

t.test('SMTP refusing the recipient: 502 MAIL_DELIVERY_FAILED and no account left', async (t) => {
  const email = uniqueEmail('bounce');
  mailbox.rejectRecipients((address) => address === email);
  t.teardown(() => mailbox.rejectRecipients(null));
  const username = uniqueUsername('mailfail');
  const response = await call(app, 'POST', '/auth/register', { payload: { username, email, password: PASSWORD } });
  t.equal(response.statusCode, 502);
  const problem = problemOf(t, response);
  t.equal(problem.code, 'MAIL_DELIVERY_FAILED');
  t.equal(problem.smtpCode, 550);
  t.notMatch(JSON.stringify(problem), /No such user/, "the server's reply text is not passed on");
  t.equal(await usersNamed(app, username), 0, 'no user row');
  t.equal(await challengesTo(email), 0, 'no challenge row');
  t.equal(mailbox.sentTo(email).length, 0);

  mailbox.rejectRecipients(null);
  const retry = await register(app, { username, email, password: PASSWORD });
  t.equal(retry.user.email, email, 'the name and address are free for a retry');
  t.ok((await mailbox.nextMessage(email)).code);
});
