import type { Scenario, ScenarioContext } from './scenario.js';

/*
 * The disruptions of issue 12. Each runs while every device keeps sending and a few keep blipping;
 * `verify` makes sure the disruption really happened (a scenario that did nothing would pass).
 */

/** Instance A dies (SIGKILL) or shuts down (SIGTERM); its clients move to B; A comes back and they move home. */
function instanceLoss(name: string, signal: 'SIGKILL' | 'SIGTERM', closeCode: number): Scenario {
  return {
    name,
    async disrupt({ cluster, note, sleep, rng, moveHome }) {
      note(`${signal} to instance A`);
      await cluster.signal(0, signal);
      note('A exited');
      await sleep(rng.int(300, 1000));
      await cluster.restart(0);
      note('A restarted and ready');
      await sleep(rng.int(100, 500));
      moveHome(0);
    },
    verify: ({ devices }) => {
      const closed = devices.filter((d) => d.sockets.some((s) => s.instance === 'A' && s.closedBy === 'server' && s.closeCode === closeCode)).length;
      const back = devices.filter((d) => d.instance === 'A').length;
      return [
        ...(closed >= 5 ? [] : [`only ${closed} devices saw their socket on A close with ${closeCode}`]),
        ...(back >= 5 ? [] : [`only ${back} devices are back on A at the end`]),
      ];
    },
  };
}

const FIREHOSE_BODY = 60_000;
/** Enough to fill the loopback TCP buffers of the paused reader and WS_MAX_BUFFERED_BYTES behind them. */
const FIREHOSE_BYTES = 24 * 1024 * 1024;

async function until(context: ScenarioContext, ms: number, done: () => boolean): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!done()) {
    if (Date.now() > deadline) return false;
    await context.sleep(20);
  }
  return true;
}

export const SCENARIOS: Scenario[] = [
  instanceLoss('sigkill', 'SIGKILL', 1006),
  instanceLoss('sigterm', 'SIGTERM', 1001),
  {
    name: 'redis-kill',
    async disrupt({ cluster, note, sleep, rng }) {
      await cluster.redis.kill();
      note('Redis killed');
      await sleep(rng.int(1500, 2500));
      await cluster.redis.start();
      note('Redis started again (empty)');
    },
  },
  {
    name: 'redis-pause',
    async disrupt({ cluster, note, sleep, rng }) {
      cluster.redis.pause();
      note('Redis paused (SIGSTOP)');
      await sleep(rng.int(2500, 3500));
      cluster.redis.resume();
      note('Redis resumed (SIGCONT)');
    },
  },
  {
    name: 'postgres-restart',
    async disrupt({ cluster, note }) {
      note('Postgres restart, immediate mode');
      await cluster.postgres.restart('immediate');
      note('Postgres accepting connections again');
    },
  },
  {
    name: 'slow-consumer',
    slowConsumer: true,
    async disrupt(context) {
      const { consumer, firehose, conversationId } = context.slow!;
      consumer.pauseReading();
      context.note(`${consumer.label} stops reading its socket`);
      for (let sent = 0; sent < FIREHOSE_BYTES; sent += FIREHOSE_BODY) {
        await until(context, 30_000, () => firehose.unacked().length < 4);
        firehose.sendMessage(conversationId, FIREHOSE_BODY);
      }
      await until(context, 30_000, () => firehose.unacked().length === 0);
      context.note(`${firehose.label} sent ${FIREHOSE_BYTES >> 20} MiB into their chat`);
      await context.sleep(500);
      consumer.resumeReading();
      context.note(`${consumer.label} reads again`);
      await until(context, 15_000, () => consumer.closeCodes.includes(1013));
      context.note(`${consumer.label} closes: ${consumer.closeCodes.join(',')}`);
    },
    verify: ({ slow }) => (slow!.consumer.closeCodes.includes(1013) ? [] : [`the paused consumer was not closed with 1013 (close codes: ${slow!.consumer.closeCodes.join(',') || 'none'})`]),
  },
  {
    name: 'abrupt-disconnects',
    async disrupt({ devices, note, sleep, rng }) {
      let dropped = 0;
      while (dropped < 100) {
        await sleep(rng.int(20, 160));
        const device = rng.pick(devices);
        if (!device.open) continue;
        device.drop('terminate');
        dropped += 1;
      }
      note(`${dropped} sockets terminated without a close frame`);
    },
  },
];

/** Under CPU starvation: steady traffic with blippers only, then abrupt disconnects (no restarts: start-up would take most of the budget). */
export const STARVED_SCENARIOS: Scenario[] = [
  {
    name: 'steady',
    async disrupt({ sleep, note }) {
      await sleep(8_000);
      note('8 s of steady traffic');
    },
  },
  SCENARIOS.find((s) => s.name === 'abrupt-disconnects')!,
];
