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
 *   ... --pg-sample                                    # pairs: pg_stat_activity sampled every 10 ms over the window
 *   npx tsx bench/ws.ts --mode pairs --users 200 --seconds 10 --push          # pairs with every user's push device
 *   npx tsx bench/ws.ts --mode pairs --users 200 --seconds 10 --compare-push  # off, on, off, on: the cost of push
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
 *   seq) delivered twice to one socket. --one-way: only the first user of each pair sends (the
 *   other never replies, so its delivered receipt never moves: with --push every message is due a push).
 * group: --members users, half on each instance, one group; one message at a time (sender rotates),
 *   latency = send -> the last of the other members has it.
 * push (--push, pairs only): an FCM HTTP v1 stand-in (test/support/fcm-server.ts; --push-platform apns:
 *   the APNs one) runs in this process, every seeded user gets a push device, and the instances run
 *   with its env, NODE_EXTRA_CA_CERTS (its test certificate), PUSH_GRACE_MS=--push-grace-ms and
 *   PUSH_POLL_MS=--push-poll-ms (the service's defaults, 3000 and 1000; `--push-grace-ms 0
 *   --push-poll-ms 100` makes every message due at once, before any receipt: the worst case for the
 *   database, as if no recipient were ever online in time). After the sockets drain, the bench
 *   waits for the outbox to drain and accounts for every message: acknowledged before it was
 *   planned, or covered by a delivery row for it or a later message of its chat (a plan round keeps
 *   only the latest of a burst), each row settled `sent` (the stub must have exactly those, once
 *   each) or skipped with the worker's reason (the recipient's own later send in the chat moves its
 *   delivered receipt past the message; a burst across rounds is collapsed to its latest). --compare-push runs the pairs case without push
 *   (instances without provider env, no devices), then with it, --compare-rounds times, restarting
 *   the instances in between, and prints both with the ratio.
 * idle: --sockets users with one socket each on one instance; RSS and V8 heap growth per socket.
 *   Both this process and the instance hold one descriptor per socket, so `ulimit -n` caps the count
 *   (20 000 on the benchmark machine, where the container may not raise it: `ulimit -n 200000` is
 *   refused without CAP_SYS_RESOURCE); raise it in the shell first where allowed. Local addresses
 *   127.0.0.x rotate every 20 000 sockets so the ephemeral port range (28 000 ports) is not the limit.
 *   `--sockets max` opens up to 40 000 and stops at the first socket that fails.
 *
 * One JSON line per mode on stdout (lines starting with `{`), then a human table.
 */
import { randomUUID } from 'node:crypto';
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
  seedPushDevices,
  sampleActivity,
  seedUsers,
  sleep,
  startInstance,
  stopInstance,
} from './ws-support.js';
import { cleanUpOnAbort, intOption } from './cli.js';

const { values: options } = parseArgs({
  options: {
    mode: { type: 'string', default: 'all' },
    users: { type: 'string', default: '200' },
    seconds: { type: 'string', default: '10' },
    rate: { type: 'string' },
    window: { type: 'string', default: '8' },
    'one-way': { type: 'boolean', default: false },
    members: { type: 'string', default: '500' },
    messages: { type: 'string', default: '200' },
    gap: { type: 'string', default: '20' },
    sockets: { type: 'string', default: '10000' },
    pool: { type: 'string', default: '10' },
    'port-base': { type: 'string', default: '18400' },
    'cpu-prof': { type: 'boolean', default: false },
    'timeout-minutes': { type: 'string', default: '15' },
    push: { type: 'boolean', default: false },
    'compare-push': { type: 'boolean', default: false },
    'compare-rounds': { type: 'string', default: '2' },
    'push-platform': { type: 'string', default: 'fcm' },
    'push-poll-ms': { type: 'string', default: '1000' },
    'push-grace-ms': { type: 'string', default: '3000' },
    'push-drain-seconds': { type: 'string', default: '300' },
    'pg-sample': { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (options.help) {
  console.log(
    'usage: npx tsx bench/ws.ts [--mode all|pairs|group|idle] [--users 200] [--seconds 10] [--rate N] [--window 8] [--one-way]\n' +
      '       [--members 500] [--messages 200] [--gap 20] [--sockets 10000|max] [--pool 10] [--cpu-prof] [--timeout-minutes 15]\n' +
      '       [--push | --compare-push [--compare-rounds 2]] [--push-platform fcm|apns] [--push-poll-ms 1000] [--push-grace-ms 3000] [--push-drain-seconds 300] [--pg-sample]',
  );
  process.exit(0);
}
const int = intOption;
const mode = options.mode!;
if (!['all', 'pairs', 'group', 'idle'].includes(mode)) throw new Error(`--mode must be all, pairs, group or idle`);
const users = int('users', options.users, 2);
if (users % 2 !== 0) throw new Error('--users must be even (pairs)');
const seconds = int('seconds', options.seconds);
const rate = options.rate === undefined ? undefined : int('rate', options.rate);
const windowSize = int('window', options.window);
const oneWay = options['one-way']!;
/** --one-way: only the first user of each pair sends (the other only receives: never a reply, never a receipt). */
const step = oneWay ? 2 : 1;
const members = int('members', options.members, 2);
const groupMessages = int('messages', options.messages);
const gapMs = int('gap', options.gap, 0);
const socketTarget = options.sockets === 'max' ? Number.POSITIVE_INFINITY : int('sockets', options.sockets);
const poolMax = int('pool', options.pool);
const portBase = int('port-base', options['port-base']);
const timeoutMinutes = int('timeout-minutes', options['timeout-minutes']);
const comparePush = options['compare-push']!;
const pushOn = options.push! || comparePush;
const compareRounds = int('compare-rounds', options['compare-rounds']);
const pushPlatform = options['push-platform']!;
if (pushPlatform !== 'fcm' && pushPlatform !== 'apns') throw new Error('--push-platform must be fcm or apns');
const pushPollMs = int('push-poll-ms', options['push-poll-ms'], 50);
const pushGraceMs = int('push-grace-ms', options['push-grace-ms'], 0);
const pushDrainSeconds = int('push-drain-seconds', options['push-drain-seconds']);
if (pushOn && mode !== 'pairs') throw new Error('--push and --compare-push need --mode pairs');
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

/** Teardowns of the push stub (its server, key files). */
const stubCleanups: Array<() => unknown> = [];

async function cleanUp(): Promise<void> {
  for (const ws of openSockets) ws.terminate();
  openSockets.clear();
  await Promise.all(instances.map((i) => stopInstance(i).catch(() => {})));
  for (const fn of stubCleanups.splice(0).reverse()) await Promise.resolve(fn()).catch(() => {});
  await scratch?.drop().catch((error: unknown) => console.error('dropping the scratch database failed:', error));
  rmSync(`/tmp/bench-ws-data-${process.pid}`, { recursive: true, force: true });
}
const watchdog = cleanUpOnAbort(timeoutMinutes, cleanUp);

async function startInstances(extraEnv: Record<string, string> = {}): Promise<void> {
  const common = { databaseUrl: scratch!.url, redisUrl, prefix, poolMax, cpuProfDir: profDir, extraEnv };
  instances.push(await startInstance({ ...common, name: 'A', port: portBase, migrate: true }));
  if (mode !== 'idle') instances.push(await startInstance({ ...common, name: 'B', port: portBase + 1, migrate: false }));
}

async function stopInstances(): Promise<void> {
  await Promise.all(instances.splice(0).map((i) => stopInstance(i)));
}

async function main(): Promise<void> {
  scratch = await scratchDatabase(baseUrl);
  if (profDir) mkdirSync(profDir, { recursive: true });
  console.error(`scratch database ${scratch.name}; Redis prefix ${prefix}; starting instances (node --import tsx src/server.ts)`);
  if (pushOn) {
    pushStub = await startPushStub();
    console.error(`push: ${pushStub.platform} stub at ${pushStub.base}; PUSH_GRACE_MS=${pushGraceMs}, PUSH_POLL_MS=${pushPollMs}`);
  }

  if (comparePush) {
    for (let round = 0; round < compareRounds; round++) {
      for (const on of [false, true]) {
        await stopInstances();
        await startInstances(on ? pushStub!.env : {});
        emit(await runPairs(rate, on));
      }
    }
    emit(comparison());
  } else {
    await startInstances(pushOn ? pushStub!.env : {});
    if (mode === 'pairs' || mode === 'all') {
      if (mode === 'all' || rate === undefined) emit(await runPairs(undefined, pushOn));
      if (mode === 'all' || rate !== undefined) emit(await runPairs(rate ?? 5000, pushOn));
    }
    if (mode === 'group' || mode === 'all') emit(await runGroup());
    if (mode === 'idle') emit(await runIdle());
  }

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

async function runPairs(offered: number | undefined, push = false): Promise<Result> {
  const db = scratch!.client;
  const seeded = await seedUsers(db, users, `bwp${tagCounter++}`);
  const pairs: Array<[string, string]> = [];
  for (let k = 0; k < users; k += 2) pairs.push([seeded[k]!.id, seeded[k + 1]!.id]);
  const conversationIds = await seedDirects(db, pairs);
  const pushTokens = push ? seeded.map(() => pushStub!.newToken()) : [];
  if (push) await seedPushDevices(db, seeded, pushStub!.platform, pushTokens);
  const stubFrom = push ? pushStub!.count() : 0;
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

  const sampler = options['pg-sample'] ? sampleActivity(scratch!.url) : undefined;
  const cpuBefore = cpuSnapshot(instances);
  const windowStart = monotonicMicros();
  start = performance.now();
  deadline = start + seconds * 1000;
  sending = true;
  let ticker: NodeJS.Timeout | undefined;
  if (offered === undefined) {
    for (let i = 0; i < users; i += step) for (let w = 0; w < windowSize; w++) send(i, performance.now());
  } else {
    let scheduled = 0;
    let next = 0;
    ticker = setInterval(() => {
      const now = performance.now();
      const due = Math.min(Math.floor(((Math.min(now, deadline) - start) * offered) / 1000), offered * seconds);
      while (scheduled < due) {
        send(next, start + (scheduled * 1000) / offered);
        next = (next + step) % users;
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
  const pgActivity = await sampler?.stop();
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
  const pushFigures = push
    ? await drainPush(
        seeded.map((u) => u.id),
        new Set(pushTokens),
        stubFrom,
        acked,
      )
    : undefined;
  const label = `${offered === undefined ? `pairs flat out (window ${windowSize}/user)` : `pairs at ${offered} msgs/s offered`}${oneWay ? ', one-way' : ''}${pushOn ? (push ? `, push on (${pushStub!.platform}, grace ${pushGraceMs} ms, poll ${pushPollMs} ms)` : ', push off') : ''}`;
  return {
    mode: offered === undefined ? 'pairs' : 'pairs-rate',
    label,
    ...(pushOn ? { push: push ? 'on' : 'off' } : {}),
    users,
    ...(oneWay ? { oneWay: true } : {}),
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
    ...(pushFigures ? { pushes: pushFigures } : {}),
    ...(pgActivity ? { pgActivity } : {}),
    ...(firstError ? { firstError } : {}),
  };
}

// ---------------------------------------------------------------------------------------------------
// Push (--push, --compare-push)

interface PushStub {
  platform: 'fcm' | 'apns';
  base: string;
  /** What the instances run with to push to it. */
  env: Record<string, string>;
  newToken(): string;
  /** Requests it has taken so far (successful or not). */
  count(): number;
  /** Its successful pushes to `tokens`, from request `from` on: device and message id. */
  received(tokens: Set<string>, from: number): Array<{ device: string; messageId: string }>;
}
let pushStub: PushStub | undefined;

/** The FCM (or APNs) stand-in of the tests, in this process, with the instances' env to push to it. */
async function startPushStub(): Promise<PushStub> {
  const { LOOPBACK_CA_FILE } = await import('../test/support/loopback-tls.js');
  const owner = { teardown: (fn: () => unknown) => stubCleanups.push(fn) } as unknown as Parameters<typeof import('../test/support/fcm-server.js').startFcmServer>[0];
  const common = { NODE_EXTRA_CA_CERTS: LOOPBACK_CA_FILE, PUSH_GRACE_MS: String(pushGraceMs), PUSH_POLL_MS: String(pushPollMs) };
  if (pushPlatform === 'apns') {
    const { apnsDeviceToken, startApnsServer } = await import('../test/support/apns-server.js');
    const apns = await startApnsServer(owner);
    return {
      platform: 'apns',
      base: apns.baseUrl,
      env: { ...apns.env, ...common },
      newToken: apnsDeviceToken,
      count: () => apns.requests.length,
      received: (tokens, from) =>
        apns.requests
          .slice(from)
          .filter((r) => r.status === 200 && tokens.has(r.deviceToken))
          .map((r) => ({ device: r.deviceToken, messageId: String((r.body as { messageId?: unknown } | undefined)?.messageId) })),
    };
  }
  const { startFcmServer } = await import('../test/support/fcm-server.js');
  const fcm = await startFcmServer(owner);
  const account = await fcm.serviceAccount('bench-ws');
  return {
    platform: 'fcm',
    base: fcm.base,
    env: { FCM_SERVICE_ACCOUNT_FILE: account.file, FCM_BASE_URL: fcm.base, ...common },
    newToken: () => `bench-${randomUUID()}${randomUUID()}`.replaceAll('-', ''),
    count: () => fcm.requests.length,
    received: (tokens, from) => {
      const out: Array<{ device: string; messageId: string }> = [];
      for (const r of fcm.requests.slice(from)) {
        const message = r.body.message as { token?: string; data?: { messageId?: string } } | undefined;
        if (r.status === 200 && message?.token && tokens.has(message.token)) out.push({ device: message.token, messageId: String(message.data?.messageId) });
      }
      return out;
    },
  };
}

/**
 * Waits until every stored message of the run is planned (a delivery for it or a later message of
 * its chat: a plan round keeps only the latest of a burst; every recipient has one device) or was
 * acknowledged `delivered` before it was (then it is never planned), and none is pending; then
 * accounts for them: settled states and what the stub took.
 */
async function drainPush(userIds: string[], tokens: Set<string>, stubFrom: number, stored: number): Promise<Result> {
  const db = scratch!.client;
  const started = performance.now();
  const until = started + pushDrainSeconds * 1000;
  let planned = 0;
  let pending = 0;
  let unplanned = 0;
  for (;;) {
    const { rows } = await db.query<{ planned: string; pending: string; unplanned: string }>(
      `select count(*) as planned, count(*) filter (where state = 'pending') as pending,
         (select count(*) from messages m join conversation_members cm on cm.conversation_id = m.conversation_id and cm.user_id <> m.sender_id
          where cm.user_id = any($1::uuid[]) and cm.delivered_seq < m.seq
            and not exists (select 1 from push_deliveries p where p.user_id = cm.user_id and p.conversation_id = m.conversation_id and p.seq >= m.seq)) as unplanned
       from push_deliveries where user_id = any($1::uuid[])`,
      [userIds],
    );
    planned = Number(rows[0]!.planned);
    pending = Number(rows[0]!.pending);
    unplanned = Number(rows[0]!.unplanned);
    if (pending === 0 && unplanned === 0) break;
    if (performance.now() > until) break;
    await sleep(250);
  }
  const drainSeconds = round((performance.now() - started) / 1000);
  const { rows } = await db.query<{ state: string; n: string }>(
    `select state || coalesce(': ' || last_error, '') as state, count(*) as n from push_deliveries where user_id = any($1::uuid[]) group by 1 order by 2 desc`,
    [userIds],
  );
  const states = Object.fromEntries(rows.map((r) => [r.state, Number(r.n)]));
  const received = pushStub!.received(tokens, stubFrom);
  const distinct = new Set(received.map((p) => `${p.device}/${p.messageId}`)).size;
  const sent = states.sent ?? 0;
  return {
    platform: pushStub!.platform,
    pollMs: pushPollMs,
    graceMs: pushGraceMs,
    messagesStored: stored,
    deliveriesPlanned: planned,
    // Acknowledged within the grace, or an earlier message of a burst planned as its latest.
    notPlanned: stored - planned,
    unplanned,
    pending,
    states,
    sent,
    stubReceived: received.length,
    duplicated: received.length - distinct,
    drainSeconds,
    // Every stored message covered by a delivery or acknowledged first, nothing left pending, and the stub has exactly the pushes settled `sent`.
    accounted: planned <= stored && unplanned === 0 && pending === 0 && received.length === sent && distinct === sent,
  };
}

/** The --compare-push summary: send throughput and latency without and with push, and the ratio. */
function comparison(): Result {
  const runs = results.filter((r) => r.push === 'on' || r.push === 'off');
  const of = (state: string) => runs.filter((r) => r.push === state);
  const throughput = (rs: Result[]) => rs.map((r) => Number(r.deliveredPerSec));
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  const latency = (rs: Result[], key: 'p50' | 'p99') => rs.map((r) => (r.latencyMs as Record<string, number>)[key]!);
  const off = of('off');
  const on = of('on');
  const offMean = mean(throughput(off));
  const onMean = mean(throughput(on));
  const pushes = on.map((r) => r.pushes as Record<string, unknown>);
  return {
    mode: 'compare-push',
    label: `push cost on pairs${oneWay ? ' one-way' : ''} ${rate === undefined ? `flat out (window ${windowSize}/user)` : `at ${rate} msgs/s`}: ${off.length} runs off, ${on.length} on, interleaved (${pushStub!.platform}, PUSH_GRACE_MS=${pushGraceMs}, PUSH_POLL_MS=${pushPollMs})`,
    users,
    seconds,
    deliveredPerSecOff: throughput(off),
    deliveredPerSecOn: throughput(on),
    meanOff: Math.round(offMean),
    meanOn: Math.round(onMean),
    ratioOnOff: round(onMean / offMean, 3),
    costPercent: round((1 - onMean / offMean) * 100),
    targetPercent: 15,
    latencyP50Off: latency(off, 'p50'),
    latencyP50On: latency(on, 'p50'),
    latencyP99Off: latency(off, 'p99'),
    latencyP99On: latency(on, 'p99'),
    cpuOff: off.map((r) => r.cpuPercentOfOneCore),
    cpuOn: on.map((r) => r.cpuPercentOfOneCore),
    pushesSent: pushes.map((p) => p.sent),
    stubReceived: pushes.map((p) => p.stubReceived),
    messagesStored: pushes.map((p) => p.messagesStored),
    deliveriesPlanned: pushes.map((p) => p.deliveriesPlanned),
    pushDrainSeconds: pushes.map((p) => p.drainSeconds),
    allAccounted: pushes.every((p) => p.accounted === true),
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
  for (const [k, v] of Object.entries(r)) if (k !== 'label' && k !== 'mode' && k !== 'pgActivity') add(k, v);
  const width = Math.max(...rows.map(([k]) => k.length));
  const lines = [`== ${String(r.label)}`, ...rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`)];
  const activity = r.pgActivity as { samples: number; meanActiveBackends: number; commitsPerSec: number; top: Array<{ pct: number; statement: string; waits?: unknown }> } | undefined;
  if (activity) {
    lines.push(`  pg_stat_activity over the window: ${activity.samples} samples, ${activity.meanActiveBackends} active backends on average, ${activity.commitsPerSec} commits/s; share of active samples:`);
    for (const t of activity.top) lines.push(`    ${String(t.pct).padStart(5)}%  ${t.statement}${t.waits ? `  waits ${JSON.stringify(t.waits)}` : ''}`);
  }
  return lines.join('\n');
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
