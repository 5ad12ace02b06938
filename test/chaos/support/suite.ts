import type { Test } from 'tap';
import { type ChaosCluster, type ClusterOptions, startCluster } from './cluster.js';
import { FAILURE_TITLES, type FailureKind } from './invariants.js';
import { prng } from './prng.js';
import { type RunOptions, type Scenario, runScenario } from './scenario.js';

/*
 * A chaos test file: one cluster, the scenarios in order, the invariants asserted after each.
 *
 * CHAOS_SEED (default 1) seeds every timing decision; CHAOS_DURATION_S turns the file into a soak
 * (the scenarios run in rounds, each with seeds derived from CHAOS_SEED and the round, until that many
 * seconds have passed); CHAOS_SCENARIOS=sigkill,redis-kill runs only those; CHAOS_RATE sets the total
 * sends per second (default: 50 in delivery, 15 in starvation).
 */

const int = (name: string, fallback: number): number => {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got ${JSON.stringify(raw)}`);
  return n;
};

export interface SuiteOptions {
  cluster?: ClusterOptions;
  scenarios: Scenario[];
  run: Omit<RunOptions, 'seed' | 'rate'> & { rate?: number };
  /** The per-file budget of one round (tap's timeout for this file is raised to it). */
  budgetMs: number;
  /** Runs once the cluster is up (e.g. starts a CPU hog); its result runs at teardown. */
  around?: (cluster: ChaosCluster) => () => void;
}

export async function chaosSuite(t: Test, options: SuiteOptions): Promise<void> {
  const seed = int('CHAOS_SEED', 1);
  const durationS = int('CHAOS_DURATION_S', 0);
  const rate = int('CHAOS_RATE', options.run.rate ?? 50);
  const only = process.env.CHAOS_SCENARIOS?.split(',').filter(Boolean);
  const scenarios = only ? options.scenarios.filter((s) => only.includes(s.name)) : options.scenarios;
  if (scenarios.length === 0) throw new Error(`CHAOS_SCENARIOS names none of ${options.scenarios.map((s) => s.name).join(', ')}`);
  t.setTimeout(options.budgetMs + durationS * 1000 + (durationS > 0 ? options.budgetMs : 0));

  const starting = Date.now();
  const cluster = await startCluster(options.cluster);
  t.comment(`cluster up in ${((Date.now() - starting) / 1000).toFixed(1)} s: Postgres ${cluster.postgres.port}, Redis ${cluster.redis.url}, instances ${cluster.endpoints.map((e) => e.url).join(' ')}`);
  t.teardown(() => cluster.close());
  const after = options.around?.(cluster);
  if (after) t.teardown(after);

  const totals = new Map<string, number>();
  const add = (key: string, n: number) => totals.set(key, (totals.get(key) ?? 0) + n);
  const until = Date.now() + durationS * 1000;
  for (let round = 0; round === 0 || Date.now() < until; round++) {
    for (const scenario of scenarios) {
      const scenarioSeed = Math.floor(prng(seed).fork(`${round}/${scenario.name}`).next() * 2 ** 31);
      await t.test(`${scenario.name} (CHAOS_SEED=${seed}${round > 0 ? ` round ${round}` : ''})`, async (t) => {
        const result = await runScenario(cluster, scenario, { ...options.run, rate, seed: scenarioSeed });
        const { counts, diagnoses, figures } = result.report;
        t.comment(`${scenario.name}: ${Object.entries(figures).map(([k, v]) => `${k} ${v}`).join(', ')}; ${(result.elapsedMs / 1000).toFixed(1)} s`);
        t.same(result.problems, [], 'the disruption happened as planned', { timeline: result.timeline });
        t.ok(Number(figures.acked) > 0, 'messages were acknowledged');
        for (const kind of Object.keys(FAILURE_TITLES) as FailureKind[]) {
          t.equal(counts[kind], 0, `none: ${FAILURE_TITLES[kind]}`, { diagnosis: diagnoses[kind], timeline: result.timeline });
        }
        t.ok(result.settled, 'every send acknowledged and every device caught up within the settle time', { timeline: result.timeline });
        add('scenarios', 1);
        add('messages', Number(figures.stored));
        add('reconnects', Number(figures.reconnects));
        add('deliveries', Number(figures.deliveries));
        add('repeats', counts.repeat);
        add('reorderings', counts.reorder);
        add('lost', counts.lost + counts.hole);
      });
    }
  }
  t.comment(`totals: ${[...totals].map(([k, v]) => `${k} ${v}`).join(', ')}`);
}
