/**
 * Helpers of bench/ws.ts: the app instances as child processes, the scratch database and its seed,
 * access tokens, socket clients, /proc readings (RSS, CPU per process group) and CPU profile summaries.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHmac, randomUUID } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import WebSocket from 'ws';

export const JWT_SECRET = 'bench-ws-secret-0123456789abcdef0123456789';
export const ISSUER = 'chat-backend';
export const AUDIENCE = 'chat-api';

// ---------------------------------------------------------------------------------------------------
// Scratch database

export interface Scratch {
  url: string;
  name: string;
  client: pg.Client;
  drop(): Promise<void>;
}

/** An empty database next to `baseUrl`'s, dropped (with force) by `drop`. */
export async function scratchDatabase(baseUrl: string): Promise<Scratch> {
  const name = `bench_ws_${Date.now()}_${process.pid}`;
  const admin = new pg.Client({ connectionString: baseUrl });
  await admin.connect();
  await admin.query(`create database "${name}"`);
  const url = new URL(baseUrl);
  url.pathname = `/${name}`;
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  let dropped = false;
  return {
    url: url.toString(),
    name,
    client,
    async drop() {
      if (dropped) return;
      dropped = true;
      await client.end().catch(() => {});
      await admin.query(`drop database if exists "${name}" with (force)`);
      await admin.end();
    },
  };
}

export interface SeededUser {
  id: string;
  sessionId: string;
  token: string;
}

/** HS256 access token exactly as the app's @fastify/jwt signs them (iss, aud, sub, sid, role, iat, exp). */
export function accessToken(sub: string, sid: string, ttlSeconds = 86_400): string {
  const now = Math.floor(Date.now() / 1000);
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const unsigned = `${part({ alg: 'HS256', typ: 'JWT' })}.${part({ sub, sid, role: 'user', iat: now, exp: now + ttlSeconds, iss: ISSUER, aud: AUDIENCE })}`;
  return `${unsigned}.${createHmac('sha256', JWT_SECRET).update(unsigned).digest('base64url')}`;
}

/** `count` active users with one live session each, bulk-inserted; tokens minted here. */
export async function seedUsers(db: pg.ClientBase, count: number, tag: string): Promise<SeededUser[]> {
  const ids = Array.from({ length: count }, () => randomUUID());
  const sessionIds = Array.from({ length: count }, () => randomUUID());
  for (let from = 0; from < count; from += 10_000) {
    const chunk = ids.slice(from, from + 10_000);
    await db.query(
      `insert into users (id, username, display_name, password_hash)
       select id, $2 || '_' || (ord + $3), 'Bench ' || (ord + $3), 'x' from unnest($1::uuid[]) with ordinality as t(id, ord)`,
      [chunk, tag, from],
    );
    await db.query(`insert into sessions (id, user_id, expires_at) select s, u, now() + interval '1 day' from unnest($1::uuid[], $2::uuid[]) as t(s, u)`, [
      sessionIds.slice(from, from + 10_000),
      chunk,
    ]);
  }
  return ids.map((id, i) => ({ id, sessionId: sessionIds[i]!, token: accessToken(id, sessionIds[i]!) }));
}

/** Direct conversations for the pairs (a[i], b[i]), as the repository makes them; returns their ids. */
export async function seedDirects(db: pg.ClientBase, pairs: Array<[string, string]>): Promise<string[]> {
  const ids = pairs.map(() => randomUUID());
  const keys = pairs.map(([a, b]) => (a < b ? `${a}:${b}` : `${b}:${a}`));
  const rooms = pairs.map(() => `r_${randomUUID().replaceAll('-', '').slice(0, 16)}`);
  await db.query(
    `insert into conversations (id, kind, room_name, direct_key, created_by, member_count)
     select id, 'direct', room, key, creator, 2 from unnest($1::uuid[], $2::text[], $3::text[], $4::uuid[]) as t(id, room, key, creator)`,
    [ids, rooms, keys, pairs.map(([a]) => a)],
  );
  await db.query(
    `insert into conversation_members (conversation_id, user_id, role) select c, u, 'member' from unnest($1::uuid[], $2::uuid[]) as t(c, u)`,
    [ids.flatMap((id) => [id, id]), pairs.flatMap(([a, b]) => [a, b])],
  );
  return ids;
}

/** A group with `memberIds` (the first is the owner). */
export async function seedGroup(db: pg.ClientBase, memberIds: string[]): Promise<string> {
  const id = randomUUID();
  await db.query(
    `insert into conversations (id, kind, title, room_name, created_by, member_count) values ($1, 'group', 'Bench group', $2, $3, $4)`,
    [id, `r_${randomUUID().replaceAll('-', '').slice(0, 16)}`, memberIds[0], memberIds.length],
  );
  await db.query(
    `insert into conversation_members (conversation_id, user_id, role) select $1, u, case when ord = 1 then 'owner' else 'member' end from unnest($2::uuid[]) with ordinality as t(u, ord)`,
    [id, memberIds],
  );
  return id;
}

/**
 * One push device per user, on the user's seeded session: `tokens[i]` is the FCM or APNs token, or
 * the Web Push endpoint (then `keys[i]` holds the subscription's p256dh and auth).
 */
export async function seedPushDevices(
  db: pg.ClientBase,
  users: ReadonlyArray<{ id: string; sessionId: string }>,
  platform: 'fcm' | 'apns' | 'webpush',
  tokens: readonly string[],
  keys?: ReadonlyArray<{ p256dh: string; auth: string }>,
): Promise<void> {
  await db.query(
    `insert into push_devices (id, user_id, session_id, platform, token, p256dh, auth)
     select gen_random_uuid(), u, s, $4, t, k, a from unnest($1::uuid[], $2::uuid[], $3::text[], $5::text[], $6::text[]) as x(u, s, t, k, a)`,
    [users.map((u) => u.id), users.map((u) => u.sessionId), tokens, platform, users.map((_, i) => keys?.[i]?.p256dh ?? null), users.map((_, i) => keys?.[i]?.auth ?? null)],
  );
}

// ---------------------------------------------------------------------------------------------------
// App instances (child processes)

export interface Instance {
  name: string;
  port: number;
  child: ChildProcess;
  pid: number;
  /** Last lines of its stdout/stderr (LOG_LEVEL=warn: only problems). */
  log: string[];
  exited: Promise<number | null>;
}

export async function startInstance(options: {
  name: string;
  port: number;
  databaseUrl: string;
  redisUrl: string;
  prefix: string;
  migrate: boolean;
  poolMax: number;
  cpuProfDir?: string | undefined;
  extraEnv?: Record<string, string>;
  /** A command the node process is started through (it must exec node, keeping the pid), e.g. `['taskset', '-c', '0']`. */
  launcher?: string[];
  /** The server's entry: src/server.ts through tsx (default), or a compiled server.js. */
  entry?: string;
  /** Called as soon as the process exists (before it is ready), e.g. to make sure it is killed at exit. */
  onSpawn?: (child: ChildProcess) => void;
}): Promise<Instance> {
  const entry = options.entry ?? 'src/server.ts';
  // As `npm start` and the Docker image run it.
  const nodeArgs = ['--max-semi-space-size=16', ...(entry.endsWith('.ts') ? ['--import', 'tsx'] : [])];
  // One directory per instance: tsx's loader thread writes a profile of its own next to the main thread's.
  if (options.cpuProfDir) nodeArgs.push('--cpu-prof', '--cpu-prof-dir', join(options.cpuProfDir, options.name));
  const [command, ...args] = [...(options.launcher ?? []), process.execPath, ...nodeArgs, entry];
  const child = spawn(command!, args, {
    cwd: process.cwd(),
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      NODE_ENV: 'production',
      HOST: '127.0.0.1',
      PORT: String(options.port),
      DATABASE_URL: options.databaseUrl,
      DATABASE_POOL_MAX: String(options.poolMax),
      REDIS_URL: options.redisUrl,
      REDIS_KEY_PREFIX: options.prefix,
      JWT_SECRET,
      ACCESS_TOKEN_TTL_SECONDS: '86400',
      LOG_LEVEL: 'warn',
      RATE_LIMIT_MAX: '100000000',
      WS_RATE_LIMIT: '100000000',
      WS_MAX_SOCKETS_PER_USER: '1000',
      WS_MAX_BUFFERED_BYTES: String(64 * 1024 * 1024),
      AUTH_LOGIN_OTP: 'false',
      MIGRATE_ON_START: options.migrate ? 'true' : 'false',
      SWEEP_INTERVAL_SECONDS: '86400',
      SHUTDOWN_TIMEOUT_MS: '15000',
      DATA_DIR: `/tmp/bench-ws-data-${process.pid}`,
      ...options.extraEnv,
    },
  });
  options.onSpawn?.(child);
  return untilReady(child, options.name, options.port, '/health/ready');
}

/**
 * Waits up to 60 s until `child` answers 2xx on `readyPath` at 127.0.0.1:`port`, keeping the last
 * lines of its output; kills it and throws (with them) if it exits or never answers.
 */
export async function untilReady(child: ChildProcess, name: string, port: number, readyPath: string): Promise<Instance> {
  const log: string[] = [];
  const keep = (chunk: Buffer) => {
    for (const line of String(chunk).split('\n')) {
      if (line.trim() === '') continue;
      log.push(line.slice(0, 2000));
      if (log.length > 50) log.shift();
    }
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const instance: Instance = { name, port, child, pid: child.pid!, log, exited };
  const deadline = Date.now() + 60_000;
  let done = false;
  void exited.then(() => (done = true));
  while (Date.now() < deadline) {
    if (done) throw new Error(`${name} exited while starting:\n${log.join('\n')}`);
    try {
      const response = await fetch(`http://127.0.0.1:${port}${readyPath}`);
      if (response.ok) return instance;
    } catch {
      // not listening yet
    }
    await sleep(200);
  }
  child.kill('SIGKILL');
  throw new Error(`${name} not ready within 60 s:\n${log.join('\n')}`);
}

/** SIGTERM (graceful: closes sockets, writes a --cpu-prof profile), SIGKILL after `ms`. */
export async function stopInstance(instance: Instance, ms = 20_000): Promise<void> {
  if (instance.child.exitCode !== null || instance.child.signalCode !== null) return;
  instance.child.kill('SIGTERM');
  const timer = setTimeout(() => instance.child.kill('SIGKILL'), ms);
  await instance.exited;
  clearTimeout(timer);
}

// ---------------------------------------------------------------------------------------------------
// /proc readings

/** VmRSS and VmHWM (peak) of a process, in bytes. */
export function memoryOf(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) * 1024;
  return { rss: kb('VmRSS'), peak: kb('VmHWM') };
}

const TICK_MS = 10; // USER_HZ is 100 on Linux

function ticksOf(pid: number | string): { comm: string; ticks: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const close = stat.lastIndexOf(')');
    const comm = stat.slice(stat.indexOf('(') + 1, close);
    const fields = stat.slice(close + 2).split(' ');
    return { comm, ticks: Number(fields[11]) + Number(fields[12]) };
  } catch {
    return undefined;
  }
}

/** CPU ms used so far, per group: each instance, this load generator, postgres, redis, the rest. */
export function cpuSnapshot(instances: Instance[]): Map<string, number> {
  const groups = new Map<string, number>();
  const add = (group: string, ticks: number) => groups.set(group, (groups.get(group) ?? 0) + ticks * TICK_MS);
  const byPid = new Map<number, string>(instances.map((i) => [i.pid, i.name]));
  byPid.set(process.pid, 'loadgen');
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const info = ticksOf(entry);
    if (!info) continue;
    const named = byPid.get(Number(entry));
    add(named ?? (info.comm === 'postgres' ? 'postgres' : info.comm.startsWith('redis') ? 'redis' : 'other'), info.ticks);
  }
  const total = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.split(/\s+/).slice(1).map(Number);
  groups.set('machine', ((total[0] ?? 0) + (total[1] ?? 0) + (total[2] ?? 0) + (total[5] ?? 0) + (total[6] ?? 0) + (total[7] ?? 0)) * TICK_MS);
  return groups;
}

/** CPU use over an interval, in percent of one core per group (200 = both cores of this machine). */
export function cpuPercent(before: Map<string, number>, after: Map<string, number>, ms: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [group, value] of after) {
    // 'other' includes processes that exited meanwhile; negative deltas are clamped.
    const delta = Math.max(0, value - (before.get(group) ?? 0));
    out[group] = Math.round((delta / ms) * 100);
  }
  return out;
}

/**
 * Where the database's time goes without pg_stat_statements: samples the active backends of the
 * database at `url` (pg_stat_activity) every `everyMs` until stop(), and answers each statement's
 * share of the active samples (with its wait events), the mean number of active backends, and the
 * transactions committed in the database per second (pg_stat_database; the sampler's own taken off).
 */
export function sampleActivity(url: string, everyMs = 10): { stop(): Promise<Record<string, unknown>> } {
  const client = new pg.Client({ connectionString: url });
  const byStatement = new Map<string, { n: number; waits: Map<string, number> }>();
  let samples = 0;
  let active = 0;
  let running = true;
  const commits = async () => Number((await client.query<{ n: string }>(`select xact_commit as n from pg_stat_database where datname = current_database()`)).rows[0]!.n);
  let commitsBefore = 0;
  const startedAt = performance.now();
  const loop = (async () => {
    await client.connect();
    commitsBefore = await commits();
    while (running) {
      const { rows } = await client.query<{ query: string; wait: string | null }>(
        `select query, wait_event_type || ':' || wait_event as wait from pg_stat_activity where datname = current_database() and state = 'active' and pid <> pg_backend_pid()`,
      );
      samples += 1;
      for (const row of rows) {
        active += 1;
        const key = row.query.replace(/\s+/g, ' ').trim().slice(0, 100);
        const entry = byStatement.get(key) ?? { n: 0, waits: new Map<string, number>() };
        entry.n += 1;
        if (row.wait) entry.waits.set(row.wait, (entry.waits.get(row.wait) ?? 0) + 1);
        byStatement.set(key, entry);
      }
      await sleep(everyMs);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop.catch(() => {});
      const seconds = (performance.now() - startedAt) / 1000;
      // Transactions committed in this database per second (the sampler's own included: about 1 per sample).
      const committed = await commits().catch(() => Number.NaN);
      await client.end().catch(() => {});
      const top = [...byStatement.entries()]
        .sort((a, b) => b[1].n - a[1].n)
        .slice(0, 10)
        .map(([statement, e]) => ({
          pct: round((e.n / Math.max(1, active)) * 100),
          statement,
          ...(e.waits.size > 0 ? { waits: Object.fromEntries([...e.waits.entries()].sort((a, b) => b[1] - a[1]).slice(0, 3)) } : {}),
        }));
      return { samples, meanActiveBackends: round(active / Math.max(1, samples), 2), commitsPerSec: Math.round((committed - commitsBefore - samples) / seconds), top };
    },
  };
}

// ---------------------------------------------------------------------------------------------------
// Sockets

export interface BenchSocket {
  ws: WebSocket;
  userIndex: number;
}

/** Opens an authenticated /ws socket and waits for its `ready` frame. */
export function openSocket(url: string, token: string, onMessage: (text: string) => void, localAddress?: string, timeoutMs = 60_000): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url}/ws`, { headers: { authorization: `Bearer ${token}` }, perMessageDeflate: false, ...(localAddress ? { localAddress } : {}) });
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error('no ready frame in time'));
    }, timeoutMs);
    let ready = false;
    ws.on('message', (raw) => {
      const text = String(raw);
      if (!ready) {
        if (text.startsWith('{"type":"ready"')) {
          ready = true;
          clearTimeout(timer);
          resolve(ws);
        }
        return;
      }
      onMessage(text);
    });
    ws.once('unexpected-response', (_request, response) => {
      clearTimeout(timer);
      reject(new Error(`upgrade refused: ${response.statusCode}`));
    });
    ws.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    ws.once('close', (code) => {
      if (!ready) {
        clearTimeout(timer);
        reject(new Error(`closed ${code} before ready`));
      }
    });
  });
}

/** Runs `task(i)` for i in [0, n) with at most `concurrency` at once; stops at the first failure. */
export async function pool(n: number, concurrency: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  let failed: unknown;
  const worker = async () => {
    while (failed === undefined && next < n) {
      const i = next++;
      try {
        await task(i);
      } catch (error) {
        failed ??= error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
  if (failed !== undefined) throw failed;
}

// ---------------------------------------------------------------------------------------------------
// Figures

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function percentiles(values: number[]): { p50: number; p95: number; p99: number; max: number } {
  if (values.length === 0) return { p50: Number.NaN, p95: Number.NaN, p99: Number.NaN, max: Number.NaN };
  const sorted = Float64Array.from(values).sort();
  const at = (q: number) => round(sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!);
  return { p50: at(0.5), p95: at(0.95), p99: at(0.99), max: round(sorted[sorted.length - 1]!) };
}

export const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;
export const mib = (bytes: number) => round(bytes / 1024 / 1024);

/** CLOCK_MONOTONIC in µs: the clock V8 stamps CPU profile samples with (measurement windows are kept in it). */
export const monotonicMicros = () => Number(process.hrtime.bigint() / 1000n);

/**
 * Where a V8 CPU profile spent its busy samples inside the given windows (µs, CLOCK_MONOTONIC):
 * the top self-time functions and the share per package (node_modules/<name>, src/, node internals).
 */
export function profileHotSpots(
  file: string,
  windows: Array<[number, number]>,
  top = 15,
): { busyPct: number; sampleMs: number; functions: Array<{ selfPct: number; fn: string; where: string }>; packages: Array<{ pct: number; name: string }> } {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as {
    nodes: Array<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number } }>;
    startTime: number;
    samples?: number[];
    timeDeltas?: number[];
  };
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const hits = new Map<number, number>();
  let t = profile.startTime;
  let inWindow = 0;
  (profile.samples ?? []).forEach((id, index) => {
    t += profile.timeDeltas?.[index] ?? 0;
    if (windows.length > 0 && !windows.some(([from, to]) => t >= from && t <= to)) return;
    inWindow += 1;
    hits.set(id, (hits.get(id) ?? 0) + 1);
  });
  const bySite = new Map<string, { fn: string; where: string; hits: number }>();
  const byPackage = new Map<string, number>();
  let busy = 0;
  for (const [id, count] of hits) {
    const node = nodes.get(id);
    if (!node) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === '(idle)') continue;
    busy += count;
    const path = url.replace(/^file:\/\//, '').replace(`${process.cwd()}/`, '');
    const where = path ? `${path}:${lineNumber + 1}` : '';
    const key = `${functionName}|${where}`;
    const site = bySite.get(key) ?? { fn: functionName || '(anonymous)', where, hits: 0 };
    site.hits += count;
    bySite.set(key, site);
    const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path)?.[1] ?? (path.startsWith('src/') ? 'src (app code)' : path.startsWith('node:') ? 'node internals' : functionName.startsWith('(') ? functionName : 'native/other');
    byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + count);
  }
  const total = Math.max(1, busy);
  const duration = windows.reduce((sum, [from, to]) => sum + (to - from), 0) / 1000;
  return {
    busyPct: round((busy / Math.max(1, inWindow)) * 100),
    sampleMs: round(duration),
    functions: [...bySite.values()]
      .sort((a, b) => b.hits - a.hits)
      .slice(0, top)
      .map((s) => ({ selfPct: round((s.hits / total) * 100), fn: s.fn, where: s.where })),
    packages: [...byPackage.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 12)
      .map(([name, n]) => ({ pct: round((n / total) * 100), name })),
  };
}

/** Every .cpuprofile under `dir`, one directory level deep (`<dir>/<instance>/*.cpuprofile`). */
export function profileFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (at: string, depth: number) => {
    let entries: string[] = [];
    try {
      entries = readdirSync(at);
    } catch {
      return;
    }
    for (const entry of entries) {
      if (entry.endsWith('.cpuprofile')) out.push(join(at, entry));
      else if (depth > 0) walk(join(at, entry), depth - 1);
    }
  };
  walk(dir, 1);
  return out.sort();
}
