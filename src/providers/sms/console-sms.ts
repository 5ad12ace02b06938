import type { SmsSender } from './sms-sender.js';

/**
 * The embedded default: writes each text to the log instead of sending it, so a developer can read
 * the code. The text deliberately sits under `text` (not a redacted key such as `code`).
 */
export function createConsoleSms(log: { info: (obj: object, msg: string) => void }): SmsSender {
  return {
    name: 'console',
    async send(to, text) {
      log.info({ to, text }, 'sms (console provider)');
    },
  };
}
