import webpush, { WebPushError } from 'web-push';
import { isIP } from 'node:net';
import { isPublicAddress, publicOnlyAgent } from '../../lib/public-address.js';
import type { PushNotification, PushOutcome, PushSender, PushTarget } from './push-sender.js';

/**
 * Web Push (RFC 8030 delivery, RFC 8291 aes128gcm encryption, RFC 8292 VAPID) through the `web-push`
 * package, straight to the browser's push service. Endpoints come from browsers: requests go only to
 * public addresses unless `allowPrivate` (see publicOnlyAgent).
 */
export function createWebPushSender(options: { vapid: () => Promise<{ publicKey: string; privateKey: string }>; subject: string; allowPrivate: boolean; timeoutMs: number }): PushSender {
  const agent = publicOnlyAgent(options.allowPrivate);
  return {
    platform: 'webpush',
    async send(target: PushTarget, notification: PushNotification): Promise<PushOutcome> {
      if (!target.p256dh || !target.auth) return { ok: false, retry: false, invalidTarget: true, error: 'subscription without keys' };
      // An address literal is never looked up, so the agent's check does not see it: checked here.
      const host = new URL(target.token).hostname.replace(/^\[|\]$/g, '');
      if (!options.allowPrivate && isIP(host) !== 0 && !isPublicAddress(host)) return { ok: false, retry: false, invalidTarget: true, error: 'endpoint is not a public address' };
      const vapid = await options.vapid();
      try {
        await webpush.sendNotification({ endpoint: target.token, keys: { p256dh: target.p256dh, auth: target.auth } }, JSON.stringify(webPushPayload(notification)), {
          vapidDetails: { subject: options.subject, ...vapid },
          TTL: notification.ttlSeconds,
          topic: notification.collapseKey,
          urgency: 'high',
          contentEncoding: 'aes128gcm',
          timeout: options.timeoutMs,
          agent,
        });
        return { ok: true };
      } catch (error) {
        if (error instanceof WebPushError) {
          const status = error.statusCode;
          const retryAfter = Number(error.headers?.['retry-after']);
          return {
            ok: false,
            invalidTarget: status === 404 || status === 410,
            retry: status === 429 || status >= 500,
            error: `push service answered ${status}`,
            ...(Number.isFinite(retryAfter) && retryAfter > 0 ? { retryAfterMs: retryAfter * 1000 } : {}),
          };
        }
        const code = (error as { code?: string }).code;
        // Refused before a byte was sent: the endpoint is not a public address; it never will be.
        if (code === 'EADDRNOTPUBLIC') return { ok: false, retry: false, invalidTarget: true, error: 'endpoint is not a public address' };
        return { ok: false, retry: true, invalidTarget: false, error: `network: ${code ?? (error as Error).message}` };
      }
    },
  };
}

/**
 * What the service worker receives (JSON): the data, plus `title`, `body` and `badge` for a message
 * (a retraction carries only the data: `type: 'message.deleted'`, and the same Topic).
 */
export const webPushPayload = (n: PushNotification): Record<string, unknown> => (n.alert ? { ...n.data, title: n.alert.title, body: n.alert.body, badge: n.badge } : { ...n.data });

/** A VAPID key pair (base64url): generated once per deployment when not configured. */
export const generateVapidKeys = (): { publicKey: string; privateKey: string } => webpush.generateVAPIDKeys();
