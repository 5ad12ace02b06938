/**
 * User search at scale: seeds N users (default 50 000) into a fresh database, then times prefix and
 * exact-contact searches through the real repository and prints the query plan of each.
 *
 *   npx tsx bench/user-search.ts [users]                 # embedded PGlite (in memory)
 *   DATABASE_URL=postgres://... npx tsx bench/user-search.ts   # a scratch database on that server
 */
import { performance } from 'node:perf_hooks';
import { PGlite } from '@electric-sql/pglite';
import { sql } from 'drizzle-orm';
import pg from 'pg';
import { loadConfig } from '../src/config.js';
import { type DatabaseHandle, createDatabase, pgliteHandle } from '../src/db/client.js';
import { migrate } from '../src/db/migrate.js';
import { users } from '../src/db/schema.js';
import { createUserRepository } from '../src/modules/users/user.repository.js';

const count = Number(process.argv[2] ?? 50_000);
const config = loadConfig();

async function scratchDatabase(): Promise<{ handle: DatabaseHandle; drop: () => Promise<void> }> {
  if (!config.database.url) return { handle: pgliteHandle(new PGlite()), drop: async () => {} };
  const name = `bench_${Date.now()}`;
  const admin = new pg.Client({ connectionString: config.database.url });
  await admin.connect();
  await admin.query(`create database "${name}"`);
  const url = new URL(config.database.url);
  url.pathname = `/${name}`;
  const handle = createDatabase({ url: url.toString(), poolMax: 4 });
  return {
    handle,
    drop: async () => {
      await handle.close();
      await admin.query(`drop database "${name}" with (force)`);
      await admin.end();
    },
  };
}

const { handle, drop } = await scratchDatabase();
await migrate(handle);
const db = handle.db;
const syllables = ['al', 'be', 'ca', 'do', 'el', 'fi', 'go', 'ha', 'iv', 'jo', 'ka', 'lu', 'mi', 'no', 'ol', 'pa'];
const seedStart = performance.now();
for (let offset = 0; offset < count; offset += 1000) {
  const batch = Array.from({ length: Math.min(1000, count - offset) }, (_, j) => {
    const i = offset + j;
    const name = `${syllables[i % 16]}${syllables[Math.floor(i / 16) % 16]}${syllables[Math.floor(i / 256) % 16]}_${i}`;
    return { username: name, displayName: name.toUpperCase(), email: `${name}@example.com`, emailVerifiedAt: new Date(), passwordHash: 'x' };
  });
  await db.insert(users).values(batch);
}
await db.execute(sql`analyze users`);
console.log(`seeded ${count} users in ${((performance.now() - seedStart) / 1000).toFixed(1)} s (${handle.driver})`);

const repository = createUserRepository(db);
const [viewer] = await db.select({ id: users.id }).from(users).limit(1);
const cases = [
  { label: 'no query (all users)', input: { prefix: '' } },
  { label: 'prefix "a" (broad)', input: { prefix: 'a' } },
  { label: 'prefix "albe" (narrow)', input: { prefix: 'albe' } },
  { label: 'prefix "zz" (no match)', input: { prefix: 'zz' } },
  { label: 'exact email', input: { prefix: 'alal', email: 'alalal_0@example.com' } },
];
const runs = 200;
for (const { label, input } of cases) {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    await repository.search({ viewerId: viewer!.id, limit: 50, ...input });
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  const pct = (p: number) => times[Math.min(times.length - 1, Math.floor(times.length * p))]!.toFixed(2);
  console.log(`${label.padEnd(26)} p50 ${pct(0.5)} ms  p95 ${pct(0.95)} ms  p99 ${pct(0.99)} ms`);
}
const explain = async (query: ReturnType<typeof sql>) => ((await db.execute(query)) as unknown as { rows: Array<Record<string, string>> }).rows;
const plan = await explain(
  sql`explain select * from users where status = 'active' and (lower(username) like 'albe%' or lower(display_name) like 'albe%') order by lower(username) limit 51`,
);
console.log('plan (narrow prefix):');
for (const row of plan) console.log(`  ${Object.values(row)[0]}`);
const broad = await explain(sql`explain select * from users where status = 'active' and (lower(username) like '%' or lower(display_name) like '%') order by lower(username) limit 51`);
console.log('plan (no query):');
for (const row of broad) console.log(`  ${Object.values(row)[0]}`);
await drop();
