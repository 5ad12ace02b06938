import type { MailSender } from './mail-sender.js';

/** The embedded default: writes each mail's text to the log instead of sending it (the html is left out). */
export function createConsoleMail(log: { info: (obj: object, msg: string) => void }): MailSender {
  return {
    name: 'console',
    async send({ to, subject, text }) {
      log.info({ to, subject, text }, 'mail (console provider)');
    },
    async close() {},
  };
}
