/** Where a push goes (a registered device). */
export interface PushTarget {
  platform: 'fcm' | 'apns' | 'webpush';
  /** FCM/APNs device token, or the Web Push endpoint. */
  token: string;
  p256dh: string | null;
  auth: string | null;
  appId: string | null;
}

export interface PushNotification {
  /**
   * Same for every try of one message to one device; and pushes of one conversation share `collapseKey`,
   * so the device shows one notification per conversation that the next one replaces (and a retry
   * after an unknown outcome replaces rather than adds).
   */
  collapseKey: string;
  /** What the client receives (JSON). */
  payload: Record<string, unknown>;
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
}
