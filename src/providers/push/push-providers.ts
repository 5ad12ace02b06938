import type { Config } from '../../config.js';
import type { PushSender, PushTarget } from './push-sender.js';
import { createWebPushSender } from './web-push.js';

/**
 * The push providers this deployment sends through, by platform. Web Push is always on (its VAPID
 * keys are generated when not configured). FCM and APNs are not built yet: devices of those
 * platforms are refused at registration (PUSH_PLATFORM_UNAVAILABLE).
 */
export function createPushSenders(config: Config, vapidKeys: () => Promise<{ publicKey: string; privateKey: string }>): ReadonlyMap<PushTarget['platform'], PushSender> {
  const webPush = createWebPushSender({ vapid: vapidKeys, subject: config.push.webPush.subject, allowPrivate: config.push.webPush.allowPrivate, timeoutMs: config.providerTimeoutMs });
  return new Map([[webPush.platform, webPush]]);
}
