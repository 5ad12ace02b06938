/**
 * Offline sync cost: how long GET /sync takes to hand a device everything it missed, for 1, 100 and
 * 10 000 missed changes (--missed), while the user also has --conversations other conversations that did
 * not change (each costs one index row to pass over). Runs the real app in-process (`app.inject`), so
 * the figures are server work: routing, auth, the sync queries, serialization. Missed changes are
 * messages bulk-inserted with SQL in one transaction after the token was taken (the API would take
 * minutes for 10 000), exactly as a send stores them (seq, xid, the conversation's last_xid).
 *
 *   npx tsx bench/sync.ts [--missed 1,100,10000] [--conversations 1000] [--runs 20] [--limit 500]
 *   DATABASE_URL=postgres://... npx tsx bench/sync.ts   # a scratch database on that server, dropped at the end
 *
 * Without DATABASE_URL it runs on an in-memory PGlite.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import { PGlite } from '@electric-sql/pglite';
import { sql } from 'drizzle-orm';
import { type App, buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { type DatabaseHandle, createDatabase, pgliteHandle } from '../src/db/client.js';
import { migrate } from '../src/db/migrate.js';
import { sessions, users } from '../src/db/schema.js';
import { createScratchPostgres } from './scratch-postgres.js';

const { values: options } = parseArgs({
  options: {
    missed: { type: 'string', default: '1,100,10000' },
    conversations: { type: 'string', default: '1000' },
    runs: { type: 'string', default: '20' },
    limit: { type: 'string', default: '500' },
  },
});
const missedCounts = options.missed.split(',').map(Number);
const idleConversations = Number(options.conversations);
const runs = Number(options.runs);
const limit = Number(options.limit);
if (missedCounts.some((n) => !Number.isInteger(n) || n < 1) || !Number.isInteger(idleConversations) || !Number.isInteger(runs) || runs < 1) {
  throw new Error('usage: npx tsx bench/sync.ts [--missed 1,100,10000] [--conversations 1000] [--runs 20] [--limit 500]');
}

const baseUrl = loadConfig().database.url;

async function scratchDatabase(): Promise<{ handle: DatabaseHandle; label: string; drop: () => Promise<void> }> {
  if (!baseUrl) {
    const client = new PGlite();
    return { handle: pgliteHandle(client), label: 'PGlite in memory', drop: async () => void (client.closed || (await client.close())) };
  }
  const scratch = await createScratchPostgres(baseUrl, 'bench_sync');
  const handle = createDatabase({ url: scratch.url, poolMax: 10 });
  return {
    handle,
    label: `PostgreSQL, scratch database ${scratch.name}`,
    drop: async () => {
      await handle.close().catch(() => undefined);
      await scratch.drop();
    },
  };
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

async function main(): Promise<void> {
  const scratch = await scratchDatabase();
  const dataDir = mkdtempSync(join(tmpdir(), 'bench-sync-'));
  let app: App | undefined;
  try {
    await migrate(scratch.handle);
    const logStream = new Writable({ write: (_chunk, _encoding, done) => done() });
    app = await buildApp(
      loadConfig({ LOG_LEVEL: 'error', RATE_LIMIT_MAX: '100000000', JWT_SECRET: 'bench-sync-secret-0123456789abcdef', ACCESS_TOKEN_TTL_SECONDS: '86400', MIGRATE_ON_START: 'false', SWEEP_INTERVAL_SECONDS: '86400', DATA_DIR: dataDir }),
      { database: scratch.handle, logStream },
    );
    const theApp = app;
    const { db } = scratch.handle;
    const [alice, bob] = (
      await db.insert(users).values(['alice', 'bob'].map((name) => ({ username: `bench_${name}`, displayName: name, passwordHash: 'x' }))).returning({ id: users.id })
    ).map((u) => u.id) as [string, string];
    const tokens = new Map<string, string>();
    for (const userId of [alice, bob]) {
      const [session] = await db.insert(sessions).values({ userId, expiresAt: new Date(Date.now() + 86_400_000) }).returning({ id: sessions.id });
      tokens.set(userId, theApp.accessTokens.sign({ sub: userId, sid: session!.id, role: 'user' }));
    }
    const get = async (userId: string, url: string) => {
      const response = await theApp.inject({ method: 'GET', url, headers: { authorization: `Bearer ${tokens.get(userId)}` } });
      if (response.statusCode !== 200) throw new Error(`${url}: ${response.statusCode} ${response.body}`);
      return response.json() as { items: unknown[]; nextToken: string; more: boolean };
    };
    const direct = await theApp.inject({ method: 'POST', url: '/api/v1/chat/direct', headers: { authorization: `Bearer ${tokens.get(alice)}` }, payload: { userId: bob } });
    const chatId = (direct.json() as { id: string }).id;
    // Conversations of Alice's that do not change while she is away.
    await db.execute(sql`
      with c as (
        insert into conversations (id, kind, title, room_name, created_by, member_count)
        select gen_random_uuid(), 'group', 'idle ' || n, 'bench_idle_' || n, ${alice}, 1 from generate_series(1, ${idleConversations}) n
        returning id
      )
      insert into conversation_members (conversation_id, user_id, role) select id, ${alice}, 'owner' from c`);

    console.log(`sync bench on ${scratch.label}; Alice has ${idleConversations + 1} conversations, 1 of them changes; pages of ${limit}; ${runs} runs each`);
    const results = [];
    for (const missed of missedCounts) {
      const times: number[] = [];
      let pages = 0;
      let items = 0;
      for (let run = 0; run < runs; run++) {
        const { nextToken } = await get(alice, '/api/v1/sync');
        // `missed` messages from Bob, stored as sends store them, in one transaction after the token.
        await db.execute(sql`
          with bumped as (
            update conversations set last_seq = last_seq + ${missed}, last_message_seq = last_seq + ${missed}, last_xid = pg_current_xact_id(), last_message_at = now()
            where id = ${chatId} returning last_seq
          )
          insert into messages (id, conversation_id, seq, sender_id, client_id, type, body)
          select gen_random_uuid(), ${chatId}, b.last_seq - ${missed} + n, ${bob}, 'bench-' || b.last_seq || '-' || n, 'text', 'missed ' || n from bumped b, generate_series(1, ${missed}) n`);
        const started = performance.now();
        let token = nextToken;
        pages = 0;
        items = 0;
        for (let more = true; more; pages++) {
          const answer = await get(alice, `/api/v1/sync?since=${token}&limit=${limit}`);
          items += answer.items.length;
          token = answer.nextToken;
          more = answer.more;
        }
        times.push(performance.now() - started);
        if (items !== missed) throw new Error(`expected ${missed} items, got ${items}`);
      }
      times.sort((a, b) => a - b);
      const row = { missed, pages, p50Ms: Number(percentile(times, 50).toFixed(1)), p95Ms: Number(percentile(times, 95).toFixed(1)), perChangeUs: Number(((percentile(times, 50) / missed) * 1000).toFixed(1)) };
      results.push(row);
      console.log(JSON.stringify(row));
    }
    console.log('\nmissed changes | pages | p50 ms | p95 ms | per change (p50)');
    for (const r of results) console.log(`${String(r.missed).padStart(14)} | ${String(r.pages).padStart(5)} | ${String(r.p50Ms).padStart(6)} | ${String(r.p95Ms).padStart(6)} | ${r.perChangeUs} µs`);
  } finally {
    await app?.close();
    await scratch.drop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
