import { createHash } from 'node:crypto';
import { deleteInBatches } from '../../lib/in-batches.js';
import { isIP } from 'node:net';
import { AppError } from '../../errors.js';
import { isPublicAddress } from '../../lib/public-address.js';
import type { PushNotification, PushSender } from '../../providers/push/push-sender.js';
import type { Actor } from '../auth/tokens.js';
import type { DueDelivery, PushDeviceRow, PushRepository } from './push.repository.js';

export type PushDeviceInput =
  | { platform: 'webpush'; subscription: { endpoint: string; keys: { p256dh: string; auth: string } }; appId?: string; locale?: string }
  | { platform: 'fcm' | 'apns'; token: string; appId?: string; locale?: string };

export interface PushConfig {
  preview: boolean;
  graceMs: number;
  pollMs: number;
  maxAttempts: number;
  maxDevicesPerUser: number;
  allowPrivateEndpoints: boolean;
}

/** How long a claimed delivery stays with its worker; past it (a crash), another may send it again, which replaces (collapse key). */
const LEASE_MS = 60_000;
const BATCH = 100;
/** A push service keeps an undeliverable push this long. */
const TTL_SECONDS = 24 * 3600;

export const toPushDevice = (row: PushDeviceRow, actor: Actor) => ({
  id: row.id,
  platform: row.platform,
  appId: row.appId,
  locale: row.locale,
  current: row.sessionId === actor.sessionId,
  createdAt: row.createdAt.toISOString(),
});

/** Backoff before try `attempt + 1`: exponential from 2 s, capped at 10 min, with full jitter. */
export const backoffMs = (attempt: number, random = Math.random) => Math.round(random() * Math.min(600_000, 2000 * 2 ** (attempt - 1)));

/**
 * Push notifications: devices registered per session, and a worker on every instance that turns new
 * messages into deliveries (see PushRepository.plan) and sends the due ones through the provider of
 * each platform, with retries, pruning of devices the provider says are gone, and a lease so two
 * instances never both send one.
 */
export function createPushService(deps: {
  push: PushRepository;
  senders: ReadonlyMap<PushDeviceRow['platform'], PushSender>;
  vapidPublicKey: () => Promise<string | undefined>;
  config: PushConfig;
  log: { warn: (details: object, message: string) => void };
}) {
  const { push, senders, config } = deps;

  /**
   * A Web Push endpoint must be https, without credentials, and not name a private address (an IP
   * literal in a private range, localhost). Names are not resolved here (a lookup could hang, and
   * what a name resolves to can change): the sender's connections only ever reach public addresses,
   * and a device whose endpoint resolves elsewhere is deleted at its first push.
   */
  function checkEndpoint(endpoint: string): void {
    let url: URL;
    try {
      url = new URL(endpoint);
    } catch {
      throw new AppError('PUSH_ENDPOINT_REFUSED', 'The endpoint is not a URL');
    }
    if (url.protocol !== 'https:' || url.username || url.password) throw new AppError('PUSH_ENDPOINT_REFUSED', 'The endpoint must be an https URL without credentials');
    if (config.allowPrivateEndpoints) return;
    const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
    const literal = isIP(host) !== 0;
    if ((literal && !isPublicAddress(host)) || host === 'localhost' || host.endsWith('.localhost') || !host.includes('.')) {
      throw new AppError('PUSH_ENDPOINT_REFUSED', 'The endpoint must be on a public address');
    }
  }

  function notificationOf(delivery: DueDelivery): PushNotification {
    const { message } = delivery;
    const group = message.conversationKind !== 'direct';
    const text = message.type === 'text' ? message.body : `[${message.type}]`;
    const content = config.preview
      ? { title: group && message.conversationTitle ? message.conversationTitle : message.senderName, body: group ? `${message.senderName}: ${text ?? ''}` : text, senderId: message.senderId }
      : { title: 'New message', body: null };
    return {
      // One notification per conversation on the device: the next replaces it (Web Push Topic, FCM collapse key, APNs collapse id).
      collapseKey: createHash('sha256').update(message.conversationId).digest('base64url').slice(0, 32),
      payload: { type: 'message', conversationId: message.conversationId, seq: message.seq, messageId: delivery.messageId, ...content },
      ttlSeconds: TTL_SECONDS,
    };
  }

  async function deliver(delivery: DueDelivery): Promise<'sent' | 'skipped' | 'retry' | 'failed' | 'pruned'> {
    if (delivery.skip) {
      await push.settle(delivery.messageId, delivery.deviceId, 'skipped', delivery.skip);
      return 'skipped';
    }
    const sender = senders.get(delivery.device.platform);
    if (!sender) {
      await push.settle(delivery.messageId, delivery.deviceId, 'failed', `no ${delivery.device.platform} provider`);
      return 'failed';
    }
    const outcome = await sender.send(delivery.device, notificationOf(delivery));
    if (outcome.ok) {
      await push.settle(delivery.messageId, delivery.deviceId, 'sent');
      return 'sent';
    }
    if (outcome.invalidTarget) {
      await push.removeById(delivery.deviceId);
      return 'pruned';
    }
    if (outcome.retry && delivery.attempts < config.maxAttempts) {
      const wait = Math.max(outcome.retryAfterMs ?? 0, backoffMs(delivery.attempts));
      await push.retryAt(delivery.messageId, delivery.deviceId, new Date(Date.now() + wait), outcome.error);
      return 'retry';
    }
    await push.settle(delivery.messageId, delivery.deviceId, 'failed', outcome.error);
    return 'failed';
  }

  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> | undefined;

  const service = {
    async vapidKey(): Promise<{ publicKey: string }> {
      const publicKey = await deps.vapidPublicKey();
      if (!publicKey) throw new AppError('PUSH_PLATFORM_UNAVAILABLE', 'Web Push is not available');
      return { publicKey };
    },

    async register(actor: Actor, input: PushDeviceInput) {
      if (!senders.has(input.platform)) throw new AppError('PUSH_PLATFORM_UNAVAILABLE', `This server sends no ${input.platform} pushes`);
      const base = { userId: actor.userId, sessionId: actor.sessionId, platform: input.platform, appId: input.appId ?? null, locale: input.locale ?? null };
      let device;
      if (input.platform === 'webpush') {
        checkEndpoint(input.subscription.endpoint);
        device = { ...base, token: input.subscription.endpoint, p256dh: input.subscription.keys.p256dh, auth: input.subscription.keys.auth };
      } else {
        device = { ...base, token: input.token, p256dh: null, auth: null };
      }
      const row = await push.register(device, config.maxDevicesPerUser);
      if (!row) throw new AppError('PUSH_DEVICE_LIMIT_REACHED', `At most ${config.maxDevicesPerUser} push devices`, { max: config.maxDevicesPerUser });
      return toPushDevice(row, actor);
    },

    async list(actor: Actor) {
      await push.removeOfEndedSessions(actor.userId);
      return { items: (await push.listByUser(actor.userId)).map((row) => toPushDevice(row, actor)) };
    },

    async remove(actor: Actor, id: string): Promise<void> {
      if (!(await push.remove(actor.userId, id))) throw new AppError('NOT_FOUND', 'No such push device');
    },

    /** Turns messages committed since the last round into deliveries; answers how many (0 when another instance is at it). */
    plan: async (): Promise<number> => (await push.plan(config.graceMs)) ?? 0,

    /** Claims and sends a batch of due deliveries; answers how each went. */
    async sendDue(): Promise<Record<string, number>> {
      const outcomes: Record<string, number> = {};
      for (const delivery of await push.claimDue(BATCH, LEASE_MS)) {
        const outcome = await deliver(delivery);
        outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
      }
      return outcomes;
    },

    /** Forgets deliveries settled (sent, skipped, failed) more than a day ago, in batches; answers how many. */
    sweepSettled: (batch = 1000): Promise<number> => deleteInBatches(batch, (n) => push.sweepSettled(new Date(Date.now() - 86_400_000), n)),

    /** One round of the worker: plan, then send what is due. */
    async runOnce(): Promise<{ planned: number; outcomes: Record<string, number> }> {
      const planned = await service.plan();
      return { planned, outcomes: await service.sendDue() };
    },

    /** Runs the worker every `pollMs` until stop(); a failed round is logged and the next one tries again. */
    start(): void {
      if (timer) return;
      timer = setInterval(() => {
        if (running) return;
        running = service
          .runOnce()
          .catch((error: unknown) => deps.log.warn({ err: error }, 'push round failed'))
          .finally(() => {
            running = undefined;
          });
      }, config.pollMs);
      timer.unref();
    },

    async stop(): Promise<void> {
      clearInterval(timer);
      timer = undefined;
      await running;
    },
  };
  return service;
}

export type PushService = ReturnType<typeof createPushService>;
