import type { PushNotification, PushOutcome, PushSender, PushTarget } from './push-sender.js';

/**
 * Development stand-in for a platform without credentials (PUSH_CONSOLE=true): logs each push
 * instead of sending it, with only the end of the device token.
 */
export function createConsolePushSender(platform: PushTarget['platform'], log: { info: (details: object, message: string) => void }): PushSender {
  return {
    platform,
    async send(target: PushTarget, notification: PushNotification): Promise<PushOutcome> {
      log.info({ push: { platform, device: `…${target.token.slice(-6)}`, kind: notification.kind, alert: notification.alert, badge: notification.badge, data: notification.data } }, 'push (console)');
      return { ok: true };
    },
  };
}
