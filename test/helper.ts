import { createHash, randomBytes } from 'node:crypto';
import { readFile, readdir, rename, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import type { Test } from 'tap';
import { type App, type AppOverrides, buildApp } from '../src/app.js';
import { type Config, loadConfig } from '../src/config.js';
import { AppError } from '../src/errors.js';
import { type DatabaseHandle, createDatabase, pgliteHandle } from '../src/db/client.js';
import { migrate, migrationsFolder } from '../src/db/migrate.js';

/*
 * One app per test file, on real parts: a fresh Postgres database per backend when DATABASE_URL is
 * set (CI), an in-memory PGlite otherwise; the real Redis when REDIS_URL is set, under a key prefix
 * of its own so parallel files never see each other's keys or channels.
 */

/** What the environment of the test run points at (DATABASE_URL, REDIS_URL); read through config. */
export const runConfig: Config = loadConfig();

export type Env = Record<string, string>;

/** The storage and namespace that one or more apps of a test share. */
export interface TestBackend {
  env: Env;
  /** Set on PGlite runs: one in-memory database handed to every app of the backend. */
  database?: DatabaseHandle;
}

export function uniqueName(prefix: string): string {
  return `${prefix}_${randomBytes(5).toString('hex')}`;
}

/** Serializes building the template across the run's test processes. */
const TEMPLATE_LOCK_KEY = 7_331_002;

let postgresTemplate: Promise<string> | undefined;

/**
 * A migrated database to copy test databases from, named by migration content and built once for
 * all runs: `create database … template` copies files (~0.2 s), where migrating each new database
 * took seconds.
 */
function migratedPostgresTemplate(adminUrl: string): Promise<string> {
  postgresTemplate ??= (async () => {
    const name = `chat_template_${await migrationsHash()}`;
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect();
    try {
      await admin.query('select pg_advisory_lock($1)', [TEMPLATE_LOCK_KEY]);
      const existing = await admin.query('select 1 from pg_database where datname = $1', [name]);
      if (existing.rowCount === 0) {
        const building = `${name}_${process.pid}`;
        await admin.query(`drop database if exists "${building}"`);
        await admin.query(`create database "${building}"`);
        const handle = createDatabase({ url: databaseUrl(adminUrl, building), poolMax: 1, pgliteDir: '' });
        try {
          await migrate(handle);
        } finally {
          await handle.close();
        }
        await admin.query(`alter database "${building}" rename to "${name}"`);
      }
    } finally {
      await admin.end();
    }
    return name;
  })();
  return postgresTemplate;
}

function databaseUrl(adminUrl: string, name: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/**
 * Creates a Postgres database next to DATABASE_URL's, dropped when the test ends: migrated (a copy
 * of the template), or empty for tests of migrating itself.
 */
export async function createPostgresDatabase(t: Test, adminUrl: string, contents: 'migrated' | 'empty' = 'migrated'): Promise<string> {
  const template = contents === 'migrated' ? await migratedPostgresTemplate(adminUrl) : 'template0';
  const name = uniqueName('chat_test');
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`create database "${name}" template "${template}"`);
    // Commits do not wait for the WAL flush: a test database is dropped at the end and no test crashes
    // this server (the chaos tests run their own); atomicity and visibility are unchanged.
    await admin.query(`alter database "${name}" set synchronous_commit = off`);
  } finally {
    await admin.end();
  }
  t.teardown(async () => {
    const client = new pg.Client({ connectionString: adminUrl });
    await client.connect();
    try {
      await client.query(`drop database if exists "${name}" with (force)`);
    } finally {
      await client.end();
    }
  });
  return databaseUrl(adminUrl, name);
}

let migrationsDigest: Promise<string> | undefined;

/** A short hash of the committed migrations: names the cached PGlite snapshot and Postgres template. */
function migrationsHash(): Promise<string> {
  migrationsDigest ??= (async () => {
    const hash = createHash('sha256');
    for (const file of (await readdir(migrationsFolder, { recursive: true })).sort()) {
      if (file.endsWith('.sql') || file.endsWith('.json')) hash.update(file).update(await readFile(join(migrationsFolder, file)));
    }
    return hash.digest('hex').slice(0, 16);
  })();
  return migrationsDigest;
}

let pgliteSnapshot: Promise<Blob> | undefined;

/**
 * A migrated, empty PGlite data dir. Booting PGlite from scratch costs seconds (initdb in WASM); from
 * this snapshot it takes a fraction of that. Cached on disk by migration content, shared by test files.
 */
function migratedPgliteSnapshot(): Promise<Blob> {
  pgliteSnapshot ??= (async () => {
    const cacheFile = join(tmpdir(), `chat-backend-pglite-${await migrationsHash()}.tar`);
    try {
      return new Blob([await readFile(cacheFile)]);
    } catch {
      const client = new PGlite();
      await migrate(pgliteHandle(client));
      const snapshot = await client.dumpDataDir('none');
      await client.close();
      const partial = `${cacheFile}.${process.pid}`;
      await writeFile(partial, Buffer.from(await snapshot.arrayBuffer()));
      await rename(partial, cacheFile);
      return snapshot;
    }
  })();
  return pgliteSnapshot;
}

export async function createBackend(t: Test): Promise<TestBackend> {
  const env: Env = {
    LOG_LEVEL: 'silent',
    REDIS_KEY_PREFIX: `${uniqueName('t')}:`,
    RATE_LIMIT_MAX: '100000',
    DATA_DIR: t.testdir(),
  };
  if (runConfig.redis.url) env.REDIS_URL = runConfig.redis.url;
  if (runConfig.database.url) {
    env.DATABASE_URL = await createPostgresDatabase(t, runConfig.database.url);
    return { env };
  }
  const database = pgliteHandle(new PGlite({ loadDataDir: await migratedPgliteSnapshot() }));
  t.teardown(() => database.close());
  return { env, database };
}

export interface BuildOptions {
  /** Share storage and Redis namespace with other apps (cross-instance tests). */
  backend?: TestBackend;
  /** Extra environment for this app's config. */
  env?: Env;
  overrides?: AppOverrides;
  /** Hash passwords with the configured argon2 cost (default: the cheap TEST_ARGON2, unless env sets ARGON2_*). */
  productionArgon2?: boolean;
}

/**
 * argon2id cost of test apps: the real algorithm at a cost of ~1 ms instead of ~50 ms. Tests of the
 * stored parameters and of rehashing ask for the configured cost (productionArgon2, or ARGON2_* env).
 */
export const TEST_ARGON2 = { memoryCost: 1024, timeCost: 1 };

/** Builds an app on a test backend; it is closed when the test ends. */
export async function build(t: Test, options: BuildOptions = {}): Promise<App> {
  const backend = options.backend ?? (await createBackend(t));
  const config = loadConfig({ ...backend.env, ...options.env });
  const configuredArgon2 = options.productionArgon2 || Object.keys(options.env ?? {}).some((key) => key.startsWith('ARGON2_'));
  const app = await buildApp(config, {
    ...(backend.database ? { database: backend.database } : {}),
    ...(configuredArgon2 ? {} : { argon2: TEST_ARGON2 }),
    ...options.overrides,
  });
  t.teardown(() => app.close());
  return app;
}

/** Parses a problem+json response and checks its media type. */
export function problemOf(t: Test, response: { headers: Record<string, unknown>; json: () => unknown }) {
  t.match(String(response.headers['content-type']), /^application\/problem\+json/, 'problem+json content type');
  return response.json() as { type: string; title: string; status: number; code: string; detail?: string; requestId?: string; errors?: Array<{ field: string; message: string }>; [key: string]: unknown };
}

/** The AppError a promise rejects with (anything else is rethrown; fulfilling fails). */
export async function rejectionOf(promise: Promise<unknown>): Promise<AppError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof AppError) return error;
    throw error;
  }
  throw new Error('expected a rejection');
}

/** A log destination that keeps every line, for asserting on what is (not) logged. */
export function captureLogs(): { stream: Writable; text: () => string } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return { stream, text: () => lines.join('') };
}
