import { createHash } from 'node:crypto';
import { deleteInBatches } from '../../lib/in-batches.js';
import { sqlStateOf } from '../../db/errors.js';
import { isIP } from 'node:net';
import { AppError } from '../../errors.js';
import { isPublicAddress } from '../../lib/public-address.js';
import type { PushNotification, PushSender } from '../../providers/push/push-sender.js';
import type { Actor } from '../auth/tokens.js';
import type { DueDelivery, PushDeviceRow, PushRepository } from './push.repository.js';
import type { PushOutcomeLabel } from './push.metrics.js';
import { type Handled, createPushWorker } from './push.worker.js';

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
  /** Pushes in flight at once per platform, per instance. */
  concurrency: number;
  /** How long a claimed delivery stays with its worker; past it (a crash), another may send it again, which replaces (collapse key, apns-id). */
  leaseMs: number;
}

/** SQLSTATE lock_not_available: lock_timeout ran out. */
const LOCK_NOT_AVAILABLE = '55P03';
/** Characters of text a push shows: a notification shows a few lines, and APNs refuses payloads over 4 KB. */
const ALERT_BODY_MAX = 240;
const clip = (text: string, max: number): string => {
  const chars = [...text];
  return chars.length <= max ? text : `${chars.slice(0, max - 1).join('')}…`;
};

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

/** A stable UUID for one message to one device: every try of it carries the same id (APNs apns-id). */
export function deliveryUuid(messageId: string, deviceId: string): string {
  const hex = createHash('sha256').update(`${messageId}/${deviceId}`).digest('hex');
  // Version 8 (custom), variant 10.
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-${((parseInt(hex[16]!, 16) & 0x3) | 0x8).toString(16)}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/**
 * Backoff before try `attempt + 1`: exponential from 2 s, capped at 10 min, jittered over its upper half
 * (1-2 s, then 2-4 s, ...). Never sooner than 1 s: FCM asks for at least that before a retry, and a
 * retry within milliseconds of a 503 only adds to the provider's load.
 */
export const backoffMs = (attempt: number, random = Math.random) => {
  const ceiling = Math.min(600_000, 2000 * 2 ** (attempt - 1));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
};

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
  /** Recipients' unread totals, for the badge (ConversationPresenter.unreadTotals). */
  unreadTotals: (userIds: string[]) => Promise<Map<string, number>>;
  /** Told each delivery's outcome (metrics). */
  observe?: (platform: PushDeviceRow['platform'], outcome: PushOutcomeLabel) => void;
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

  /** The push for a delivery; `badge`: the recipient's unread total (messages only). */
  function notificationOf(delivery: DueDelivery, badge: number | null): PushNotification {
    const { message } = delivery;
    const common = {
      id: deliveryUuid(delivery.messageId, delivery.deviceId),
      // One notification per conversation on the device: the next replaces it (Web Push Topic, FCM collapse key, APNs collapse id).
      collapseKey: createHash('sha256').update(message.conversationId).digest('base64url').slice(0, 32),
      ttlSeconds: TTL_SECONDS,
    };
    const about = { conversationId: message.conversationId, seq: message.seq, messageId: message.id };
    if (delivery.kind === 'retract') return { ...common, kind: 'retract', alert: null, badge: null, data: { type: 'message.deleted', ...about } };
    const group = message.conversationKind !== 'direct';
    const text = message.type === 'text' ? message.body : `[${message.type}]`;
    const preview = config.preview && delivery.preview;
    return {
      ...common,
      kind: 'message',
      alert: preview
        ? { title: clip(group && message.conversationTitle ? message.conversationTitle : message.senderName, 100), body: text === null ? null : clip(group ? `${message.senderName}: ${text}` : text, ALERT_BODY_MAX) }
        : { title: 'New message', body: null },
      badge,
      data: { type: 'message', ...about, ...(preview ? { senderId: message.senderId } : {}) },
    };
  }

  /** Sends one claimed delivery (claimDue settled the skipped ones) and says what to record; never throws. */
  async function handle(delivery: DueDelivery, badge: number | null): Promise<Handled> {
    const settled = (outcome: 'sent' | 'failed', error: string | null = null): Handled => ({ outcome, settlement: { ...delivery, state: outcome, error } });
    const retried = (error: string, afterMs = 0): Handled =>
      delivery.attempts < config.maxAttempts
        ? { outcome: 'retry', settlement: { ...delivery, state: 'retry', error, retryAt: new Date(Date.now() + Math.max(afterMs, backoffMs(delivery.attempts))) } }
        : settled('failed', error);
    const sender = senders.get(delivery.device.platform);
    if (!sender) return settled('failed', `no ${delivery.device.platform} provider`);
    try {
      const outcome = await sender.send(delivery.device, notificationOf(delivery, badge));
      if (outcome.ok) return settled('sent');
      if (outcome.invalidTarget) {
        await push.removeById(delivery.deviceId);
        return { outcome: 'pruned', settlement: null };
      }
      return outcome.retry ? retried(outcome.error, outcome.retryAfterMs) : settled('failed', outcome.error);
    } catch (error) {
      // A sender never throws; building the notification or removeById (the database) can: tried
      // again with backoff, and dropped after PUSH_MAX_ATTEMPTS like any other failure.
      deps.log.warn({ err: error }, 'push delivery failed');
      return retried('internal error');
    }
  }

  let summarizeWarned = false;
  const worker = createPushWorker({
    repository: push,
    handle,
    badges: deps.unreadTotals,
    observe: deps.observe ?? (() => {}),
    plan: () => service.plan(),
    config,
    log: deps.log,
  });

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
    async plan(): Promise<number> {
      const planned = await push.plan(config.graceMs);
      if (planned === null) return 0;
      // The instance that planned keeps the index its next round reads small.
      await push.summarizeMessageIndex().catch((error: unknown) => {
        if (sqlStateOf(error) === LOCK_NOT_AVAILABLE) return; // a vacuum (or another instance) is at it
        // Not the owner of the table (migrations ran as another role): planning still works, reading more.
        if (!summarizeWarned) deps.log.warn({ err: error }, 'summarizing the messages index failed (planning pushes reads more messages until it succeeds)');
        summarizeWarned = true;
      });
      return planned;
    },

    /** Claims and sends everything due now and waits until it is recorded; answers how each went. */
    sendDue: (): Promise<Record<string, number>> => worker.sendDue(),

    /** Forgets deliveries settled (sent, skipped, failed) more than a day ago, in batches; answers how many. */
    sweepSettled: (batch = 1000): Promise<number> => deleteInBatches(batch, (n) => push.sweepSettled(new Date(Date.now() - 86_400_000), n)),

    /** One round of the worker: plan, then send what is due. */
    async runOnce(): Promise<{ planned: number; outcomes: Record<string, number> }> {
      const planned = await service.plan();
      return { planned, outcomes: await service.sendDue() };
    },

    /** Runs the worker (plans and sends every PUSH_POLL_MS) until stop(). */
    start: (): void => worker.start(),

    /** Stops the worker, waits for the sends in flight, and closes the providers' connections. */
    async stop(): Promise<void> {
      await worker.stop();
      await Promise.all([...senders.values()].map((sender) => sender.close?.()));
    },
  };
  return service;
}

export type PushService = ReturnType<typeof createPushService>;
