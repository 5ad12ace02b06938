import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { sql } from 'drizzle-orm';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import pg from 'pg';
import { lockDataDir } from './data-dir-lock.js';
import * as schema from './schema.js';
import { namingClient, StatementNames } from './statement-names.js';

export type Schema = typeof schema;
/** One query API for both drivers: repositories take this and never know which one runs. */
export type Database = PgDatabase<PgQueryResultHKT, Schema>;

export interface DatabaseHandle {
  readonly db: Database;
  readonly driver: 'pg' | 'pglite';
  /**
   * A hot statement by name: on Postgres it is parsed and planned once per connection (a named
   * prepared statement) instead of on every call; PGlite runs it as given. `text` uses $1, $2...
   */
  prepared(name: string, text: string): PreparedQuery;
  /** Resolves when a trivial query succeeds. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export type PreparedQuery = (values: unknown[]) => Promise<Array<Record<string, unknown>>>;

export interface DatabaseOptions {
  /** Postgres URL; when absent, PGlite runs in-process. */
  url?: string | undefined;
  poolMax?: number;
  /** PGlite data directory; absent means in memory. */
  pgliteDir?: string | undefined;
}

export function createDatabase(options: DatabaseOptions): DatabaseHandle {
  return options.url ? createPgDatabase(options.url, options.poolMax ?? 10) : createPgliteDatabase(options.pgliteDir);
}

function createPgDatabase(url: string, poolMax: number): DatabaseHandle {
  // Every repeated statement is prepared once per connection: see StatementNames.
  const pool = new pg.Pool({ connectionString: url, max: poolMax, connectionTimeoutMillis: 5000, Client: namingClient(new StatementNames()) });
  // An idle client losing its server must not crash the process; the next query reconnects.
  pool.on('error', () => {});
  const db = drizzlePg(pool, { schema, casing: 'snake_case' }) as unknown as Database;
  let closed = false;
  return {
    db,
    driver: 'pg',
    prepared: (name, text) => async (values) => (await pool.query({ name, text, values })).rows,
    ping: async () => {
      await db.execute(sql`select 1`);
    },
    close: async () => {
      if (closed) return;
      closed = true;
      await pool.end();
    },
  };
}

/** PGlite in `dir` (locked to this process until closed: see lockDataDir), or in memory. */
export function createPgliteDatabase(dir?: string): DatabaseHandle {
  if (!dir) return pgliteHandle(new PGlite());
  mkdirSync(dir, { recursive: true });
  const unlock = lockDataDir(dir);
  const handle = pgliteHandle(new PGlite(dir));
  return {
    ...handle,
    close: async () => {
      try {
        await handle.close();
      } finally {
        unlock();
      }
    },
  };
}

/** Wraps an existing PGlite instance (tests start theirs from a migrated snapshot). */
export function pgliteHandle(client: PGlite): DatabaseHandle {
  const db = drizzlePglite(client, { schema, casing: 'snake_case' }) as unknown as Database;
  return {
    db,
    driver: 'pglite',
    prepared: (_name, text) => async (values) => (await client.query<Record<string, unknown>>(text, values)).rows,
    ping: async () => {
      await db.execute(sql`select 1`);
    },
    close: async () => {
      if (!client.closed) await client.close();
    },
  };
}

export function pgliteDirFor(dataDir: string): string {
  return join(dataDir, 'pglite');
}
