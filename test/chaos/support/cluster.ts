import { mkdtempSync } from 'node:fs';
import pg from 'pg';
import { type Instance, startInstance } from '../../../bench/ws-support.js';
import { freePort } from '../../support/loopback.js';
import { buildServer } from './build.js';
import type { Endpoint } from './device.js';
import { type PrivatePostgres, type PrivateRedis, killOnExit, removeOnExit, startPostgres, startRedis } from './services.js';

/*
 * Two app instances (child processes running the compiled src/server.ts, so signals are real) on a
 * PostgreSQL cluster and a Redis that the test owns. An instance can be killed or terminated and
 * started again on the same port; the database and Redis can be restarted, killed or paused under it.
 */

export interface ClusterOptions {
  /** Starts each instance through this command, e.g. `['taskset', '-c', '0']`. */
  launcher?: string[];
  /** Extra environment of the instances. */
  env?: Record<string, string>;
}

export interface ChaosCluster {
  postgres: PrivatePostgres;
  redis: PrivateRedis;
  /** A pool on the instances' database (for seeding and for the checks; it survives restarts). */
  db: pg.Pool;
  endpoints: Endpoint[];
  /** Sends the signal and waits for the process to exit (SIGTERM: after its graceful shutdown). */
  signal(index: number, signal: 'SIGKILL' | 'SIGTERM'): Promise<void>;
  /** Starts the instance again on its port and waits until it is ready. */
  restart(index: number): Promise<void>;
  /** Brings back whatever a failed scenario left down (an instance, a paused or killed Redis). */
  ensureUp(): Promise<void>;
  /** The last log lines of each instance (warnings and errors). */
  logs(): string[];
  close(): Promise<void>;
}

const NAMES = ['A', 'B'];

export async function startCluster(options: ClusterOptions = {}): Promise<ChaosCluster> {
  const [entry, postgres, redis] = await Promise.all([buildServer(), startPostgres(), startRedis()]);
  const admin = new pg.Client({ connectionString: postgres.url });
  await admin.connect();
  await admin.query('create database chat');
  await admin.end();
  const databaseUrl = postgres.url.replace(/\/postgres$/, '/chat');
  const db = new pg.Pool({ connectionString: databaseUrl, max: 2 });
  db.on('error', () => {}); // idle clients die with a Postgres restart; the pool replaces them
  const dataDir = mkdtempSync('/tmp/chaos-data-');
  const removeDataDir = removeOnExit(dataDir);
  const ports = [await freePort(), await freePort()];
  const instances: Instance[] = [];
  const forget: Array<() => void> = [];
  const up = (index: number) => {
    const child = instances[index]?.child;
    return child !== undefined && child.exitCode === null && child.signalCode === null;
  };

  const launch = async (index: number, migrate: boolean) => {
    const instance = await startInstance({
      name: NAMES[index]!,
      port: ports[index]!,
      databaseUrl,
      redisUrl: redis.url,
      prefix: 'chaos:',
      migrate,
      poolMax: 10,
      entry,
      onSpawn: (child) => (forget[index] = killOnExit(child)),
      ...(options.launcher ? { launcher: options.launcher } : {}),
      extraEnv: {
        NODE_OPTIONS: '', // not tap's loaders: the instances are servers under test, not test processes
        DATA_DIR: dataDir,
        SHUTDOWN_TIMEOUT_MS: '5000',
        WS_MAX_BUFFERED_BYTES: String(1024 * 1024),
        WS_MAX_PAYLOAD_BYTES: String(256 * 1024),
        MESSAGE_MAX_LENGTH: '65536',
        ...options.env,
      },
    });
    instances[index] = instance;
  };
  await launch(0, true);
  await launch(1, false);

  const cluster: ChaosCluster = {
    postgres,
    redis,
    db,
    endpoints: NAMES.map((name, i) => ({ name, url: `ws://127.0.0.1:${ports[i]}` })),
    async signal(index, signal) {
      const instance = instances[index];
      if (!instance) return;
      if (up(index)) instance.child.kill(signal);
      const timer = setTimeout(() => instance.child.kill('SIGKILL'), 20_000);
      await instance.exited;
      clearTimeout(timer);
      forget[index]?.();
    },
    async restart(index) {
      try {
        await launch(index, false);
      } catch {
        await launch(index, false); // one more try: a start can time out on a starved machine
      }
    },
    async ensureUp() {
      redis.resume();
      if (!redis.running()) await redis.start();
      for (const index of [0, 1]) if (!up(index)) await cluster.restart(index);
    },
    logs: () => instances.flatMap((i) => i.log.map((line) => `${i.name}: ${line}`)),
    async close() {
      await Promise.all(instances.map((_, i) => cluster.signal(i, 'SIGKILL')));
      await db.end().catch(() => {});
      await redis.stop();
      postgres.stop();
      removeDataDir();
    },
  };
  return cluster;
}
