import { pino, type LoggerOptions } from 'pino';
import t from 'tap';
import { loggerOptions } from '../../src/logging.js';
import { createConsoleMail } from '../../src/providers/mail/console-mail.js';
import { type OtpPurpose, otpMail, otpSms } from '../../src/providers/mail/templates.js';
import { createConsoleSms } from '../../src/providers/sms/console-sms.js';
import { captureLogs } from '../helper.js';

function recordingLogger() {
  const calls: Array<{ obj: object; msg: string }> = [];
  return { calls, info: (obj: object, msg: string) => void calls.push({ obj, msg }) };
}

t.test('console sms logs the recipient and the text', async (t) => {
  const log = recordingLogger();
  const sms = createConsoleSms(log);
  t.equal(sms.name, 'console');
  await sms.send('+15551234567', 'Your Chat sign-in code is 123456.');
  t.same(log.calls, [{ obj: { to: '+15551234567', text: 'Your Chat sign-in code is 123456.' }, msg: 'sms (console provider)' }]);
});

t.test('console mail logs recipient, subject and text', async (t) => {
  const log = recordingLogger();
  const mail = createConsoleMail(log);
  t.equal(mail.name, 'console');
  await mail.send({ to: 'ann@example.com', subject: 'Your Chat sign-in code', text: 'code 654321', html: '<p>code 654321</p>' });
  t.same(log.calls, [{ obj: { to: 'ann@example.com', subject: 'Your Chat sign-in code', text: 'code 654321' }, msg: 'mail (console provider)' }]);
  await mail.close();
});

t.test("the code survives the app's log redaction, so a developer can read it", async (t) => {
  const logs = captureLogs();
  const stream = logs.stream;
  const logger = pino(loggerOptions('info') as LoggerOptions, stream);
  await createConsoleSms(logger).send('+15551234567', otpSms('482915', 'login', 5));
  const mail = otpMail('730461', 'register', 10);
  await createConsoleMail(logger).send({ to: 'ann@example.com', ...mail });
  const log = logs.text();
  t.match(log, /482915/, 'sms code in the log');
  t.match(log, /730461/, 'mail code in the log');
  t.notMatch(log, /<p/, 'the html part is not logged');
});

// The OTP templates (their output is what the console providers show).

const purposes: OtpPurpose[] = ['register', 'login', 'passwordless', 'reset_password', 'change_email', 'change_phone'];

t.test('sms text carries the code and the lifetime', async (t) => {
  t.equal(otpSms('123456', 'login', 5), "Your Chat sign-in code is 123456. It expires in 5 minutes. Don't share it.");
  t.match(otpSms('123456', 'reset_password', 1), /password reset code is 123456\. It expires in 1 minute\./);
  for (const purpose of purposes) t.ok(otpSms('123456', purpose, 5).length <= 160, `${purpose} fits one GSM segment`);
});

t.test('mail keeps the code out of the subject and in both bodies', async (t) => {
  for (const purpose of purposes) {
    const mail = otpMail('987654', purpose, 10);
    t.notMatch(mail.subject, /987654/, `${purpose}: no code in the subject`);
    t.match(mail.text, /987654/, `${purpose}: code in the text`);
    t.match(mail.html, />987654</, `${purpose}: code in the html`);
    t.match(mail.text, /10 minutes/);
  }
  t.equal(otpMail('987654', 'login', 5).subject, 'Your Chat sign-in code');
});

t.test('the html escapes what it interpolates', async (t) => {
  const mail = otpMail('<b>&"', 'login', 5);
  t.notMatch(mail.html, /<b>/);
  t.match(mail.html, /&#60;b&#62;&#38;&#34;/);
});
