import type { Config } from '../../config.js';
import { createConsolePushSender } from './console-push.js';
import type { PushSender, PushTarget } from './push-sender.js';
import { createWebPushSender } from './web-push.js';

/**
 * The push providers this deployment sends through, by platform. Web Push is always on (its VAPID
 * keys are generated when not configured); FCM and APNs when their credentials are configured
 * (their modules are loaded only then), or printed to the log with PUSH_CONSOLE=true. Devices of a
 * platform without a provider are refused at registration (PUSH_PLATFORM_UNAVAILABLE).
 */
export async function createPushSenders(
  config: Config,
  vapidKeys: () => Promise<{ publicKey: string; privateKey: string }>,
  log: { info: (details: object, message: string) => void },
): Promise<ReadonlyMap<PushTarget['platform'], PushSender>> {
  const timeoutMs = config.providerTimeoutMs;
  const { fcm, apns } = config.push;
  const senders: PushSender[] = [createWebPushSender({ vapid: vapidKeys, subject: config.push.webPush.subject, allowPrivate: config.push.webPush.allowPrivate, timeoutMs })];
  if (fcm) senders.push((await import('./fcm.js')).createFcmSender({ ...fcm, timeoutMs }));
  else if (config.push.console) senders.push(createConsolePushSender('fcm', log));
  if (apns) senders.push((await import('./apns.js')).createApnsSender({ ...apns, timeoutMs }));
  else if (config.push.console) senders.push(createConsolePushSender('apns', log));
  return new Map(senders.map((sender) => [sender.platform, sender]));
}
