/**
 * WebSocket load benchmark: real app instances (child processes running src/server.ts) on a scratch
 * Postgres database and the local Redis, driven over loopback sockets by this process.
 *
 *   npm run bench:ws                                   # pairs flat out, pairs at 5000/s, group of 500
 *   npx tsx bench/ws.ts --mode pairs --users 200 --seconds 10            # 1:1 flat out
 *   npx tsx bench/ws.ts --mode pairs --users 200 --seconds 10 --rate 5000
 *   npx tsx bench/ws.ts --mode group --members 500 --messages 200
 *   npx tsx bench/ws.ts --mode idle --sockets 10000    # one instance; RSS per idle socket
 *   npx tsx bench/ws.ts --mode idle --sockets max      # until the first refused/failed socket
 *   ... --cpu-prof                                     # V8 CPU profiles of the instances + top self-time functions
 *
 * DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres) names the server the scratch
 * database is created on (dropped at the end); REDIS_URL (default redis://127.0.0.1:6379) is used under
 * a unique key prefix. Users, sessions and conversations are inserted with SQL and tokens minted
 * with the instances' JWT secret; everything measured goes through the sockets.
 *
 * pairs: 2 users per direct conversation, one on instance A and one on B; every user sends to its
 *   peer (`message.send`, waits for `message.ack`), so every message crosses the Redis bus. Latency is
 *   send -> the peer's socket has `message.created` (same clock). Flat out keeps --window sends in
 *   flight per user; --rate N is open loop (latency from the scheduled send time, so a stalled server
 *   is not hidden). Lost = acknowledged but never delivered to the peer; duplicated = a (conversation,
 *   seq) delivered twice to one socket.
 * group: --members users, half on each instance, one group; one message at a time (sender rotates),
 *   latency = send -> the last of the other members has it.
 * idle: --sockets users with one socket each on one instance; RSS and V8 heap growth per socket.
 *   Both this process and the instance hold one descriptor per socket, so `ulimit -n` caps the count
 *   (20 000 on the benchmark machine, where the container may not raise it: `ulimit -n 200000` is
 *   refused without CAP_SYS_RESOURCE); raise it in the shell first where allowed. Local addresses
 *   127.0.0.x rotate every 20 000 sockets so the ephemeral port range (28 000 ports) is not the limit.
 *   `--sockets max` opens up to 40 000 and stops at the first socket that fails.
 *
 * One JSON line per mode on stdout (lines starting with `{`), then a human table.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type WebSocket from 'ws';
import {
  type Instance,
  type Scratch,
  cpuPercent,
  cpuSnapshot,
  memoryOf,
  monotonicMicros,
  mib,
  openSocket,
  percentiles,
  pool,
  profileFiles,
  profileHotSpots,
  round,
  scratchDatabase,
  seedDirects,
  seedGroup,
  seedUsers,
  sleep,
  startInstance,
  stopInstance,
} from './ws-support.js';

const { values: options } = parseArgs({
  options: {
    mode: { type: 'string', default: 'all' },
    users: { type: 'string', default: '200' },
    seconds: { type: 'string', default: '10' },
    rate: { type: 'string' },
    window: { type: 'string', default: '8' },
    members: { type: 'string', default: '500' },
    messages: { type: 'string', default: '200' },
    gap: { type: 'string', default: '20' },
    sockets: { type: 'string', default: '10000' },
    pool: { type: 'string', default: '10' },
    'port-base': { type: 'string', default: '18400' },
    'cpu-prof': { type: 'boolean', default: false },
    'timeout-minutes': { type: 'string', default: '15' },
    help: { type: 'boolean', default: false },
  },
});
if (options.help) {
  console.log(
    'usage: npx tsx bench/ws.ts [--mode all|pairs|group|idle] [--users 200] [--seconds 10] [--rate N] [--window 8]\n' +
      '       [--members 500] [--messages 200] [--gap 20] [--sockets 10000|max] [--pool 10] [--cpu-prof] [--timeout-minutes 15]',
  );
  process.exit(0);
}
const int = (name: string, value: string | undefined, min = 1): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}, got ${JSON.stringify(value)}`);
  return n;
};
const mode = options.mode!;
if (!['all', 'pairs', 'group', 'idle'].includes(mode)) throw new Error(`--mode must be all, pairs, group or idle`);
const users = int('users', options.users, 2);
if (users % 2 !== 0) throw new Error('--users must be even (pairs)');
const seconds = int('seconds', options.seconds);
const rate = options.rate === undefined ? undefined : int('rate', options.rate);
const windowSize = int('window', options.window);
const members = int('members', options.members, 2);
const groupMessages = int('messages', options.messages);
const gapMs = int('gap', options.gap, 0);
const socketTarget = options.sockets === 'max' ? Number.POSITIVE_INFINITY : int('sockets', options.sockets);
const poolMax = int('pool', options.pool);
const portBase = int('port-base', options['port-base']);
const timeoutMinutes = int('timeout-minutes', options['timeout-minutes']);
const baseUrl = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
const redisUrl = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const prefix = `benchws${Date.now()}:`;
const profDir = options['cpu-prof'] ? join(tmpdir(), `bench-ws-prof-${process.pid}`) : undefined;

type Result = Record<string, unknown>;
const results: Result[] = [];
let scratch: Scratch | undefined;
const instances: Instance[] = [];
const openSockets = new Set<WebSocket>();
let tagCounter = 0;
/** Measurement windows (CLOCK_MONOTONIC µs): profiles are summarized over these only, not start-up or seeding. */
const measured: Array<[number, number]> = [];

async function cleanUp(): Promise<void> {
  for (const ws of openSockets) ws.terminate();
  openSockets.clear();
  await Promise.all(instances.map((i) => stopInstance(i).catch(() => {})));
  await scratch?.drop().catch((error: unknown) => console.error('dropping the scratch database failed:', error));
  rmSync(`/tmp/bench-ws-data-${process.pid}`, { recursive: true, force: true });
}
const watchdog = setTimeout(() => {
  console.error(`\nstopped: still running after ${timeoutMinutes} min (--timeout-minutes)`);
  void cleanUp().finally(() => process.exit(2));
}, timeoutMinutes * 60_000);
watchdog.unref();
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.error(`\n${signal}: cleaning up`);
    void cleanUp().finally(() => process.exit(130));
  });
}

async function main(): Promise<void> {
  scratch = await scratchDatabase(baseUrl);
  if (profDir) mkdirSync(profDir, { recursive: true });
  const common = { databaseUrl: scratch.url, redisUrl, prefix, poolMax, cpuProfDir: profDir };
  console.error(`scratch database ${scratch.name}; Redis prefix ${prefix}; starting instances (node --import tsx src/server.ts)`);
  instances.push(await startInstance({ ...common, name: 'A', port: portBase, migrate: true }));
  if (mode !== 'idle') instances.push(await startInstance({ ...common, name: 'B', port: portBase + 1, migrate: false }));

  if (mode === 'pairs' || mode === 'all') {
    if (mode === 'all' || rate === undefined) emit(await runPairs(undefined));
    if (mode === 'all' || rate !== undefined) emit(await runPairs(rate ?? 5000));
  }
  if (mode === 'group' || mode === 'all') emit(await runGroup());
  if (mode === 'idle') emit(await runIdle());

  console.log('');
  for (const r of results) console.log(table(r));
}

function emit(result: Result): void {
  results.push(result);
  console.log(JSON.stringify(result));
}

const urlOf = (instance: Instance) => `ws://127.0.0.1:${instance.port}`;
const cpuCores = (cpu: Record<string, number>) => Object.fromEntries(Object.entries(cpu).filter(([, v]) => v > 0));
const memoryFigures = () =>
  Object.fromEntries(instances.map((i) => [i.name, (({ rss, peak }) => ({ rssMiB: mib(rss), peakRssMiB: mib(peak) }))(memoryOf(i.pid))]));

// ---------------------------------------------------------------------------------------------------
// 1:1 pairs

async function runPairs(offered: number | undefined): Promise<Result> {
  const db = scratch!.client;
  const seeded = await seedUsers(db, users, `bwp${tagCounter++}`);
  const pairs: Array<[string, string]> = [];
  for (let k = 0; k < users; k += 2) pairs.push([seeded[k]!.id, seeded[k + 1]!.id]);
  const conversationIds = await seedDirects(db, pairs);
  const conversationOf = (i: number) => conversationIds[i >> 1]!;
  const peerOf = (i: number) => i ^ 1;

  const sentAt: number[][] = seeded.map(() => []);
  const ackedSeqs: number[][] = seeded.map(() => []);
  const received: Array<Set<number>> = seeded.map(() => new Set());
  const outstanding = new Int32Array(users);
  const latencies: number[] = [];
  const ackLatencies: number[] = [];
  let sent = 0;
  let acked = 0;
  let delivered = 0;
  let deliveredInWindow = 0;
  let duplicates = 0;
  let echoes = 0;
  let errors = 0;
  let firstError: string | undefined;
  let lastDelivery = 0;
  let sending = false;
  /** Whether acks still count for the loss check (off once a backlog is cut off at the drain cap). */
  let counting = true;
  let start = 0;
  let deadline = 0;
  const sockets: WebSocket[] = new Array(users);

  const send = (i: number, intended: number) => {
    const n = sentAt[i]!.length;
    sentAt[i]!.push(intended);
    outstanding[i]! += 1;
    sent += 1;
    sockets[i]!.send(`{"type":"message.send","id":"${n}","data":{"conversationId":"${conversationOf(i)}","clientId":"${i}.${n}","type":"text","body":"bench message ${n} from ${i}"}}`);
  };

  const onMessage = (i: number, text: string) => {
    const now = performance.now();
    if (text.startsWith('{"type":"message.created"')) {
      const c = text.indexOf('"clientId":"') + 12;
      const clientId = text.slice(c, text.indexOf('"', c));
      const dot = clientId.indexOf('.');
      const sender = Number(clientId.slice(0, dot));
      if (sender === i) {
        echoes += 1;
        return;
      }
      const s = text.indexOf('"seq":') + 6;
      const seq = Number.parseInt(text.slice(s, s + 20), 10);
      const seen = received[i]!;
      if (seen.has(seq)) {
        duplicates += 1;
        return;
      }
      seen.add(seq);
      delivered += 1;
      if (now <= deadline) deliveredInWindow += 1;
      lastDelivery = now;
      const at = sentAt[sender]?.[Number(clientId.slice(dot + 1))];
      if (at !== undefined) latencies.push(now - at);
      return;
    }
    if (text.startsWith('{"type":"message.ack"')) {
      const idAt = text.indexOf('"id":"') + 6;
      const n = Number(text.slice(idAt, text.indexOf('"', idAt)));
      const s = text.indexOf('"seq":') + 6;
      if (counting) ackedSeqs[i]!.push(Number.parseInt(text.slice(s, s + 20), 10));
      ackLatencies.push(now - sentAt[i]![n]!);
      acked += 1;
      outstanding[i]! -= 1;
      if (sending && offered === undefined && now < deadline) send(i, performance.now());
      return;
    }
    if (text.startsWith('{"type":"error"')) {
      errors += 1;
      firstError ??= text.slice(0, 300);
      outstanding[i]! -= 1;
      if (sending && offered === undefined && now < deadline) send(i, performance.now());
    }
  };

  const [a, b] = instances as [Instance, Instance];
  await pool(users, 50, async (i) => {
    const ws = await openSocket(urlOf(i % 2 === 0 ? a : b), seeded[i]!.token, (text) => onMessage(i, text));
    sockets[i] = ws;
    openSockets.add(ws);
  });
  await sleep(500);

  const cpuBefore = cpuSnapshot(instances);
  const windowStart = monotonicMicros();
  start = performance.now();
  deadline = start + seconds * 1000;
  sending = true;
  let ticker: NodeJS.Timeout | undefined;
  if (offered === undefined) {
    for (let i = 0; i < users; i++) for (let w = 0; w < windowSize; w++) send(i, performance.now());
  } else {
    let scheduled = 0;
    let next = 0;
    ticker = setInterval(() => {
      const now = performance.now();
      const due = Math.min(Math.floor(((Math.min(now, deadline) - start) * offered) / 1000), offered * seconds);
      while (scheduled < due) {
        send(next, start + (scheduled * 1000) / offered);
        next = (next + 1) % users;
        scheduled += 1;
      }
      if (now >= deadline) clearInterval(ticker);
    }, 1);
  }
  await sleep(seconds * 1000);
  sending = false;
  clearInterval(ticker);
  measured.push([windowStart, monotonicMicros()]);
  const cpu = cpuPercent(cpuBefore, cpuSnapshot(instances), performance.now() - start);
  const memory = memoryFigures();

  // Drain: every send answered, every acknowledged message delivered (or 60 s: an overloaded run's backlog).
  const drainStart = performance.now();
  const drainUntil = drainStart + 60_000;
  while (performance.now() < drainUntil && (acked + errors < sent || delivered < acked)) await sleep(50);
  const drainSeconds = round((performance.now() - drainStart) / 1000);
  // Cut off with a backlog: acks from now on are not counted, and those already in get 3 s to be delivered.
  if (acked + errors < sent || delivered < acked) {
    counting = false;
    await sleep(3000);
  }
  let lost = 0;
  for (let i = 0; i < users; i++) for (const seq of ackedSeqs[i]!) if (!received[peerOf(i)]!.has(seq)) lost += 1;

  for (const ws of sockets) {
    ws.terminate();
    openSockets.delete(ws);
  }
  const elapsed = (lastDelivery - start) / 1000;
  const label = offered === undefined ? `pairs flat out (window ${windowSize}/user)` : `pairs at ${offered} msgs/s offered`;
  return {
    mode: offered === undefined ? 'pairs' : 'pairs-rate',
    label,
    users,
    conversations: users / 2,
    instances: 2,
    seconds,
    offeredPerSec: offered ?? null,
    sent,
    acked,
    errors,
    unanswered: sent - acked - errors,
    delivered,
    lostCheckedAcks: ackedSeqs.reduce((sum, seqs) => sum + seqs.length, 0),
    lost,
    duplicated: duplicates,
    senderEchoes: echoes,
    deliveredPerSec: Math.round(deliveredInWindow / seconds),
    deliveredPerSecOverall: Math.round(delivered / Math.max(elapsed, 0.001)),
    drainSeconds,
    latencyMs: percentiles(latencies),
    latencyFrom: offered === undefined ? 'actual send' : 'scheduled send',
    ackLatencyMs: percentiles(ackLatencies),
    serverMemory: memory,
    cpuPercentOfOneCore: cpuCores(cpu),
    ...(firstError ? { firstError } : {}),
  };
}

// ---------------------------------------------------------------------------------------------------
// Group

async function runGroup(): Promise<Result> {
  const db = scratch!.client;
  const seeded = await seedUsers(db, members, `bwg${tagCounter++}`);
  const groupId = await seedGroup(
    db,
    seeded.map((u) => u.id),
  );
  const [a, b] = instances as [Instance, Instance];
  const counts = new Int32Array(groupMessages);
  const firstAt = new Float64Array(groupMessages);
  const lastAt = new Float64Array(groupMessages);
  const sentAt = new Float64Array(groupMessages);
  const received: Array<Set<number>> = seeded.map(() => new Set());
  const perMember: number[] = [];
  let duplicates = 0;
  let errors = 0;
  let firstError: string | undefined;
  let acked = 0;
  let waiting: { k: number; resolve: () => void } | undefined;

  const onMessage = (i: number, text: string) => {
    const now = performance.now();
    if (text.startsWith('{"type":"message.created"')) {
      const c = text.indexOf('"clientId":"') + 12;
      const clientId = text.slice(c, text.indexOf('"', c));
      const [senderText, kText] = clientId.split('.');
      if (Number(senderText) === i) return;
      const k = Number(kText);
      const s = text.indexOf('"seq":') + 6;
      const seq = Number.parseInt(text.slice(s, s + 20), 10);
      if (received[i]!.has(seq)) {
        duplicates += 1;
        return;
      }
      received[i]!.add(seq);
      perMember.push(now - sentAt[k]!);
      if (counts[k] === 0) firstAt[k] = now;
      counts[k]! += 1;
      lastAt[k] = now;
      if (counts[k] === members - 1 && waiting?.k === k) waiting.resolve();
    } else if (text.startsWith('{"type":"message.ack"')) {
      acked += 1;
    } else if (text.startsWith('{"type":"error"')) {
      errors += 1;
      firstError ??= text.slice(0, 300);
    }
  };
  const sockets: WebSocket[] = new Array(members);
  await pool(members, 50, async (i) => {
    const ws = await openSocket(urlOf(i % 2 === 0 ? a : b), seeded[i]!.token, (text) => onMessage(i, text));
    sockets[i] = ws;
    openSockets.add(ws);
  });
  await sleep(500);

  const cpuBefore = cpuSnapshot(instances);
  const windowStart = monotonicMicros();
  const start = performance.now();
  let incomplete = 0;
  for (let k = 0; k < groupMessages; k++) {
    const sender = k % members;
    const done = new Promise<void>((resolve) => (waiting = { k, resolve }));
    sentAt[k] = performance.now();
    sockets[sender]!.send(`{"type":"message.send","id":"${k}","data":{"conversationId":"${groupId}","clientId":"${sender}.${k}","type":"text","body":"group message ${k}"}}`);
    const timedOut = await Promise.race([done.then(() => false), sleep(10_000).then(() => true)]);
    if (timedOut) incomplete += 1;
    if (gapMs > 0) await sleep(gapMs);
  }
  const elapsedMs = performance.now() - start;
  measured.push([windowStart, monotonicMicros()]);
  const cpu = cpuPercent(cpuBefore, cpuSnapshot(instances), elapsedMs);
  const memory = memoryFigures();
  await sleep(500);
  const expected = groupMessages * (members - 1);
  const deliveredTotal = perMember.length;
  for (const ws of sockets) {
    ws.terminate();
    openSockets.delete(ws);
  }
  const lastLat: number[] = [];
  const firstLat: number[] = [];
  for (let k = 0; k < groupMessages; k++) {
    if (counts[k] === members - 1) lastLat.push(lastAt[k]! - sentAt[k]!);
    if (counts[k]! > 0) firstLat.push(firstAt[k]! - sentAt[k]!);
  }
  return {
    mode: 'group',
    label: `group of ${members}, one message at a time (${gapMs} ms apart)`,
    members,
    instances: 2,
    messages: groupMessages,
    acked,
    errors,
    messagesFullyDelivered: lastLat.length,
    incomplete,
    deliveries: deliveredTotal,
    lost: expected - deliveredTotal,
    duplicated: duplicates,
    deliveriesPerSec: Math.round(deliveredTotal / (elapsedMs / 1000)),
    lastMemberLatencyMs: percentiles(lastLat),
    firstMemberLatencyMs: percentiles(firstLat),
    perMemberLatencyMs: percentiles(perMember),
    serverMemory: memory,
    cpuPercentOfOneCore: cpuCores(cpu),
    ...(firstError ? { firstError } : {}),
  };
}

// ---------------------------------------------------------------------------------------------------
// Idle sockets

async function heapUsed(instance: Instance): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${instance.port}/metrics`)).text();
  return Number(/^nodejs_heap_size_used_bytes (\S+)/m.exec(text)?.[1] ?? Number.NaN);
}

async function runIdle(): Promise<Result> {
  const db = scratch!.client;
  const instance = instances[0]!;
  const warm = 100;
  const target = Number.isFinite(socketTarget) ? socketTarget : 40_000;
  const seedCount = Number.isFinite(socketTarget) ? socketTarget + warm : 40_000;
  console.error(`seeding ${seedCount} users with sessions`);
  const seeded = await seedUsers(db, seedCount, `bwi${tagCounter++}`);
  const sockets: WebSocket[] = [];
  const connect = async (i: number) => {
    // Past 20 000 sockets per source address the ephemeral ports (32768-60999) run out: rotate 127.0.0.x.
    const localAddress = `127.0.0.${1 + Math.floor(i / 20_000)}`;
    const ws = await openSocket(urlOf(instance), seeded[i]!.token, () => {}, localAddress);
    ws.on('close', () => openSockets.delete(ws));
    sockets.push(ws);
    openSockets.add(ws);
  };
  await pool(warm, 50, connect);
  await sleep(3000);
  const base = memoryOf(instance.pid);
  const baseHeap = await heapUsed(instance);
  const started = performance.now();
  let failure: string | undefined;
  let progress = started;
  try {
    await pool(Math.min(target, seedCount - warm), 200, async (j) => {
      await connect(warm + j);
      if (performance.now() - progress > 5000) {
        progress = performance.now();
        console.error(`  ${sockets.length - warm} sockets, server RSS ${mib(memoryOf(instance.pid).rss)} MiB`);
      }
    });
  } catch (error) {
    failure = error instanceof Error ? error.message : String(error);
  }
  const connectSeconds = (performance.now() - started) / 1000;
  // Out of descriptors here (EMFILE): free a few so the /metrics reading below can connect.
  if (failure) for (const ws of sockets.splice(sockets.length - 20, 20)) ws.terminate();
  const held = sockets.length - warm;
  await sleep(5000);
  const stillOpen = sockets.filter((ws) => ws.readyState === ws.OPEN).length - warm;
  const after = memoryOf(instance.pid);
  const afterHeap = await heapUsed(instance).catch(() => Number.NaN);
  for (const ws of sockets) {
    ws.terminate();
    openSockets.delete(ws);
  }
  const perSocket = (after.rss - base.rss) / Math.max(1, stillOpen);
  return {
    mode: 'idle',
    label: `idle authenticated /ws sockets on one instance`,
    target: Number.isFinite(socketTarget) ? socketTarget : 'max',
    opened: held,
    heldAfter5s: stillOpen,
    connectPerSec: Math.round(held / connectSeconds),
    baselineRssMiB: mib(base.rss),
    rssMiB: mib(after.rss),
    peakRssMiB: mib(after.peak),
    rssPerSocketKiB: round(perSocket / 1024, 2),
    heapPerSocketKiB: round((afterHeap - baseHeap) / Math.max(1, stillOpen) / 1024, 2),
    ...(failure ? { stoppedBy: failure } : {}),
  };
}

// ---------------------------------------------------------------------------------------------------
// Output

function table(r: Result): string {
  const rows: Array<[string, string]> = [];
  const add = (k: string, v: unknown) => rows.push([k, typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v)]);
  for (const [k, v] of Object.entries(r)) if (k !== 'label' && k !== 'mode') add(k, v);
  const width = Math.max(...rows.map(([k]) => k.length));
  return [`== ${String(r.label)}`, ...rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`)].join('\n');
}

function printProfiles(): void {
  if (!profDir) return;
  for (const file of profileFiles(profDir)) {
    const summary = profileHotSpots(file, measured);
    if (summary.functions.length === 0) continue; // the tsx loader thread's profile
    console.log(`\n== CPU profile ${file}, over the measured windows (${summary.sampleMs} ms): busy ${summary.busyPct}% of samples; shares of busy time`);
    console.log(`  by package: ${summary.packages.map((p) => `${p.name} ${p.pct}%`).join(', ')}`);
    for (const spot of summary.functions) console.log(`  ${String(spot.selfPct).padStart(5)}%  ${spot.fn}  ${spot.where}`);
  }
}

// Last, so every declaration above is initialized before the run starts.
try {
  await main();
} catch (error) {
  console.error(error);
  for (const instance of instances) if (instance.log.length > 0) console.error(`--- ${instance.name} log (last lines)\n${instance.log.slice(-10).join('\n')}`);
  process.exitCode = 1;
} finally {
  clearTimeout(watchdog);
  await cleanUp();
  printProfiles();
}
