import t from 'tap';
import { STARVED_SCENARIOS } from './support/scenarios.js';
import { startCpuHog } from './support/services.js';
import { chaosSuite } from './support/suite.js';

/*
 * The chaos invariants under CPU starvation (issue 12, case 3 appeared only under contention): both
 * instances pinned to CPU 0 (`taskset -c 0`) beside a busy loop pinned there too, so each gets about
 * a third of one core, while the clients, Postgres and Redis run on the rest of the machine.
 */
await chaosSuite(t, {
  cluster: { launcher: ['taskset', '-c', '0'] },
  scenarios: STARVED_SCENARIOS,
  run: { warmupMs: 1000, tailMs: 1000, settleMs: 30_000, blippers: 3, rate: 30 },
  budgetMs: 150_000,
  around: () => {
    const hog = startCpuHog(0, 300);
    return () => hog.stop();
  },
});
