/**
 * Push throughput through the outbox: app instances built in this process (buildApp, as the tests
 * do) on a scratch Postgres database, sending to the loopback stand-ins of FCM HTTP v1, APNs
 * (HTTP/2) and a Web Push service (test/support; TLS with the test certificate) that run in this
 * process too.
 *
 *   npm run bench:push                                   # every platform, 1 and 2 instances
 *   npx tsx bench/push.ts --platforms fcm --instances 1,2 --recipients 2000 --conversations 1
 *   npx tsx bench/push.ts --burst 3                      # 3 messages per chat (those claimed in one batch collapse)
 *   npx tsx bench/push.ts --plan-sizes 10000 --platforms none   # only the plan cases
 *   ... --cpu-prof                                      # V8 CPU profile of each send phase (this process: app and stubs)
 *   ... --pg-sample                                     # pg_stat_activity sampled every 10 ms over each send phase
 *
 * The instances' own timers are not started (app.ready() is never called): the bench drives the
 * worker by hand, so a round is measured, not the PUSH_POLL_MS wait between rounds.
 *
 * plan: --plan-sizes N direct messages (N recipients with one device each), and N/500 messages in a
 *   group of 501 (a burst: one round plans only the latest per recipient, 500 deliveries): one
 *   PushService.plan() call each (one transaction that inserts every delivery); deliveries planned
 *   per second. Also the cost of a round's plan() when
 *   nothing is new (every instance pays it every PUSH_POLL_MS), with `size` devices in the database.
 *   Each case deletes its devices (and so its deliveries) when done: cases do not load each other.
 * send: per platform and instance count, --recipients users each with one device of that platform
 *   and --conversations direct chats with a different sender each, one message per chat (so one
 *   push per message: nothing to collapse; --burst B sends B per chat, each burst in its own
 *   statement: one round plans only the latest of each chat, so B x the messages, the same pushes). The
 *   messages are inserted with SQL as MessageRepository.append writes them, planned (timed as above),
 *   then every instance runs PushService.runOnce() back to back until none finds anything: pushes
 *   per second from the first runOnce to the outbox empty. At the end every delivery of the case is
 *   read back (state per row) and every push the stub answered is counted per (device, message):
 *   a case is `ok` only when each chat's latest message reached its device exactly once.
 *
 * Each query the app's pg clients run is timed (client side, from send to result) and summed per
 * statement: the top ones are printed per case (where the database time of a round goes).
 *
 * DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres) names the server the scratch
 * database is created on (dropped at the end). One JSON line per case on stdout, then a table.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import type { Test } from 'tap';
import { type App, buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import '../test/support/loopback-tls.js';
import { apnsDeviceToken, startApnsServer } from '../test/support/apns-server.js';
import { startFcmServer } from '../test/support/fcm-server.js';
import { type BrowserSubscription, startWebPushEndpoint } from '../test/support/web-push-endpoint.js';
import { JWT_SECRET, type Scratch, cpuPercent, cpuSnapshot, percentiles, profileHotSpots, round, sampleActivity, scratchDatabase, seedDirects, seedGroup, seedPushDevices, seedUsers } from './ws-support.js';
import { cleanUpOnAbort, intOption } from './cli.js';

const { values: options } = parseArgs({
  options: {
    platforms: { type: 'string', default: 'fcm,apns,webpush' },
    instances: { type: 'string', default: '1,2' },
    recipients: { type: 'string', default: '1000' },
    conversations: { type: 'string', default: '2' },
    burst: { type: 'string', default: '1' },
    'plan-sizes': { type: 'string', default: '2000,10000' },
    concurrency: { type: 'string' },
    pool: { type: 'string', default: '10' },
    'timeout-minutes': { type: 'string', default: '10' },
    'cpu-prof': { type: 'boolean', default: false },
    'pg-sample': { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (options.help) {
  console.log(
    'usage: npx tsx bench/push.ts [--platforms fcm,apns,webpush|none] [--instances 1,2] [--recipients 1000] [--conversations 2]\n' +
      '       [--burst 1] [--plan-sizes 2000,10000] [--concurrency <PUSH_CONCURRENCY>] [--pool 10] [--timeout-minutes 10] [--cpu-prof] [--pg-sample]',
  );
  process.exit(0);
}
const int = intOption;
type Platform = 'fcm' | 'apns' | 'webpush';
const platforms = options.platforms === 'none' ? [] : options.platforms!.split(',').map((p) => p.trim());
for (const p of platforms) if (!['fcm', 'apns', 'webpush'].includes(p)) throw new Error(`--platforms: unknown ${p}`);
const instanceCounts = options.instances!.split(',').map((n) => int('instances', n));
const recipients = int('recipients', options.recipients);
const conversationsPerRecipient = int('conversations', options.conversations);
const burst = int('burst', options.burst);
const planSizes = options['plan-sizes'] === '' || options['plan-sizes'] === 'none' ? [] : options['plan-sizes']!.split(',').map((n) => int('plan-sizes', n, 500));
const concurrency = options.concurrency === undefined ? undefined : int('concurrency', options.concurrency);
const poolMax = int('pool', options.pool);
const timeoutMinutes = int('timeout-minutes', options['timeout-minutes']);
const cpuProf = options['cpu-prof']!;
const baseUrl = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';

// ---------------------------------------------------------------------------------------------------
// Query timing: every statement the app's pg clients run, client side (pool waits not included).

interface QueryStat {
  calls: number;
  ms: number;
}
const queryStats = new Map<string, QueryStat>();
let timingQueries = false;
/** A statement's name: its first words, whitespace collapsed (parameters are $n, so calls group). */
const statementOf = (text: string) => text.replace(/\s+/g, ' ').trim().slice(0, 90);
{
  const original = pg.Client.prototype.query as (...args: unknown[]) => unknown;
  (pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown }).query = function (this: pg.Client, ...args: unknown[]) {
    if (!timingQueries) return original.apply(this, args);
    const first = args[0] as string | { text?: string; name?: string } | undefined;
    const key = typeof first === 'string' ? statementOf(first) : first?.name ? `prepared ${first.name}` : statementOf(first?.text ?? '?');
    const started = performance.now();
    const done = () => {
      const stat = queryStats.get(key) ?? { calls: 0, ms: 0 };
      stat.calls += 1;
      stat.ms += performance.now() - started;
      queryStats.set(key, stat);
    };
    const last = args.length - 1;
    if (typeof args[last] === 'function') {
      const callback = args[last] as (...a: unknown[]) => void;
      args[last] = (...a: unknown[]) => {
        done();
        callback(...a);
      };
      return original.apply(this, args);
    }
    if (first && typeof first === 'object' && typeof (first as { callback?: unknown }).callback === 'function') {
      const config = first as { callback: (...a: unknown[]) => void };
      const callback = config.callback;
      config.callback = (...a: unknown[]) => {
        done();
        callback(...a);
      };
      return original.apply(this, args);
    }
    const result = original.apply(this, args);
    if (result && typeof (result as Promise<unknown>).then === 'function') (result as Promise<unknown>).then(done, done);
    return result;
  };
}
function topQueries(n = 6): Array<{ statement: string; calls: number; totalMs: number; meanMs: number }> {
  return [...queryStats.entries()]
    .sort((a, b) => b[1].ms - a[1].ms)
    .slice(0, n)
    .map(([statement, s]) => ({ statement, calls: s.calls, totalMs: Math.round(s.ms), meanMs: round(s.ms / s.calls, 2) }));
}

// ---------------------------------------------------------------------------------------------------
// CPU profile of a phase (--cpu-prof): this process runs the apps and the stubs.

let inspector: Session | undefined;
async function startProfile(): Promise<void> {
  if (!cpuProf) return;
  inspector ??= new Session();
  inspector.connect();
  await inspector.post('Profiler.enable');
  await inspector.post('Profiler.setSamplingInterval', { interval: 500 });
  await inspector.post('Profiler.start');
}
async function stopProfile(name: string): Promise<ReturnType<typeof profileHotSpots> | undefined> {
  if (!cpuProf || !inspector) return undefined;
  const { profile } = await inspector.post('Profiler.stop');
  inspector.disconnect();
  const file = join(dataDir, `${name}.cpuprofile`);
  writeFileSync(file, JSON.stringify(profile));
  return profileHotSpots(file, [], 12);
}

// ---------------------------------------------------------------------------------------------------
// Set-up

type Result = Record<string, unknown>;
const results: Result[] = [];
const cleanups: Array<() => unknown> = [];
/** What the test servers take a tap Test for: only teardown. */
const owner = { teardown: (fn: () => unknown) => cleanups.push(fn) } as unknown as Test;
let scratch: Scratch | undefined;
const apps: App[] = [];
const dataDir = mkdtempSync(join(tmpdir(), 'bench-push-'));
const warnings: string[] = [];

async function cleanUp(): Promise<void> {
  await Promise.all(apps.splice(0).map((app) => app.close().catch(() => {})));
  for (const fn of cleanups.splice(0).reverse()) await Promise.resolve(fn()).catch(() => {});
  await scratch?.drop().catch((error: unknown) => console.error('dropping the scratch database failed:', error));
  rmSync(dataDir, { recursive: true, force: true });
}
const watchdog = cleanUpOnAbort(timeoutMinutes, cleanUp);

const fcm = await startFcmServer(owner);
const account = await fcm.serviceAccount('bench-push');
const apns = await startApnsServer(owner);
const webPush = await startWebPushEndpoint(owner);
const subscriptions = new Map<string, BrowserSubscription>();

async function startApp(index: number): Promise<App> {
  const env: Record<string, string> = {
    DATABASE_URL: scratch!.url,
    DATABASE_POOL_MAX: String(poolMax),
    MIGRATE_ON_START: index === 0 ? 'true' : 'false',
    DATA_DIR: join(dataDir, `app${index}`),
    JWT_SECRET,
    LOG_LEVEL: 'warn',
    SWEEP_INTERVAL_SECONDS: '86400',
    PUSH_GRACE_MS: '0',
    PUSH_POLL_MS: '60000',
    WEB_PUSH_ALLOW_PRIVATE: 'true',
    FCM_SERVICE_ACCOUNT_FILE: account.file,
    FCM_BASE_URL: fcm.base,
    ...apns.env,
    ...(concurrency !== undefined ? { PUSH_CONCURRENCY: String(concurrency) } : {}),
  };
  const logStream = {
    write(line: string) {
      warnings.push(`app${index}: ${line.trim().slice(0, 500)}`);
    },
  };
  // No Redis: the push worker needs only the database; the bus stays in memory.
  const app = await buildApp(loadConfig(env), { redis: null, logStream });
  apps.push(app);
  return app;
}

// ---------------------------------------------------------------------------------------------------
// Seeding

interface Seeded {
  recipientIds: string[];
  /** Conversation and sender of each message slot (one per conversation). */
  conversations: Array<{ id: string; senderId: string }>;
  /** Device tokens (FCM/APNs token, Web Push endpoint) of the recipients. */
  tokens: Set<string>;
}

let tagCounter = 0;

async function seedDevices(db: pg.ClientBase, users: Array<{ id: string; sessionId: string }>, platform: Platform): Promise<Set<string>> {
  const tokens: string[] = [];
  const keys: Array<{ p256dh: string; auth: string }> = [];
  for (let i = 0; i < users.length; i++) {
    if (platform === 'webpush') {
      const subscription = webPush.subscribe();
      subscriptions.set(subscription.json.endpoint, subscription);
      tokens.push(subscription.json.endpoint);
      keys.push(subscription.json.keys);
    } else {
      tokens.push(platform === 'apns' ? apnsDeviceToken() : `fcm:${randomUUID()}${randomUUID()}`.replaceAll('-', ''));
    }
  }
  await seedPushDevices(db, users, platform, tokens, platform === 'webpush' ? keys : undefined);
  return new Set(tokens);
}

/** `count` recipients with a device each, and `perRecipient` direct chats each, every one with its own sender. */
async function seedCase(platform: Platform, count: number, perRecipient: number): Promise<Seeded> {
  const db = scratch!.client;
  const users = await seedUsers(db, count + perRecipient, `bp${tagCounter++}`);
  const recipientUsers = users.slice(0, count);
  const senders = users.slice(count);
  const pairs: Array<[string, string]> = [];
  for (const sender of senders) for (const recipient of recipientUsers) pairs.push([sender.id, recipient.id]);
  const ids: string[] = [];
  for (let from = 0; from < pairs.length; from += 10_000) ids.push(...(await seedDirects(db, pairs.slice(from, from + 10_000))));
  const tokens = await seedDevices(db, recipientUsers, platform);
  return { recipientIds: recipientUsers.map((u) => u.id), conversations: ids.map((id, i) => ({ id, senderId: pairs[i]![0] })), tokens };
}

/**
 * One message in each conversation, written as MessageRepository.append writes a send: the
 * conversation's seq bumped (last_seq, last_message_seq, last_xid, last_message_at), the sender's
 * read and delivered receipts moved to it, the members' activity, and the message row (its xid is the
 * writing transaction: what the push planner looks for).
 */
async function insertMessages(conversations: Array<{ id: string; senderId: string }>, label: string): Promise<void> {
  const db = scratch!.client;
  for (let from = 0; from < conversations.length; from += 10_000) {
    const chunk = conversations.slice(from, from + 10_000);
    await db.query(
      `with input as (select * from unnest($1::uuid[], $2::uuid[]) with ordinality as t(conversation_id, sender_id, ord)),
       bumped as (
         update conversations c set last_seq = c.last_seq + 1, last_message_seq = c.last_seq + 1, last_xid = pg_current_xact_id(), last_message_at = date_trunc('milliseconds', now())
         from input i where c.id = i.conversation_id returning c.id, c.last_seq),
       touched as (
         update conversation_members m set activity_at = date_trunc('milliseconds', now()),
           read_seq = case when m.user_id = i.sender_id then b.last_seq else m.read_seq end,
           delivered_seq = case when m.user_id = i.sender_id then b.last_seq else m.delivered_seq end
         from bumped b join input i on i.conversation_id = b.id where m.conversation_id = b.id and m.left_at is null)
       insert into messages (id, conversation_id, seq, sender_id, client_id, type, body, mentions, attachments, created_at)
       select gen_random_uuid(), b.id, b.last_seq, i.sender_id, $3 || '-' || i.ord || '-' || b.last_seq, 'text', 'bench push ' || $3 || ' ' || i.ord, '[]'::jsonb, '[]'::jsonb, date_trunc('milliseconds', now())
       from bumped b join input i on i.conversation_id = b.id`,
      [chunk.map((c) => c.id), chunk.map((c) => c.senderId), `${label}-${from}`],
    );
  }
}

/** Times `fn` once. */
async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await fn();
  return { value, ms: performance.now() - started };
}

/** Median cost of a plan() round with nothing new. */
async function emptyPlanMs(app: App, rounds = 20): Promise<{ p50: number; p95: number; p99: number; max: number }> {
  const times: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const { value, ms } = await timed(() => app.services.push.plan());
    if (value !== 0) throw new Error(`an empty plan round planned ${value}`);
    times.push(ms);
  }
  return percentiles(times);
}

// ---------------------------------------------------------------------------------------------------
// Cases

/** Plan only: `size` direct messages to `size` recipients, then size/500 messages in a group of 501. */
async function runPlan(size: number): Promise<Result[]> {
  const db = scratch!.client;
  const app = apps[0]!;
  const out: Result[] = [];
  // Direct chats: one message each, one recipient device each.
  {
    const seeded = await seedCase('fcm', size, 1);
    await insertMessages(seeded.conversations, `plan${size}`);
    queryStats.clear();
    timingQueries = true;
    const { value: planned, ms } = await timed(() => app.services.push.plan());
    timingQueries = false;
    const empty = await emptyPlanMs(app);
    out.push({
      case: 'plan',
      label: `plan ${size} direct messages (1 device each)`,
      messages: size,
      planned,
      expected: size,
      ok: planned === size,
      planMs: round(ms),
      plannedPerSec: Math.round(planned / (ms / 1000)),
      devicesInDatabase: size,
      emptyPlanMs: empty,
      queries: topQueries(4),
    });
    await db.query(`delete from push_devices where user_id = any($1::uuid[])`, [seeded.recipientIds]);
  }
  // A group of 501: each message fans out to 500 devices.
  {
    const groupMessages = Math.max(1, Math.round(size / 500));
    const users = await seedUsers(db, 501, `bpg${tagCounter++}`);
    const groupId = await seedGroup(
      db,
      users.map((u) => u.id),
    );
    await seedDevices(db, users, 'fcm');
    // One sender: a member who sent a later message has read up to it (their receipt), so is due no push for an earlier one.
    for (let k = 0; k < groupMessages; k++) await insertMessages([{ id: groupId, senderId: users[0]!.id }], `planG${size}-${k}`);
    queryStats.clear();
    timingQueries = true;
    const { value: planned, ms } = await timed(() => app.services.push.plan());
    timingQueries = false;
    out.push({
      case: 'plan',
      label: `plan ${groupMessages} messages in a group of 501 (the latest to 500 devices)`,
      messages: groupMessages,
      planned,
      expected: 500,
      ok: planned === 500,
      planMs: round(ms),
      plannedPerSec: Math.round(planned / (ms / 1000)),
      queries: topQueries(4),
    });
    await db.query(`delete from push_devices where user_id = any($1::uuid[])`, [users.map((u) => u.id)]);
  }
  return out;
}

interface StubPush {
  /** Device token or Web Push endpoint. */
  device: string;
  messageId: string;
}

/** Successful pushes the stubs took for `tokens`, from request `from` of each stub on. */
function stubPushes(platform: Platform, tokens: Set<string>, from: number): StubPush[] {
  const out: StubPush[] = [];
  if (platform === 'fcm') {
    for (const r of fcm.requests.slice(from)) {
      const message = r.body.message as { token?: string; data?: { messageId?: string } } | undefined;
      if (r.status === 200 && message?.token && tokens.has(message.token)) out.push({ device: message.token, messageId: String(message.data?.messageId) });
    }
  } else if (platform === 'apns') {
    for (const r of apns.requests.slice(from)) {
      if (r.status === 200 && tokens.has(r.deviceToken)) out.push({ device: r.deviceToken, messageId: String((r.body as { messageId?: string } | undefined)?.messageId) });
    }
  } else {
    for (const r of webPush.requests.slice(from)) {
      const endpoint = `${webPush.base}${r.path}`;
      const subscription = subscriptions.get(endpoint);
      if (r.status < 200 || r.status >= 300 || !subscription || !tokens.has(endpoint)) continue;
      // Read as the browser would: decrypted with the subscription's keys.
      const payload = subscription.decrypt(r.body) as { messageId?: string };
      out.push({ device: endpoint, messageId: String(payload.messageId) });
    }
  }
  return out;
}

const stubCount = (platform: Platform) => (platform === 'fcm' ? fcm.requests.length : platform === 'apns' ? apns.requests.length : webPush.requests.length);

async function runSend(platform: Platform, instanceCount: number): Promise<Result> {
  const db = scratch!.client;
  while (apps.length < instanceCount) await startApp(apps.length);
  const running = apps.slice(0, instanceCount);
  const seeded = await seedCase(platform, recipients, conversationsPerRecipient);
  const messages = seeded.conversations.length * burst;
  for (let b = 0; b < burst; b++) await insertMessages(seeded.conversations, `send-${platform}-${instanceCount}-${b}`);
  const stubFrom = stubCount(platform);

  queryStats.clear();
  timingQueries = true;
  const plan = await timed(() => running[0]!.services.push.plan());
  const planQueries = topQueries(3);
  queryStats.clear();

  // Every instance runs rounds back to back until a round finds nothing to plan or claim.
  const outcomes: Record<string, number> = {};
  const roundMs: number[] = [];
  const roundsPerInstance: number[] = [];
  await startProfile();
  const sampler = options['pg-sample'] ? sampleActivity(scratch!.url) : undefined;
  const cpuBefore = cpuSnapshot([]);
  const started = performance.now();
  await Promise.all(
    running.map(async (app, index) => {
      let rounds = 0;
      for (;;) {
        const t0 = performance.now();
        const result = await app.services.push.runOnce();
        roundMs.push(performance.now() - t0);
        rounds += 1;
        let handled = 0;
        for (const [outcome, n] of Object.entries(result.outcomes)) {
          outcomes[outcome] = (outcomes[outcome] ?? 0) + n;
          handled += n;
        }
        if (handled === 0 && result.planned === 0) break;
      }
      roundsPerInstance[index] = rounds;
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  timingQueries = false;
  const cpu = cpuPercent(cpuBefore, cpuSnapshot([]), seconds * 1000);
  const profile = await stopProfile(`send-${platform}-${instanceCount}`);
  const pgActivity = await sampler?.stop();

  // Read back: every delivery of the case, and every push the stub took.
  const states = Object.fromEntries(
    (await db.query<{ state: string; n: string }>(`select state || coalesce(': ' || last_error, '') as state, count(*) as n from push_deliveries where user_id = any($1::uuid[]) group by 1 order by 1`, [seeded.recipientIds])).rows.map(
      (r) => [r.state, Number(r.n)],
    ),
  );
  const pushes = stubPushes(platform, seeded.tokens, stubFrom);
  const distinct = new Set(pushes.map((p) => `${p.device}/${p.messageId}`));
  const sent = states.sent ?? 0;
  // The next case starts without these devices (their deliveries go with them): every plan() round
  // costs in proportion to the devices there are (see the plan cases), so cases stay comparable.
  await db.query(`delete from push_devices where user_id = any($1::uuid[])`, [seeded.recipientIds]);
  // Each chat's latest message planned and pushed once (a burst is planned as its latest); the stub has exactly the sent ones.
  const chats = seeded.conversations.length;
  const ok = plan.value === chats && sent === chats && pushes.length === sent && distinct.size === sent;
  return {
    case: 'send',
    label: `send ${platform}, ${instanceCount} instance${instanceCount > 1 ? 's' : ''} (${recipients} devices, ${messages} messages)`,
    platform,
    instances: instanceCount,
    devices: recipients,
    messages,
    planned: plan.value,
    planMs: round(plan.ms),
    plannedPerSec: Math.round(plan.value / (plan.ms / 1000)),
    sendSeconds: round(seconds, 2),
    pushesPerSec: Math.round(sent / seconds),
    rounds: roundsPerInstance,
    roundMs: percentiles(roundMs),
    outcomes,
    deliveryStates: states,
    stubReceived: pushes.length,
    stubDistinct: distinct.size,
    duplicated: pushes.length - distinct.size,
    ok,
    cpuPercentOfOneCore: Object.fromEntries(Object.entries(cpu).filter(([, v]) => v > 0)),
    planQueries,
    sendQueries: topQueries(6),
    ...(profile ? { cpuProfile: profile } : {}),
    ...(pgActivity ? { pgActivity } : {}),
  };
}

// ---------------------------------------------------------------------------------------------------
// Output

function emit(result: Result): void {
  results.push(result);
  console.log(JSON.stringify(result));
}

function table(): string {
  const lines: string[] = [];
  const plans = results.filter((r) => r.case === 'plan');
  if (plans.length > 0) {
    lines.push('plan (one PushService.plan() call)', '  case                                                      planned   ms       deliveries/s  ok');
    for (const r of plans) lines.push(`  ${String(r.label).padEnd(56)}  ${String(r.planned).padStart(7)}  ${String(r.planMs).padStart(7)}  ${String(r.plannedPerSec).padStart(12)}  ${r.ok}`);
    for (const r of plans as Array<{ emptyPlanMs?: { p50: number; p99: number }; devicesInDatabase?: number }>) {
      if (r.emptyPlanMs) lines.push(`  a round's plan() with nothing new, ${r.devicesInDatabase} devices in the database: p50 ${r.emptyPlanMs.p50} ms, p99 ${r.emptyPlanMs.p99} ms`);
    }
  }
  const sends = results.filter((r) => r.case === 'send');
  if (sends.length > 0) {
    lines.push('', 'send (runOnce back to back until the outbox is empty)', '  platform  inst  messages  plan/s   seconds  pushes/s  round p50/p99 ms  sent   stub  dup  ok');
    for (const r of sends) {
      const rm = r.roundMs as { p50: number; p99: number };
      const states = r.deliveryStates as Record<string, number>;
      lines.push(
        `  ${String(r.platform).padEnd(8)}  ${String(r.instances).padStart(4)}  ${String(r.messages).padStart(8)}  ${String(r.plannedPerSec).padStart(6)}  ${String(r.sendSeconds).padStart(7)}  ${String(r.pushesPerSec).padStart(8)}  ${`${rm.p50}/${rm.p99}`.padStart(16)}  ${String(states.sent ?? 0).padStart(5)}  ${String(r.stubReceived).padStart(5)}  ${String(r.duplicated).padStart(3)}  ${r.ok}`,
      );
    }
  }
  for (const r of sends) {
    const profile = r.cpuProfile as ReturnType<typeof profileHotSpots> | undefined;
    if (!profile) continue;
    lines.push('', `CPU profile of ${String(r.label)}: busy ${profile.busyPct}% of samples; shares of busy time`, `  by package: ${profile.packages.map((p) => `${p.name} ${p.pct}%`).join(', ')}`);
    for (const spot of profile.functions) lines.push(`  ${String(spot.selfPct).padStart(5)}%  ${spot.fn}  ${spot.where}`);
  }
  for (const r of [...plans, ...sends]) {
    const queries = [...((r.planQueries ?? []) as Array<Record<string, unknown>>), ...((r.sendQueries ?? r.queries ?? []) as Array<Record<string, unknown>>)];
    if (r.case !== 'send') continue;
    lines.push('', `queries of ${String(r.label)} (client-side time, summed over concurrent calls)`);
    for (const q of queries) lines.push(`  ${String(q.calls).padStart(6)} calls  ${String(q.totalMs).padStart(7)} ms  ${String(q.meanMs).padStart(7)} ms each  ${String(q.statement)}`);
    const activity = r.pgActivity as { samples: number; meanActiveBackends: number; commitsPerSec: number; top: Array<{ pct: number; statement: string; waits?: unknown }> } | undefined;
    if (activity) {
      lines.push(`  pg_stat_activity: ${activity.meanActiveBackends} active backends on average, ${activity.commitsPerSec} commits/s; share of active samples:`);
      for (const t of activity.top.slice(0, 6)) lines.push(`    ${String(t.pct).padStart(5)}%  ${t.statement}${t.waits ? `  waits ${JSON.stringify(t.waits)}` : ''}`);
    }
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  scratch = await scratchDatabase(baseUrl);
  console.error(`scratch database ${scratch.name}; stubs: FCM ${fcm.base}, APNs ${apns.baseUrl}, Web Push ${webPush.base}`);
  await startApp(0);
  for (const size of planSizes) for (const r of await runPlan(size)) emit(r);
  for (const platform of platforms as Platform[]) for (const n of instanceCounts) emit(await runSend(platform, n));
  console.log('');
  console.log(table());
  const failed = results.filter((r) => r.ok !== true);
  if (failed.length > 0) {
    console.log(`\n${failed.length} case(s) NOT ok: a message was not pushed exactly once (see deliveryStates, stubReceived, duplicated)`);
    process.exitCode = 1;
  }
  if (warnings.length > 0) console.error(`\n${warnings.length} app log line(s) at warn or above; first ones:\n${warnings.slice(0, 5).join('\n')}`);
}

try {
  await main();
} catch (error) {
  console.error(error);
  if (warnings.length > 0) console.error(warnings.slice(0, 10).join('\n'));
  process.exitCode = 1;
} finally {
  clearTimeout(watchdog);
  await cleanUp();
}
