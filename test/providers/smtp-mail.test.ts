import { once } from 'node:events';
import { type AddressInfo, type Socket, createServer as createNetServer } from 'node:net';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import type { Test } from 'tap';
import t from 'tap';
import { createSmtpMail } from '../../src/providers/mail/smtp-mail.js';
import { otpMail } from '../../src/providers/mail/templates.js';
import { mimePart } from '../support/mailbox.js';
import { rejectionOf } from '../helper.js';
import { freePort } from '../support/loopback.js';

/*
 * Real nodemailer against a real SMTP server (smtp-server) on a local port.
 */

const FROM = 'Chat <no-reply@chat.example>';

interface Received {
  mailFrom: string | undefined;
  rcptTo: string[];
  raw: string;
}

async function smtpServer(t: Test, options: Partial<SMTPServerOptions> = {}) {
  const received: Received[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    closeTimeout: 1000,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        const from = session.envelope.mailFrom;
        received.push({
          mailFrom: from ? from.address : undefined,
          rcptTo: session.envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks).toString('utf8'),
        });
        callback();
      });
    },
    ...options,
  });
  server.listen(0, '127.0.0.1');
  await once(server.server, 'listening');
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { url: `smtp://127.0.0.1:${(server.server.address() as AddressInfo).port}`, received };
}

/** A TCP server that accepts connections and never says a word. */
async function silentServer(t: Test) {
  const sockets = new Set<Socket>();
  const server = createNetServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(async () => {
    for (const socket of sockets) socket.destroy();
    server.close();
    await once(server, 'close');
  });
  return `smtp://127.0.0.1:${(server.address() as AddressInfo).port}`;
}



t.test('delivers a multipart text + html message', async (t) => {
  const smtp = await smtpServer(t);
  const mail = createSmtpMail({ url: smtp.url, from: FROM, timeoutMs: 2000 });
  t.teardown(() => mail.close());
  t.equal(mail.name, 'smtp');

  await mail.send({ to: 'ann@example.com', ...otpMail('482915', 'login', 5) });

  t.equal(smtp.received.length, 1);
  const [message] = smtp.received;
  t.equal(message?.mailFrom, 'no-reply@chat.example', 'envelope sender');
  t.same(message?.rcptTo, ['ann@example.com'], 'envelope recipient');
  const raw = message?.raw ?? '';
  const headers = raw.slice(0, raw.search(/\r?\n\r?\n/));
  t.match(headers, /^To: ann@example\.com$/m);
  t.match(headers, /^From: Chat <no-reply@chat\.example>$/m);
  t.match(headers, /^Subject: Your Chat sign-in code$/m);
  t.match(headers, /^Content-Type: multipart\/alternative/m);
  t.notMatch(headers, /482915/, 'the code is not in any header');
  t.match(mimePart(raw, 'text/plain'), /Your Chat sign-in code is 482915\./, 'text part with the code');
  t.match(mimePart(raw, 'text/html'), />482915</, 'html part with the code');
});

t.test('a rejected recipient is MAIL_DELIVERY_FAILED with the SMTP code', async (t) => {
  const smtp = await smtpServer(t, {
    onRcptTo(_address, _session, callback) {
      callback(Object.assign(new Error('5.1.1 No such user here'), { responseCode: 550 }));
    },
  });
  const mail = createSmtpMail({ url: smtp.url, from: FROM, timeoutMs: 2000 });
  t.teardown(() => mail.close());
  const error = await rejectionOf(mail.send({ to: 'nobody@example.com', ...otpMail('482915', 'login', 5) }));
  t.equal(error.code, 'MAIL_DELIVERY_FAILED');
  t.equal(error.status, 502);
  t.same(error.extensions, { smtpCode: 550 });
  t.notMatch(error.message, /No such user/, "the server's reply text is not passed on");
  t.equal(smtp.received.length, 0);
});

t.test('a server closing the channel (421) is PROVIDER_UNAVAILABLE', async (t) => {
  const smtp = await smtpServer(t, {
    onConnect(_session, callback) {
      callback(Object.assign(new Error('Too busy, try later'), { responseCode: 421 }));
    },
  });
  const mail = createSmtpMail({ url: smtp.url, from: FROM, timeoutMs: 2000 });
  t.teardown(() => mail.close());
  const error = await rejectionOf(mail.send({ to: 'ann@example.com', ...otpMail('482915', 'login', 5) }));
  t.equal(error.code, 'PROVIDER_UNAVAILABLE');
});

t.test('a closed port is PROVIDER_UNAVAILABLE', async (t) => {
  const mail = createSmtpMail({ url: `smtp://127.0.0.1:${await freePort()}`, from: FROM, timeoutMs: 2000 });
  t.teardown(() => mail.close());
  const error = await rejectionOf(mail.send({ to: 'ann@example.com', ...otpMail('482915', 'login', 5) }));
  t.equal(error.code, 'PROVIDER_UNAVAILABLE');
  t.equal(error.status, 503);
});

t.test('a server that never greets is PROVIDER_UNAVAILABLE', async (t) => {
  const mail = createSmtpMail({ url: await silentServer(t), from: FROM, timeoutMs: 500 });
  t.teardown(() => mail.close());
  const started = Date.now();
  const error = await rejectionOf(mail.send({ to: 'ann@example.com', ...otpMail('482915', 'login', 5) }));
  t.equal(error.code, 'PROVIDER_UNAVAILABLE');
  // Loose on purpose: only tells timeoutMs apart from nodemailer's 30 s greeting default.
  t.ok(Date.now() - started < 10_000, 'gave up well before the nodemailer default');
});
