/**
 * Server heap per idle authenticated socket, and what it is made of.
 *
 *   npx tsx --expose-gc bench/socket-heap.ts [sockets=3000]
 *
 * Runs one app instance in this process (a scratch database next to DATABASE_URL, default
 * postgres://postgres@127.0.0.1:5432/postgres, and the local Redis under a unique prefix) and opens
 * the sockets from a worker thread, whose heap is its own, so the heap snapshots taken before and
 * after hold server objects only. Prints one JSON line (heap, external and array-buffer KiB per
 * socket) and the heap objects added per socket by type and constructor, largest first.
 * KEEP_SNAPSHOTS=1 leaves the two .heapsnapshot files in the temp dir (for DevTools' comparison view).
 */
import { readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeHeapSnapshot } from 'node:v8';
import { Worker } from 'node:worker_threads';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { JWT_SECRET, scratchDatabase, seedUsers, sleep } from './ws-support.js';

const sockets = Number(process.argv[2] ?? 3000);
const baseline = 50;
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc so the heap is measured after a full collection');

/** Total self size and count of heap nodes, by "type:constructor". */
function heapSummary(file: string): Map<string, { count: number; bytes: number }> {
  const snapshot = JSON.parse(readFileSync(file, 'utf8'));
  const fields: string[] = snapshot.snapshot.meta.node_fields;
  const types: string[] = snapshot.snapshot.meta.node_types[0];
  const [typeAt, nameAt, sizeAt] = ['type', 'name', 'self_size'].map((f) => fields.indexOf(f)) as [number, number, number];
  const summary = new Map<string, { count: number; bytes: number }>();
  for (let i = 0; i < snapshot.nodes.length; i += fields.length) {
    const type = types[snapshot.nodes[i + typeAt]]!;
    const key = type === 'object' || type === 'closure' ? `${type}:${snapshot.strings[snapshot.nodes[i + nameAt]]}` : type;
    const entry = summary.get(key) ?? { count: 0, bytes: 0 };
    entry.count += 1;
    entry.bytes += snapshot.nodes[i + sizeAt];
    summary.set(key, entry);
  }
  return summary;
}

async function settledSnapshot(name: string): Promise<{ usage: NodeJS.MemoryUsage; file: string }> {
  await sleep(1000);
  gc!();
  await sleep(200);
  gc!();
  return { usage: process.memoryUsage(), file: writeHeapSnapshot(join(tmpdir(), `socket-heap-${process.pid}-${name}.heapsnapshot`)) };
}

const scratch = await scratchDatabase(process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres');
const files: string[] = [];
try {
  const config = loadConfig({
    DATABASE_URL: scratch.url,
    REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    REDIS_KEY_PREFIX: `socket-heap-${process.pid}:`,
    JWT_SECRET,
    LOG_LEVEL: 'error',
    RATE_LIMIT_MAX: '100000000',
  });
  const app = await buildApp(config);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as { port: number };
  const users = await seedUsers(scratch.client, sockets, 'heap');
  const clients = new Worker(
    `const { parentPort, workerData } = require('node:worker_threads');
     const WebSocket = require(workerData.ws);
     const open = (token) => new Promise((resolve, reject) => {
       const socket = new WebSocket('ws://127.0.0.1:' + workerData.port + '/ws', { headers: { authorization: 'Bearer ' + token } });
       socket.once('message', () => resolve(socket));
       socket.once('error', reject);
     });
     const held = [];
     parentPort.on('message', async (tokens) => {
       for (let i = 0; i < tokens.length; i += 100) held.push(...(await Promise.all(tokens.slice(i, i + 100).map(open))));
       parentPort.postMessage(held.length);
     });`,
    { eval: true, workerData: { port, ws: createRequire(import.meta.url).resolve('ws') } },
  );
  const open = (tokens: string[]) => new Promise<number>((resolve) => { clients.once('message', resolve); clients.postMessage(tokens); });
  await open(users.slice(0, baseline).map((u) => u.token));
  const before = await settledSnapshot('before');
  await open(users.slice(baseline).map((u) => u.token));
  const after = await settledSnapshot('after');
  files.push(before.file, after.file);
  const added = sockets - baseline;
  const perSocket = (key: 'heapUsed' | 'external' | 'arrayBuffers') => Math.round(((after.usage[key] - before.usage[key]) / added / 1024) * 100) / 100;
  console.log(JSON.stringify({ sockets, heapKiBPerSocket: perSocket('heapUsed'), externalKiBPerSocket: perSocket('external'), arrayBuffersKiBPerSocket: perSocket('arrayBuffers') }));
  const [was, is] = [heapSummary(before.file), heapSummary(after.file)];
  const rows = [...is].map(([key, now]) => ({ key, bytes: (now.bytes - (was.get(key)?.bytes ?? 0)) / added, count: (now.count - (was.get(key)?.count ?? 0)) / added }));
  console.log('bytes/socket  objects/socket  type:constructor');
  for (const row of rows.sort((a, b) => b.bytes - a.bytes).slice(0, 30)) console.log(`${row.bytes.toFixed(0).padStart(12)}  ${row.count.toFixed(2).padStart(14)}  ${row.key}`);
  await clients.terminate();
  await app.close();
} finally {
  if (!process.env.KEEP_SNAPSHOTS) for (const file of files) rmSync(file, { force: true });
  await scratch.drop();
}
