import { Counter, Gauge, type Registry } from 'prom-client';
import type { PushDeviceRow } from './push.repository.js';

export type PushOutcomeLabel = 'sent' | 'skipped' | 'retry' | 'failed' | 'pruned';

/**
 * The push worker's metrics: `push_deliveries_total{platform, outcome}` (sent, retry, failed,
 * pruned, skipped), and the outbox, read from the database when scraped: `push_outbox_depth`
 * (pending pushes, due or not) and `push_outbox_oldest_seconds` (how long the oldest due one has
 * waited; alert when it grows).
 */
export function createPushMetrics(registry: Registry, outbox: () => Promise<{ depth: number; oldestDueSeconds: number }>) {
  const deliveries = new Counter({
    name: 'push_deliveries_total',
    help: 'Push deliveries handled by the worker, by platform and outcome (sent, retry, failed, pruned: device deleted as gone, skipped: no longer wanted).',
    labelNames: ['platform', 'outcome'] as const,
    registers: [registry],
  });
  let reading: Promise<{ depth: number; oldestDueSeconds: number }> | undefined;
  // Both gauges come from one query per scrape.
  const read = () => (reading ??= outbox().finally(() => setImmediate(() => (reading = undefined))));
  new Gauge({
    name: 'push_outbox_depth',
    help: 'Pushes waiting in the outbox (pending, due or not).',
    registers: [registry],
    async collect() {
      this.set((await read()).depth);
    },
  });
  new Gauge({
    name: 'push_outbox_oldest_seconds',
    help: 'Seconds the oldest due push has waited past its due time (0 when none is due).',
    registers: [registry],
    async collect() {
      this.set((await read()).oldestDueSeconds);
    },
  });
  return {
    observe(platform: PushDeviceRow['platform'], outcome: PushOutcomeLabel): void {
      deliveries.inc({ platform, outcome });
    },
  };
}
