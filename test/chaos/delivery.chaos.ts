import t from 'tap';
import { SCENARIOS } from './support/scenarios.js';
import { chaosSuite } from './support/suite.js';

/*
 * Issue 12's chaos test: two instances on a Postgres and a Redis this file owns; SIGKILL and SIGTERM
 * of an instance, Redis killed and paused, Postgres restarted, a consumer that stops reading, 100
 * abrupt disconnects; after each: every acked message stored once, seqs gapless, every socket got
 * every seq after its resume point once and in order, nothing acked lost. `npm run test:chaos`.
 */
await chaosSuite(t, {
  scenarios: SCENARIOS,
  run: { warmupMs: 1500, tailMs: 2000, settleMs: 30_000, blippers: 3, rate: 50 },
  budgetMs: 240_000,
});
