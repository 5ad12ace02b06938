/**
 * REST throughput of one instance against the floor: bare Fastify + pg answering the same reads from
 * the same database, in the same run, so the ratio holds on a noisy machine.
 *
 *   npx tsx bench/rest.ts                         # 5 s per case, 16 connections, 2 rounds (app, bare, app, bare)
 *   npx tsx bench/rest.ts --seconds 10 --rounds 3
 *   npx tsx bench/rest.ts --cases me,history --cpu-prof   # V8 profile of the instance, top self time per case
 *   npx tsx bench/rest.ts --cases live --keep-database    # seeded, then kept to try queries on (EXPLAIN)
 *
 * What it does: a scratch Postgres database next to DATABASE_URL (default
 * postgres://postgres@127.0.0.1:5432/postgres), one app instance as a child process (the production
 * build, dist/server.js, built first if stale; Redis at REDIS_URL, default the local one, with a key
 * prefix of its own; LOG_LEVEL=warn; rate limit raised out of the way but still counted in Redis, as
 * in production; pool of 10), and bench/rest-baseline.ts as another child process on the same
 * database with a pool of 10. Seeds --connections users, each in a direct chat with a partner (60
 * messages sent through POST /message) and in 20 more direct chats with one message each. The load
 * generator (autocannon, in this process, on the same two cores) keeps --connections keep-alive
 * connections busy, one user per connection.
 *
 * Cases (the app's route, then the floor's):
 *   live     GET /health/live                    vs GET /bare ({ok: true})
 *   me       GET /api/v1/users/me                vs GET /users/:id (the user row)
 *   history  GET /api/v1/message/chat/:id?limit=50 vs GET /history/:id (the same 50 messages)
 *   inbox    GET /api/v1/chat                    vs GET /inbox/:userId (the member rows and their conversations)
 *   send     POST /api/v1/message                (no floor: the target is an absolute rate)
 * Each line is one JSON object per measured run, then a table with the medians per case and the
 * app/floor ratio. Every answer must be 2xx: a case with any other is marked not ok.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { cleanUpOnAbort, intOption } from './cli.js';
import {
  type Instance,
  type Scratch,
  cpuPercent,
  cpuSnapshot,
  memoryOf,
  mib,
  monotonicMicros,
  pool,
  profileFiles,
  profileHotSpots,
  round,
  scratchDatabase,
  seedDirects,
  seedUsers,
  sleep,
  startInstance,
  stopInstance,
  untilReady,
} from './ws-support.js';

const CASES = ['live', 'me', 'history', 'inbox', 'send'] as const;
type Case = (typeof CASES)[number];

const { values: options } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    connections: { type: 'string', default: '16' },
    rounds: { type: 'string', default: '2' },
    cases: { type: 'string', default: CASES.join(',') },
    'cpu-prof': { type: 'boolean', default: false },
    'keep-database': { type: 'boolean', default: false },
    'timeout-minutes': { type: 'string', default: '15' },
    help: { type: 'boolean', default: false },
  },
});
if (options.help) {
  console.log('npx tsx bench/rest.ts [--seconds 5] [--connections 16] [--rounds 2] [--cases live,me,history,inbox,send] [--cpu-prof] [--keep-database] [--timeout-minutes 15]');
  process.exit(0);
}
const seconds = intOption('seconds', options.seconds);
const connections = intOption('connections', options.connections);
const rounds = intOption('rounds', options.rounds);
const cases = options.cases!.split(',') as Case[];
for (const name of cases) if (!CASES.includes(name)) throw new Error(`--cases: unknown case ${name} (known: ${CASES.join(', ')})`);
const baseUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const APP_PORT = 18450;
const BARE_PORT = 18451;
const profDir = options['cpu-prof'] ? mkdtempSync(join(tmpdir(), 'bench-rest-prof-')) : undefined;

let scratch: Scratch | undefined;
let app: Instance | undefined;
let bare: Instance | undefined;
const cleanUp = async () => {
  await Promise.all([app, bare].filter((i) => i !== undefined).map((i) => stopInstance(i)));
  await scratch?.drop();
};
const watchdog = cleanUpOnAbort(intOption('timeout-minutes', options['timeout-minutes']), cleanUp);

/** The floor server, as a child process (same readiness wait and CPU accounting as the instance). */
function startBare(databaseUrl: string): Promise<Instance> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/rest-baseline.ts'], {
    cwd: process.cwd(),
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, PORT: String(BARE_PORT), DATABASE_URL: databaseUrl, DATABASE_POOL_MAX: '10', NODE_ENV: 'production' },
  });
  return untilReady(child, 'bare', BARE_PORT, '/bare');
}

function buildIfStale(): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['scripts/build-if-stale.mjs'], { stdio: 'inherit' });
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`build-if-stale exited ${code}`))));
  });
}

interface Seeded {
  users: Array<{ id: string; token: string; chat: string }>;
}

async function seed(): Promise<Seeded> {
  const db = scratch!.client;
  const mains = await seedUsers(db, connections, 'rest_u');
  const partners = await seedUsers(db, connections, 'rest_p');
  const peers = await seedUsers(db, 20, 'rest_x');
  const chats = await seedDirects(db, mains.map((u, i) => [u.id, partners[i]!.id]));
  const others = await seedDirects(db, mains.flatMap((u) => peers.map((p): [string, string] => [p.id, u.id])));
  const post = async (token: string, conversationId: string, body: string) => {
    const response = await fetch(`http://127.0.0.1:${APP_PORT}/api/v1/message`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ conversationId, clientId: randomUUID(), type: 'text', body }),
    });
    if (response.status !== 201) throw new Error(`seeding a message: ${response.status} ${await response.text()}`);
  };
  // 60 messages in each main chat, both ways; one from each peer in the other chats.
  await pool(connections * 60, connections, (k) => {
    const i = k % connections;
    return post(k % 2 === 0 ? mains[i]!.token : partners[i]!.token, chats[i]!, `message ${k} of the history`);
  });
  await pool(others.length, connections, (k) => post(peers[k % peers.length]!.token, others[k]!, `hello ${k}`));
  return { users: mains.map((u, i) => ({ id: u.id, token: u.token, chat: chats[i]! })) };
}

type Side = 'app' | 'bare';

/** What one connection asks, per case and side. */
function requestsOf(name: Case, side: Side, user: Seeded['users'][number]): autocannon.Request[] {
  const auth = { authorization: `Bearer ${user.token}` };
  if (side === 'bare') {
    const path = { live: '/bare', me: `/users/${user.id}`, history: `/history/${user.chat}`, inbox: `/inbox/${user.id}`, send: '' }[name];
    return [{ method: 'GET', path }];
  }
  switch (name) {
    case 'live':
      return [{ method: 'GET', path: '/health/live' }];
    case 'me':
      return [{ method: 'GET', path: '/api/v1/users/me', headers: auth }];
    case 'history':
      return [{ method: 'GET', path: `/api/v1/message/chat/${user.chat}?limit=50`, headers: auth }];
    case 'inbox':
      return [{ method: 'GET', path: '/api/v1/chat', headers: auth }];
    case 'send':
      return [
        {
          method: 'POST',
          path: '/api/v1/message',
          headers: { ...auth, 'content-type': 'application/json' },
          setupRequest: (request) => ({ ...request, body: JSON.stringify({ conversationId: user.chat, clientId: randomUUID(), type: 'text', body: 'bench' }) }),
        },
      ];
  }
}

interface Run {
  case: Case;
  side: Side;
  round: number;
  reqPerSec: number;
  latencyMs: { p50: number; p99: number };
  answered: number;
  non2xx: number;
  errors: number;
  cpuPercentOfOneCore: Record<string, number>;
  window: [number, number];
}

async function measure(name: Case, side: Side, roundNo: number, seeded: Seeded): Promise<Run> {
  const port = side === 'app' ? APP_PORT : BARE_PORT;
  let next = 0;
  const cpuBefore = cpuSnapshot([app!, bare!]);
  const from = monotonicMicros();
  const started = performance.now();
  const result = await autocannon({
    url: `http://127.0.0.1:${port}`,
    connections,
    duration: seconds,
    setupClient: (client) => client.setRequests(requestsOf(name, side, seeded.users[next++ % seeded.users.length]!)),
  });
  const window: [number, number] = [from, monotonicMicros()];
  const cpu = cpuPercent(cpuBefore, cpuSnapshot([app!, bare!]), performance.now() - started);
  return {
    case: name,
    side,
    round: roundNo,
    reqPerSec: Math.round(result.requests.average),
    latencyMs: { p50: result.latency.p50, p99: result.latency.p99 },
    answered: result['2xx'],
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
    cpuPercentOfOneCore: Object.fromEntries(Object.entries(cpu).filter(([, v]) => v > 0)),
    window,
  };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? 0 : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function main(): Promise<void> {
  await buildIfStale();
  scratch = await scratchDatabase(baseUrl);
  const prefix = `benchrest${Date.now()}:`;
  console.error(`scratch database ${scratch.name}; Redis prefix ${prefix}`);
  app = await startInstance({
    name: 'app',
    port: APP_PORT,
    databaseUrl: scratch.url,
    redisUrl,
    prefix,
    migrate: true,
    poolMax: 10,
    entry: 'dist/server.js',
    cpuProfDir: profDir,
  });
  bare = await startBare(scratch.url);
  await sleep(2000); // boot garbage settles before the reading
  const bootRssMiB = mib(memoryOf(app.pid).rss);
  const seeded = await seed();

  const runs: Run[] = [];
  for (const name of cases) {
    // A short warm-up of each side first: JIT and connection pools, not measured.
    for (const side of ['app', 'bare'] as const) if (name !== 'send' || side === 'app') await autocannon({ url: `http://127.0.0.1:${side === 'app' ? APP_PORT : BARE_PORT}`, connections, duration: 1, setupClient: (client) => client.setRequests(requestsOf(name, side, seeded.users[0]!)) });
    for (let r = 1; r <= rounds; r++) {
      for (const side of ['app', 'bare'] as const) {
        if (name === 'send' && side === 'bare') continue;
        const run = await measure(name, side, r, seeded);
        runs.push(run);
        console.log(JSON.stringify(run));
      }
    }
  }
  const memory = memoryOf(app.pid);
  const summary = {
    connections,
    seconds,
    rounds,
    appRssMiB: { afterBoot: bootRssMiB, afterLoad: mib(memory.rss), peak: mib(memory.peak) },
    cases: cases.map((name) => {
      const of = (side: Side) => runs.filter((r) => r.case === name && r.side === side);
      const appRate = median(of('app').map((r) => r.reqPerSec));
      const bareRate = median(of('bare').map((r) => r.reqPerSec));
      return {
        case: name,
        app: { reqPerSec: of('app').map((r) => r.reqPerSec), p50Ms: of('app').map((r) => r.latencyMs.p50), p99Ms: of('app').map((r) => r.latencyMs.p99) },
        bare: name === 'send' ? null : { reqPerSec: of('bare').map((r) => r.reqPerSec), p99Ms: of('bare').map((r) => r.latencyMs.p99) },
        ratio: name === 'send' ? null : round(appRate / bareRate, 3),
        ok: [...of('app'), ...of('bare')].every((r) => r.non2xx === 0 && r.errors === 0),
      };
    }),
  };
  console.log(JSON.stringify(summary));

  await Promise.all([stopInstance(app), stopInstance(bare)]);
  app = undefined;
  bare = undefined;

  console.log('');
  console.log(`REST, one instance, ${connections} connections, ${seconds} s per run, ${rounds} round(s) interleaved; medians`);
  console.log('  case      app req/s   p50 ms  p99 ms   floor req/s  p99 ms   app/floor  ok');
  for (const c of summary.cases) {
    const fmt = (n: number, w: number) => String(n).padStart(w);
    const bareRate = c.bare ? median(c.bare.reqPerSec) : null;
    console.log(
      `  ${c.case.padEnd(8)}  ${fmt(median(c.app.reqPerSec), 9)}  ${fmt(median(c.app.p50Ms), 7)}  ${fmt(median(c.app.p99Ms), 6)}   ${bareRate === null ? '          -' : fmt(bareRate, 11)}  ${c.bare ? fmt(median(c.bare.p99Ms), 6) : '     -'}   ${c.ratio === null ? '        -' : fmt(c.ratio, 9)}  ${c.ok}`,
    );
  }
  console.log(`  app RSS: ${summary.appRssMiB.afterBoot} MiB after boot, ${summary.appRssMiB.afterLoad} MiB after the load (peak ${summary.appRssMiB.peak})`);

  if (profDir) {
    const files = profileFiles(profDir);
    for (const name of cases) {
      const windows = runs.filter((r) => r.case === name && r.side === 'app').map((r) => r.window);
      for (const file of files) {
        const hot = profileHotSpots(file, windows, 20);
        if (hot.sampleMs === 0 || hot.functions.length === 0) continue;
        console.log(`\nprofile of the instance during "${name}" (${file}): busy ${hot.busyPct}% of the samples`);
        for (const p of hot.packages) console.log(`  ${String(p.pct).padStart(5)}%  ${p.name}`);
        for (const f of hot.functions) console.log(`  ${String(f.selfPct).padStart(5)}%  ${f.fn}  ${f.where}`);
      }
    }
    console.log(`\nprofiles kept in ${profDir} (open them in Chrome DevTools)`);
  }
  clearTimeout(watchdog);
  if (options['keep-database']) {
    await scratch.client.end();
    console.error(`kept the scratch database: ${scratch.url}`);
    process.exit(0); // before any signal handler (cleanUpOnAbort) could drop it
  }
  await scratch.drop();
}

main().catch(async (error: unknown) => {
  console.error(error);
  await cleanUp().catch(() => {});
  process.exit(1);
});

