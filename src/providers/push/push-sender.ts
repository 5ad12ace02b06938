/** Where a push goes (a registered device). */
export interface PushTarget {
  platform: 'fcm' | 'apns' | 'webpush';
  /** FCM/APNs device token, or the Web Push endpoint. */
  token: string;
  p256dh: string | null;
  auth: string | null;
  /** FCM: unused; APNs: the bundle id (apns-topic) when it is not the configured APNS_TOPIC. */
  appId: string | null;
}

/**
 * One push, in platform-neutral terms; each sender renders it for its platform (see the README's
 * "Push notifications" for the payload per platform).
 */
export interface PushNotification {
  /** `message`: show a notification; `retract`: take back the one shown for this message (it was deleted for everyone). */
  kind: 'message' | 'retract';
  /**
   * The same for every try of one push to one device (a UUID): APNs `apns-id`. With `collapseKey`,
   * a retry after an unknown outcome replaces the notification instead of adding a second one.
   */
  id: string;
  /** One per conversation (at most 32 characters of [A-Za-z0-9_-]): the next push of the conversation replaces the shown one (Web Push Topic, FCM collapse key and tag, APNs collapse id). */
  collapseKey: string;
  /** What the user sees; null for a retraction. `body` is null when previews are off. */
  alert: { title: string; body: string | null } | null;
  /** The user's unread total for the app icon (the sum of `unread` over GET /chat); null on a retraction. */
  badge: number | null;
  /** What the app receives, e.g. `{type: 'message', conversationId, seq, messageId, senderId}`. Values are strings, numbers or null. */
  data: Record<string, string | number | null>;
  /** How long the push service keeps it for an unreachable device. */
  ttlSeconds: number;
}

/**
 * The outcome of one try. `invalidTarget`: the provider says the token or subscription is gone
 * (the device is deleted). `retry`: worth trying again later (429, 5xx, timeouts, network).
 */
export type PushOutcome = { ok: true } | { ok: false; retry: boolean; invalidTarget: boolean; error: string; retryAfterMs?: number };

/** One push provider; never throws, says what happened. */
export interface PushSender {
  readonly platform: PushTarget['platform'];
  send(target: PushTarget, notification: PushNotification): Promise<PushOutcome>;
  /** Releases connections (HTTP/2 sessions) on shutdown. */
  close?(): Promise<void>;
}
