/**
 * Messaging at scale: fills one direct conversation with N messages (default 1 000 000) and gives one
 * user C conversations (default 1 000), then times the inbox (GET /chat), history pages (newest, the
 * middle, random deep ones) and sends (POST /message) through the real app with `app.inject`, so the
 * figures are server work (routing, validation, auth, services, SQL), not network. It measures twice,
 * at a small size (10 000 messages, 100 conversations: enough for full 50-item pages) and at the full
 * one, to show the figures stay flat as the data grows, then prints the plan (EXPLAIN ANALYZE) of every
 * statement each request ran, and flags sequential scans and sorts on the chat tables.
 *
 *   npx tsx bench/messaging.ts [--messages 1000000] [--conversations 1000] [--runs 300]
 *   DATABASE_URL=postgres://... npx tsx bench/messaging.ts   # a scratch database on that server, dropped at the end
 *
 * Without DATABASE_URL it runs on an in-memory PGlite, where the defaults shrink to 100 000 messages.
 * Messages and conversations are bulk-inserted with SQL (the API would take hours for a million);
 * everything timed goes through the API. It stops by itself after --timeout-minutes (default 30).
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import { PGlite } from '@electric-sql/pglite';
import { sql } from 'drizzle-orm';
import pg from 'pg';
import { type App, buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { type DatabaseHandle, createDatabase, pgliteHandle } from '../src/db/client.js';
import { migrate } from '../src/db/migrate.js';
import { rowsOf } from '../src/db/raw.js';
import { sessions, users } from '../src/db/schema.js';
import { createScratchPostgres } from './scratch-postgres.js';
import { cleanUpOnAbort } from './cli.js';

const { values: options } = parseArgs({
  options: {
    messages: { type: 'string' },
    conversations: { type: 'string' },
    runs: { type: 'string', default: '300' },
    'timeout-minutes': { type: 'string', default: '30' },
    help: { type: 'boolean', default: false },
  },
});
if (options.help) {
  console.log('usage: npx tsx bench/messaging.ts [--messages N] [--conversations N] [--runs N] [--timeout-minutes N]');
  process.exit(0);
}
const positive = (name: string, value: string | undefined, fallback: number): number => {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got ${JSON.stringify(value)}`);
  return n;
};

/** Only DATABASE_URL is taken from the environment: no Redis, no providers, nothing off the machine. */
const baseUrl = loadConfig().database.url;
const driverName = baseUrl ? 'pg' : 'pglite';
const fullMessages = positive('messages', options.messages, baseUrl ? 1_000_000 : 100_000);
const fullConversations = positive('conversations', options.conversations, 1_000);
const runs = positive('runs', options.runs, 300);
const timeoutMinutes = positive('timeout-minutes', options['timeout-minutes'], 30);
const warmup = 100;
const bulkChunk = 100_000;

// ---------------------------------------------------------------------------------------------------
// Scratch database, statement capture and EXPLAIN

interface Statement {
  text: string;
  values: unknown[];
  ms: number;
}
/** While set, every statement the app sends is appended here (with how long it took). */
let recording: Statement[] | null = null;

function track(text: string | undefined, values: unknown, result: unknown): void {
  if (!recording || !text || !result || typeof (result as Promise<unknown>).then !== 'function') return;
  const entry: Statement = { text, values: Array.isArray(values) ? [...values] : [], ms: Number.NaN };
  const started = performance.now();
  recording.push(entry);
  const done = () => {
    entry.ms = performance.now() - started;
  };
  (result as Promise<unknown>).then(done, done);
}

interface Scratch {
  handle: DatabaseHandle;
  label: string;
  /** A query on a connection of its own (never recorded): bulk loads, EXPLAIN. */
  side: (text: string, values?: unknown[]) => Promise<Array<Record<string, unknown>>>;
  drop: () => Promise<void>;
}

async function scratchDatabase(): Promise<Scratch> {
  if (!baseUrl) {
    const client = new PGlite();
    const original = client.query.bind(client) as (text: string, params?: unknown[], opts?: unknown) => Promise<{ rows: Array<Record<string, unknown>> }>;
    (client as unknown as { query: typeof original }).query = (text, params, opts) => {
      const result = original(text, params, opts);
      track(text, params, result);
      return result;
    };
    return {
      handle: pgliteHandle(client),
      label: 'PGlite in memory',
      side: async (text, values) => (await original(text, values)).rows,
      drop: async () => {
        if (!client.closed) await client.close();
      },
    };
  }
  const proto = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
  const originalQuery = proto.query;
  proto.query = function (this: unknown, ...args: unknown[]) {
    const config = args[0] as string | { text?: string; values?: unknown[] } | undefined;
    const text = typeof config === 'string' ? config : config?.text;
    const values = Array.isArray(args[1]) ? args[1] : typeof config === 'object' ? config?.values : undefined;
    // pg-pool calls with a callback (no promise back): time the statement through the callback.
    const callbackAt = args.findIndex((arg) => typeof arg === 'function');
    if (callbackAt >= 0 && recording) {
      let settle!: () => void;
      track(text, values, new Promise<void>((resolve) => (settle = resolve)));
      const callback = args[callbackAt] as (...a: unknown[]) => unknown;
      args[callbackAt] = (...a: unknown[]) => {
        settle();
        return callback(...a);
      };
      return originalQuery.apply(this, args);
    }
    const result = originalQuery.apply(this, args);
    track(text, values, result);
    return result;
  };
  const scratch = await createScratchPostgres(baseUrl, 'bench_messaging');
  const handle = createDatabase({ url: scratch.url, poolMax: 10 });
  const side = new pg.Client({ connectionString: scratch.url });
  await side.connect();
  let dropped = false;
  return {
    handle,
    label: `Postgres, scratch database ${scratch.name}`,
    side: async (text, values) => (await side.query(text, values)).rows as Array<Record<string, unknown>>,
    drop: async () => {
      if (dropped) return;
      dropped = true;
      await side.end().catch(() => {});
      await handle.close().catch(() => {});
      await scratch.drop();
    },
  };
}

/**
 * A plan made readable: long lines cut, and runs of alike sibling nodes (the 50 index probes of an OR
 * list, say) folded into the first one and a count.
 */
function compactPlan(lines: string[]): string[] {
  const indent = (line: string) => line.length - line.trimStart().length;
  const isNode = (line: string) => line.trimStart().startsWith('->');
  const cut = (line: string) => (line.length > 200 ? `${line.slice(0, 197)}...` : line);
  const signature = (line: string) => line.replace(/\(actual[^)]*\)/g, '').replace(/'[^']*'/g, "'…'").trim();
  const out: string[] = [];
  let previous: string | undefined;
  let folded = 0;
  let foldedDepth = 0;
  const flush = () => {
    if (folded > 0) out.push(`${' '.repeat(foldedDepth)}   … and ${folded} more alike`);
    folded = 0;
  };
  for (let i = 0; i < lines.length; ) {
    const line = lines[i]!;
    if (!isNode(line)) {
      flush();
      previous = undefined;
      out.push(cut(line));
      i++;
      continue;
    }
    const depth = indent(line);
    let end = i + 1;
    while (end < lines.length && indent(lines[end]!) > depth) end++;
    const sig = `${depth}|${lines.slice(i, end).map(signature).join('\n')}`;
    if (sig === previous) {
      folded++;
    } else {
      flush();
      out.push(cut(line), ...compactPlan(lines.slice(i + 1, end)));
      previous = sig;
      foldedDepth = depth;
    }
    i = end;
  }
  flush();
  return out;
}

/** EXPLAIN (ANALYZE, BUFFERS) of a recorded statement, inside a transaction that is rolled back. */
async function explain(scratch: Scratch, statement: Statement, substitute: Map<string, string>): Promise<string[]> {
  const values = statement.values.map((v) => (typeof v === 'string' && substitute.has(v) ? substitute.get(v) : v));
  await scratch.side('begin');
  try {
    const rows = await scratch.side(`explain (analyze, buffers, costs off) ${statement.text}`, values);
    return rows.map((row) => String(Object.values(row)[0]));
  } finally {
    await scratch.side('rollback');
  }
}

// ---------------------------------------------------------------------------------------------------
// Setup

const startedAt = performance.now();
const seconds = (since: number) => ((performance.now() - since) / 1000).toFixed(1);
const scratch = await scratchDatabase();
let app: App | undefined;
const dataDir = mkdtempSync(join(tmpdir(), 'bench-messaging-'));

async function cleanUp(): Promise<void> {
  recording = null;
  await app?.close().catch(() => {});
  await scratch.drop().catch((error: unknown) => console.error('dropping the scratch database failed:', error));
  rmSync(dataDir, { recursive: true, force: true });
}
const watchdog = cleanUpOnAbort(timeoutMinutes, cleanUp);

try {
  await main();
} catch (error) {
  console.error(error);
  process.exitCode = 1;
} finally {
  clearTimeout(watchdog);
  await cleanUp();
}

async function main(): Promise<void> {
  const { handle } = scratch;
  const db = handle.db;
  await migrate(handle);
  console.log(`messaging benchmark on ${scratch.label}; requests through app.inject (in-process: server work, no network)`);
  if (!baseUrl && options.messages === undefined) console.log('no DATABASE_URL: PGlite defaults to 100 000 messages (pass --messages to change it)');

  // Errors are kept in memory and shown only if a request fails; nothing else is logged.
  const errorLog: string[] = [];
  const logStream = new Writable({
    write(chunk, _encoding, done) {
      errorLog.push(String(chunk).trim());
      if (errorLog.length > 20) errorLog.shift();
      done();
    },
  });
  const failure = (what: string, response: { statusCode: number; body: string }) =>
    new Error(`${what} answered ${response.statusCode}: ${response.body}${errorLog.length > 0 ? `\nserver log:\n${errorLog.slice(-3).join('\n')}` : ''}`);
  app = await buildApp(
    loadConfig({
      LOG_LEVEL: 'error',
      RATE_LIMIT_MAX: '100000000',
      AUTH_LOGIN_OTP: 'false',
      JWT_SECRET: 'bench-messaging-secret-0123456789abcdef',
      ACCESS_TOKEN_TTL_SECONDS: '86400',
      MIGRATE_ON_START: 'false',
      SWEEP_INTERVAL_SECONDS: '86400',
      DATA_DIR: dataDir,
    }),
    { database: handle, logStream },
  );
  const theApp = app;

  // Three users with live sessions; tokens minted directly (sign-up needs an OTP round trip).
  const people = await db
    .insert(users)
    .values(['alice', 'bob', 'carol'].map((name) => ({ username: `bench_${name}`, displayName: `Bench ${name[0]!.toUpperCase()}${name.slice(1)}`, passwordHash: 'x' })))
    .returning({ id: users.id });
  const [alice, bob, carol] = people.map((p) => p.id) as [string, string, string];
  const tokens = new Map<string, string>();
  for (const userId of [alice, bob, carol]) {
    const [session] = await db.insert(sessions).values({ userId, expiresAt: new Date(Date.now() + 86_400_000) }).returning({ id: sessions.id });
    tokens.set(userId, theApp.accessTokens.sign({ sub: userId, sid: session!.id, role: 'user' }));
  }

  async function call(userId: string, method: 'GET' | 'POST', url: string, payload?: unknown) {
    const response = await theApp.inject({ method, url, headers: { authorization: `Bearer ${tokens.get(userId)}` }, ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }) });
    return response;
  }
  async function expectOk(userId: string, method: 'GET' | 'POST', url: string, payload?: unknown): Promise<Record<string, unknown>> {
    const response = await call(userId, method, url, payload);
    if (response.statusCode >= 300) throw failure(`${method} ${url}`, response);
    return response.json() as Record<string, unknown>;
  }

  // The conversations the API creates: the big direct chat and one group; the rest come in bulk.
  const direct = await expectOk(alice, 'POST', '/api/v1/chat/direct', { userId: bob });
  const directId = String(direct.id);
  const group = await expectOk(alice, 'POST', '/api/v1/chat/groups', { title: 'Bench group 0', memberIds: [carol] });
  await expectOk(carol, 'POST', '/api/v1/message', { conversationId: String(group.id), clientId: 'bench-group-0', type: 'text', body: 'hello group' });

  const scalar = async (query: ReturnType<typeof sql>) => Number(Object.values(rowsOf(await db.execute(query))[0] ?? { n: 0 })[0]);

  /** Appends messages to the direct chat until its last seq is `target`, as alternating senders. */
  async function growDirect(target: number): Promise<void> {
    let seq = await scalar(sql`select last_seq from conversations where id = ${directId}`);
    if (seq >= target) return;
    while (seq < target) {
      const to = Math.min(target, seq + bulkChunk);
      await scratch.side(
        `insert into messages (id, conversation_id, seq, sender_id, client_id, type, body, created_at)
         select gen_random_uuid(), $1, g, case when g % 2 = 0 then $2::uuid else $3::uuid end, 'bulk-' || g, 'text',
           'message ' || g || ' about the ' || (array['lunch', 'project', 'weekend', 'release', 'meeting'])[1 + g % 5] || ' ' || md5(g::text),
           now() - make_interval(secs => ($5 - g) / 10.0)
         from generate_series($4::bigint, $5::bigint) g`,
        [directId, alice, bob, seq + 1, to],
      );
      seq = to;
    }
    await scratch.side(`update conversations set last_seq = $2, last_message_seq = $2, last_message_at = now() where id = $1`, [directId, target]);
    await scratch.side(
      `update conversation_members set read_seq = case when user_id = $2 then $3 else $3 - 10 end, delivered_seq = $3, activity_at = now()
       where conversation_id = $1`,
      [directId, alice, target],
    );
  }

  /** Adds bulk groups (alice owner, carol member, 3 messages each) until alice is in `target` conversations. */
  async function growInbox(target: number): Promise<void> {
    const have = await scalar(sql`select count(*) from conversation_members where user_id = ${alice}`);
    if (have >= target) return;
    await scratch.side(
      `with g as (
         select gen_random_uuid() as id, n from generate_series($3::int, $4::int) n
       ), c as (
         insert into conversations (id, kind, title, room_name, created_by, last_seq, last_message_seq, last_message_at, member_count, created_at, updated_at)
         select id, 'group', 'Bench group ' || n, 'bench_' || n, $1, 3, 3, now() - make_interval(mins => n), 2, now() - interval '30 days', now() - make_interval(mins => n) from g
         returning id
       ), m as (
         insert into conversation_members (conversation_id, user_id, role, joined_at, read_seq, delivered_seq, activity_at)
         select g.id, u.id, case when u.id = $1 then 'owner' else 'member' end, now() - interval '30 days',
           case when u.id = $1 then 2 else 3 end, 3, now() - make_interval(mins => g.n)
         from g cross join (values ($1::uuid), ($2::uuid)) as u(id)
       )
       insert into messages (id, conversation_id, seq, sender_id, client_id, type, body, created_at)
       select gen_random_uuid(), g.id, s, case when s = 2 then $1::uuid else $2::uuid end, 'bulk-g' || g.n || '-' || s, 'text',
         'group ' || g.n || ' message ' || s, now() - make_interval(mins => g.n) - make_interval(secs => 3 - s)
       from g cross join generate_series(1, 3) s`,
      [alice, carol, have, target - 1],
    );
  }

  async function analyze(): Promise<void> {
    for (const table of ['messages', 'conversations', 'conversation_members', 'users', 'sessions']) await scratch.side(`vacuum analyze ${table}`);
  }

  // ---------------------------------------------------------------------------------------------------
  // Measuring

  type Op = 'inbox' | 'historyNewest' | 'historyMiddle' | 'historyRandom' | 'send';
  const labels: Record<Op, string> = {
    inbox: 'GET /chat?limit=50 (inbox, first page)',
    historyNewest: 'GET /message/chat/:id?limit=50 (newest)',
    historyMiddle: '  … ?before=<middle seq> (deep page)',
    historyRandom: '  … ?before=<random seq> (random pages)',
    send: 'POST /message (text, sequential)',
  };
  const shortLabels: Record<Op, string> = {
    inbox: 'GET /chat (inbox)',
    historyNewest: 'history, newest page',
    historyMiddle: 'history, middle page',
    historyRandom: 'history, random pages',
    send: 'POST /message (send)',
  };
  interface Figures {
    p50: number;
    p99: number;
    max: number;
  }
  interface Phase {
    messages: number;
    conversations: number;
    seedSeconds: number;
    results: Record<Op, Figures>;
  }
  let sendCounter = 0;

  function request(op: Op, lastSeq: number): { userId: string; method: 'GET' | 'POST'; url: string; payload?: unknown; clientId?: string } {
    switch (op) {
      case 'inbox':
        return { userId: alice, method: 'GET', url: '/api/v1/chat?limit=50' };
      case 'historyNewest':
        return { userId: alice, method: 'GET', url: `/api/v1/message/chat/${directId}?limit=50` };
      case 'historyMiddle':
        return { userId: alice, method: 'GET', url: `/api/v1/message/chat/${directId}?limit=50&before=${Math.floor(lastSeq / 2)}` };
      case 'historyRandom':
        return { userId: alice, method: 'GET', url: `/api/v1/message/chat/${directId}?limit=50&before=${51 + Math.floor(Math.random() * Math.max(1, lastSeq - 50))}` };
      case 'send': {
        const clientId = `bench-send-${++sendCounter}`;
        return { userId: alice, method: 'POST', url: '/api/v1/message', payload: { conversationId: directId, clientId, type: 'text', body: `benchmark send number ${sendCounter}` }, clientId };
      }
    }
  }

  async function timeOp(op: Op, inboxSize: number): Promise<Figures> {
    const times: number[] = [];
    const lastSeq = await scalar(sql`select last_seq from conversations where id = ${directId}`);
    for (let i = 0; i < warmup + runs; i++) {
      const r = request(op, lastSeq);
      const start = performance.now();
      const response = await call(r.userId, r.method, r.url, r.payload);
      const elapsed = performance.now() - start;
      if (response.statusCode !== (op === 'send' ? 201 : 200)) throw failure(`${r.method} ${r.url}`, response);
      if (op !== 'send') {
        const expected = op === 'inbox' ? Math.min(50, inboxSize) : 50;
        if ((response.json() as { items: unknown[] }).items.length !== expected) throw new Error(`${r.url} returned a short page`);
      }
      if (i >= warmup) times.push(elapsed);
    }
    times.sort((a, b) => a - b);
    const pct = (p: number) => times[Math.min(times.length - 1, Math.floor(times.length * p))]!;
    return { p50: round(pct(0.5)), p99: round(pct(0.99)), max: round(times.at(-1)!) };
  }
  const round = (n: number) => Math.round(n * 100) / 100;
  const ops: Op[] = ['inbox', 'historyNewest', 'historyMiddle', 'historyRandom', 'send'];

  async function measure(messages: number, conversations: number): Promise<Phase> {
    const seedStart = performance.now();
    await growDirect(messages);
    await growInbox(conversations);
    await analyze();
    const seedSeconds = Number(seconds(seedStart));
    const lastSeq = await scalar(sql`select last_seq from conversations where id = ${directId}`);
    const inboxSize = await scalar(sql`select count(*) from conversation_members where user_id = ${alice}`);
    const stored = await scalar(sql`select count(*) from messages`);
    console.log(`\n${lastSeq.toLocaleString('en')} messages in the direct chat, ${inboxSize.toLocaleString('en')} conversations for the user, ${stored.toLocaleString('en')} messages stored (seeded in ${seedSeconds} s)`);
    console.log(`  ${'request'.padEnd(44)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)} ${'max ms'.padStart(8)}   (${runs} runs after ${warmup} warm-up)`);
    const results = {} as Record<Op, Figures>;
    for (const op of ops) {
      results[op] = await timeOp(op, inboxSize);
      const f = results[op];
      console.log(`  ${labels[op].padEnd(44)} ${f.p50.toFixed(2).padStart(8)} ${f.p99.toFixed(2).padStart(8)} ${f.max.toFixed(2).padStart(8)}`);
    }
    return { messages: lastSeq, conversations: inboxSize, seedSeconds, results };
  }

  const sizes = [
    { messages: Math.min(10_000, fullMessages), conversations: Math.min(100, fullConversations) },
    { messages: fullMessages, conversations: fullConversations },
  ].filter((size, i, all) => i === 0 || size.messages > all[0]!.messages || size.conversations > all[0]!.conversations);
  const phases: Phase[] = [];
  for (const size of sizes) phases.push(await measure(size.messages, size.conversations));

  // ---------------------------------------------------------------------------------------------------
  // Plans of what each request ran, at the largest size

  console.log(`\nstatements each request runs at ${phases.at(-1)!.messages.toLocaleString('en')} messages / ${phases.at(-1)!.conversations.toLocaleString('en')} conversations, with EXPLAIN (ANALYZE, BUFFERS) of each (rolled back):`);
  const warnings: string[] = [];
  for (const op of ['inbox', 'historyNewest', 'historyMiddle', 'send'] as const) {
    const lastSeq = await scalar(sql`select last_seq from conversations where id = ${directId}`);
    const r = request(op, lastSeq);
    recording = [];
    const start = performance.now();
    const response = await call(r.userId, r.method, r.url, r.payload);
    const total = performance.now() - start;
    const statements = recording;
    recording = null;
    if (response.statusCode >= 300) throw failure(`${r.method} ${r.url}`, response);
    // Replaying a send must not collide with the message it stored: fresh id and client id.
    const substitute = new Map<string, string>();
    if (op === 'send') {
      substitute.set(String((response.json() as { id: string }).id), randomUUID());
      substitute.set(r.clientId!, `${r.clientId}-explain`);
    }
    const dbMs = statements.reduce((sum, s) => sum + (Number.isNaN(s.ms) ? 0 : s.ms), 0);
    console.log(`\n== ${labels[op].trim()}: ${statements.length} statements, ${round(dbMs)} ms summed statement time (some run concurrently), request ${round(total)} ms`);
    for (const statement of statements) {
      const oneLine = statement.text.replace(/\s+/g, ' ').trim();
      console.log(`-- (${round(statement.ms)} ms) ${oneLine.length > 160 ? `${oneLine.slice(0, 157)}...` : oneLine}`);
      const plan = await explain(scratch, statement, substitute);
      for (const line of compactPlan(plan)) console.log(`     ${line}`);
      const text = plan.join('\n');
      for (const table of ['messages', 'conversation_members', 'conversations']) {
        if (new RegExp(`Seq Scan on ${table}\\b`).test(text)) warnings.push(`${labels[op].trim()}: sequential scan on ${table} in "${oneLine.slice(0, 80)}..."`);
      }
      const sorted = /Sort Method: [^\n]*/.exec(text);
      if (sorted && /\bconversation_members\b|\bmessages\b/.test(oneLine) && !/unnest/.test(oneLine)) {
        warnings.push(`${labels[op].trim()}: explicit sort (${sorted[0]}) in "${oneLine.slice(0, 80)}..."`);
      }
    }
  }
  console.log(warnings.length === 0 ? '\nindex check: no sequential scan or explicit sort on messages / conversation_members' : `\nindex check:\n${warnings.map((w) => `  ! ${w}`).join('\n')}`);

  // ---------------------------------------------------------------------------------------------------
  // Summary

  console.log(`\nsummary (${driverName}, app.inject, p50 / p99 ms over ${runs} requests each):\n`);
  const header = ['data', ...ops.map((op) => shortLabels[op])];
  console.log(`| ${header.join(' | ')} |`);
  console.log(`|${header.map(() => ' --- ').join('|')}|`);
  for (const phase of phases) {
    const data = `${phase.messages.toLocaleString('en')} messages, ${phase.conversations.toLocaleString('en')} conversations`;
    console.log(`| ${[data, ...ops.map((op) => `${phase.results[op].p50.toFixed(2)} / ${phase.results[op].p99.toFixed(2)}`)].join(' | ')} |`);
  }
  console.log(
    `\n${JSON.stringify({
      bench: 'messaging',
      driver: driverName,
      runs,
      phases,
      totalSeconds: Number(seconds(startedAt)),
    })}`,
  );
}
