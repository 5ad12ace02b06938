import { randomUUID } from 'node:crypto';
import { createCoalescer } from '../../lib/coalescer.js';
import { pushPlatforms } from '../../db/schema.js';
import { type DueDelivery, type PushDeviceRow, type PushRepository, type Settlement, heldKey } from './push.repository.js';
import type { PushOutcomeLabel } from './push.metrics.js';

type Platform = PushDeviceRow['platform'];

/** What became of one delivery: its outcome, and what to record (null when nothing is left to record, e.g. the device was deleted). */
export interface Handled {
  outcome: PushOutcomeLabel;
  settlement: Settlement | null;
}

export interface PushWorkerConfig {
  pollMs: number;
  leaseMs: number;
  /** Pushes in flight at once per platform. */
  concurrency: number;
}

/** Most deliveries one claim takes. */
const CLAIM_MAX = 100;

/**
 * The push worker of one instance. Every PUSH_POLL_MS it plans (turns new messages into
 * deliveries, PushRepository.plan); and per platform a pump keeps up to `concurrency` pushes in
 * flight, claiming due deliveries (up to CLAIM_MAX at once) when a slot is free and nothing waits
 * for one. So a slow or hung provider holds its own slots and what one claim queued for them, and
 * nothing else: other platforms, planning and, through the free slots, the rest of its own outbox go
 * on.
 *
 * A claim is a lease (PUSH_LEASE_MS) renewed while its sends run: a worker that dies stops renewing
 * and another instance claims its deliveries when the lease runs out. Outcomes are recorded under the
 * claim, in one statement for those that end together (a coalescer): a worker that outlived its lease
 * (stalled past it) records nothing over the new holder's claim.
 */
export function createPushWorker(deps: {
  repository: Pick<PushRepository, 'plan' | 'claimDue' | 'settle' | 'renew'>;
  /** Sends one claimed delivery (never a skipped one); `badge`: its recipient's unread total. Must not throw. */
  handle: (delivery: DueDelivery, badge: number | null) => Promise<Handled>;
  /** The unread totals of the recipients of a claim, for their badges. */
  badges: (userIds: string[]) => Promise<Map<string, number>>;
  observe: (platform: Platform, outcome: PushOutcomeLabel) => void;
  plan: () => Promise<number>;
  config: PushWorkerConfig;
  log: { warn: (details: object, message: string) => void };
}) {
  const { repository, config, log } = deps;
  const settler = createCoalescer<Settlement, void>(async (settlements) => {
    await repository.settle(settlements);
    return settlements.map(() => undefined);
  }, { maxBatch: 500, maxInFlight: 1 });
  /** Outcome tallies of the sendDue calls in progress. */
  const tallies = new Set<Record<string, number>>();

  function createPump(platform: Platform) {
    /** Deliveries not yet recorded under each claim (their leases are renewed). */
    const claims = new Map<string, number>();
    /** Claimed deliveries waiting for a slot, with their badge. */
    const queue: Array<{ delivery: DueDelivery; badge: number | null }> = [];
    /** Provider requests in flight: at most `concurrency`. */
    let sending = 0;
    /** Claimed deliveries whose outcome is not recorded yet (queued, sending, or being recorded). */
    let unrecorded = 0;
    /** One claim at a time. */
    let claiming: Promise<number> | undefined;
    /** The last claim was full: more may be due now. */
    let backlog = false;
    const waiters: Array<() => void> = [];
    const changed = () => waiters.splice(0).forEach((wake) => wake());

    /** Starts queued deliveries while slots are free. */
    function startQueued(): void {
      while (sending < config.concurrency && queue.length > 0) {
        const { delivery, badge } = queue.shift()!;
        sending++;
        void run(delivery, badge)
          .catch((error: unknown) => log.warn({ err: error, platform }, 'push delivery failed'))
          .finally(() => recorded(delivery.claim));
      }
    }

    /** Sends one delivery in a slot, then records its outcome (the slot is already free meanwhile). */
    async function run(delivery: DueDelivery, badge: number | null): Promise<void> {
      let handled: Handled;
      try {
        handled = await deps.handle(delivery, badge);
      } finally {
        sending--;
        startQueued();
        changed();
        claimMoreIfDue();
      }
      if (handled.settlement) await settler.submit(handled.settlement).catch((error: unknown) => log.warn({ err: error }, 'recording push outcomes failed (the lease runs out and they are tried again)'));
      counted(handled.outcome);
    }

    function counted(outcome: PushOutcomeLabel): void {
      deps.observe(platform, outcome);
      for (const tally of tallies) tally[outcome] = (tally[outcome] ?? 0) + 1;
    }

    function recorded(claim: string): void {
      unrecorded--;
      const left = claims.get(claim)! - 1;
      if (left === 0) claims.delete(claim);
      else claims.set(claim, left);
      changed();
    }

    /** While running: claims again at once when the last claim was full and there is room for more. */
    function claimMoreIfDue(): void {
      if (running && backlog && queue.length === 0 && sending < config.concurrency) void pump.claim().catch((error: unknown) => log.warn({ err: error, platform }, 'claiming pushes failed'));
    }

    /**
     * Claims up to CLAIM_MAX due deliveries when a slot is free and nothing waits for one: skipped
     * ones are settled by the claim, the rest wait in the queue for slots (under the renewed lease).
     * Large claims keep the claim statements, each a commit, few.
     */
    async function claimOnce(): Promise<number> {
      if (queue.length > 0 || sending >= config.concurrency) return 0;
      const claim = randomUUID();
      const claimed = await repository.claimDue(platform, CLAIM_MAX, config.leaseMs, claim);
      backlog = claimed.length === CLAIM_MAX;
      for (const delivery of claimed) if (delivery.skip !== null) counted('skipped'); // settled by the claim itself
      const batch = claimed.filter((d) => d.skip === null);
      if (batch.length === 0) return claimed.length;
      claims.set(claim, batch.length); // renewed from now on
      unrecorded += batch.length;
      const recipients = [...new Set(batch.filter((d) => d.kind === 'message').map((d) => d.userId))];
      const badge = await deps.badges(recipients).catch((error: unknown) => {
        log.warn({ err: error }, 'reading badges failed (pushes go without one)');
        return new Map<string, number>();
      });
      for (const delivery of batch) queue.push({ delivery, badge: badge.get(delivery.userId) ?? null });
      startQueued();
      return claimed.length;
    }

    /**
     * Gives up queued deliveries: those `lost` says (taken over by another worker after a lease ran
     * out), or all of them (no `lost`, on stop: put back, due now, for any instance).
     */
    async function dropQueued(lost?: (delivery: DueDelivery) => boolean): Promise<void> {
      const dropped = lost ? queue.filter((q) => lost(q.delivery)) : queue.slice();
      if (dropped.length === 0) return;
      queue.splice(0, queue.length, ...queue.filter((q) => !dropped.includes(q)));
      await Promise.all(
        dropped.map(async ({ delivery }) => {
          if (!lost) await settler.submit({ ...delivery, state: 'retry', error: 'put back: the worker stopped', retryAt: new Date() }).catch((error: unknown) => log.warn({ err: error }, 'putting back queued pushes failed (their lease runs out)'));
          recorded(delivery.claim);
        }),
      );
    }

    const pump = {
      platform,
      claims,
      dropQueued,
      /** Claims what is due (see claimOnce); answers how many deliveries it claimed, skipped ones included. */
      claim(): Promise<number> {
        claiming ??= claimOnce().finally(() => {
          claiming = undefined;
          claimMoreIfDue(); // room made while it ran
        });
        return claiming;
      },
      /** The claim in progress, if any. */
      get claiming(): Promise<number> | undefined {
        return claiming;
      },
      /** Resolves when a slot frees or an outcome is recorded (at once when nothing is claimed). */
      nextChange(): Promise<void> {
        return unrecorded === 0 ? Promise.resolve() : new Promise((resolve) => waiters.push(resolve));
      },
      get unrecorded() {
        return unrecorded;
      },
    };
    return pump;
  }

  const pumps = pushPlatforms.map(createPump);
  const claimAll = () => Promise.all(pumps.map((pump) => pump.claim().catch((error: unknown) => log.warn({ err: error, platform: pump.platform }, 'claiming pushes failed'))));

  let timers: NodeJS.Timeout[] = [];
  /** Between start() and stop(): a freed slot claims more at once when more is due. */
  let running = false;
  let ticking: Promise<unknown> | undefined;

  /** Renews the leases of every claim with deliveries not yet recorded; queued ones of a claim lost meanwhile are not sent. */
  async function renew(): Promise<void> {
    const asked = pumps.flatMap((pump) => [...pump.claims.keys()]);
    const held = await repository.renew(asked, config.leaseMs).catch((error: unknown) => {
      log.warn({ err: error }, 'renewing push leases failed');
      return undefined;
    });
    if (!held) return;
    const renewed = new Set(asked);
    await Promise.all(pumps.map((pump) => pump.dropQueued((delivery) => renewed.has(delivery.claim) && !held.has(heldKey(delivery)))));
  }

  async function tick(): Promise<void> {
    await deps.plan().catch((error: unknown) => log.warn({ err: error }, 'planning pushes failed'));
    await claimAll();
  }

  return {
    /**
     * Claims and sends everything due now, platform by platform with its concurrency, and waits until
     * all of it is recorded; answers how each went (tests and tools; the running worker does this on
     * its own).
     */
    async sendDue(): Promise<Record<string, number>> {
      const tally: Record<string, number> = {};
      tallies.add(tally);
      try {
        await Promise.all(
          pumps.map(async (pump) => {
            for (;;) {
              if ((await pump.claim()) > 0) continue;
              if (pump.unrecorded === 0) return;
              await pump.nextChange();
            }
          }),
        );
      } finally {
        tallies.delete(tally);
      }
      return tally;
    },

    /** Plans and claims every PUSH_POLL_MS, and renews the leases of sends in flight, until stop(). */
    start(): void {
      if (running) return;
      running = true;
      const every = (ms: number, task: () => Promise<unknown>) => {
        let inProgress: Promise<unknown> | undefined;
        const timer = setInterval(() => {
          inProgress ??= task().finally(() => (inProgress = undefined));
        }, ms);
        timer.unref();
        return timer;
      };
      timers = [
        every(config.pollMs, () => (ticking = tick())),
        every(Math.max(100, Math.floor(config.leaseMs / 3)), renew),
      ];
    },

    /**
     * Stops claiming, puts back what is queued (due now, for any instance), and waits for the round,
     * the claims and the sends in flight (each bounded by the provider timeout), renewing their
     * leases until they end.
     */
    async stop(): Promise<void> {
      running = false;
      const [tickTimer, ...renewal] = timers;
      clearInterval(tickTimer);
      await ticking;
      await Promise.all(
        pumps.map(async (pump) => {
          await pump.claiming?.catch(() => {});
          await pump.dropQueued();
          while (pump.unrecorded > 0) await pump.nextChange();
        }),
      );
      for (const timer of renewal) clearInterval(timer);
      timers = [];
    },
  };
}

export type PushWorker = ReturnType<typeof createPushWorker>;
