import { type ChildProcess, execFile, execFileSync, spawn, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { freePort } from '../../support/loopback.js';

/*
 * Servers the chaos test owns, so it can kill, pause and restart them: a throwaway PostgreSQL cluster
 * and a Redis, each on a free loopback port, with nothing persisted beyond the run. Every process
 * started here is also killed synchronously when the test process exits, whatever way it exits.
 */

/**
 * Cleanup that happens however the test process ends. A shell command per resource is kept in a
 * script; a detached watcher runs it once this process is gone (even after SIGKILL, as when tap's
 * timeout fires), and a normal exit runs it synchronously and empties it.
 */
class Reaper {
  private readonly commands = new Map<string, string>();
  private readonly dir = mkdtempSync('/tmp/chaos-reaper-');
  private readonly script = join(this.dir, 'cleanup.sh');

  constructor() {
    writeFileSync(this.script, '');
    const watcher = spawn('sh', ['-c', `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done; sh ${this.script}; rm -rf ${this.dir}`], {
      detached: true,
      stdio: 'ignore',
    });
    watcher.unref();
    process.once('exit', () => {
      spawnSync('sh', [this.script], { stdio: 'ignore' });
      writeFileSync(this.script, '');
    });
  }

  add(key: string, command: string): void {
    this.commands.set(key, command);
    this.save();
  }

  remove(key: string): void {
    this.commands.delete(key);
    this.save();
  }

  private save(): void {
    writeFileSync(this.script, [...this.commands.values()].map((c) => `${c} >/dev/null 2>&1`).join('\n') + '\n');
  }
}

const reaper = new Reaper();

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function until(what: string, ms: number, probe: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await probe()) return;
    await sleep(50);
  }
  throw new Error(`${what} within ${ms} ms`);
}

// ---------------------------------------------------------------------------------------------------
// PostgreSQL

export interface PrivatePostgres {
  /** Superuser URL of the `postgres` database. */
  url: string;
  port: number;
  /** `pg_ctl restart` in this mode (`immediate`: no shutdown checkpoint, crash recovery on start). */
  restart(mode: 'immediate' | 'fast'): Promise<void>;
  stop(): void;
  /** The ERROR lines of the server log, counted by message (for the timeline of a failed scenario). */
  errorSummary(): string[];
}

/** The newest installed server's bin directory (Debian layout), or where `pg_ctl` is on the PATH. */
function postgresBin(): string {
  const root = '/usr/lib/postgresql';
  if (existsSync(root)) {
    const versions = readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'initdb'))).sort((a, b) => Number(b) - Number(a));
    if (versions[0]) return join(root, versions[0], 'bin');
  }
  const found = spawnSync('sh', ['-c', 'command -v initdb'], { encoding: 'utf8' }).stdout.trim();
  if (found) return found.replace(/\/initdb$/, '');
  throw new Error('the chaos test needs a PostgreSQL server installation (initdb, pg_ctl); none found under /usr/lib/postgresql or on PATH');
}

/** Postgres refuses to run as root: as root, commands run as the `postgres` user. */
function asPostgresUser(command: string, args: string[]): [string, string[]] {
  return process.getuid?.() === 0 ? ['runuser', ['-u', 'postgres', '--', command, ...args]] : [command, args];
}

export async function startPostgres(): Promise<PrivatePostgres> {
  const bin = postgresBin();
  const port = await freePort();
  const dir = mkdtempSync('/tmp/chaos-pg-');
  const data = join(dir, 'data');
  const log = join(dir, 'server.log');
  if (process.getuid?.() === 0) {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    chownSync(dir, uid, gid);
  }
  const run = (command: string, args: string[]) => {
    const [file, argv] = asPostgresUser(join(bin, command), args);
    const result = spawnSync(file, argv, { encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed (${result.status}): ${result.stderr}${result.stdout}`);
  };
  // fsync off is safe here: only the process is killed, never the machine, so written WAL survives in
  // the page cache. synchronous_commit stays on: an acknowledged commit must survive `immediate`.
  const options = `-p ${port} -c listen_addresses=127.0.0.1 -k ${dir} -c fsync=off -c full_page_writes=off -c max_connections=200`;
  /** Without blocking the event loop: the clients keep reading while Postgres restarts. */
  const runAsync = (command: string, args: string[]) =>
    new Promise<void>((resolve, reject) => {
      const [file, argv] = asPostgresUser(join(bin, command), args);
      execFile(file, argv, (error, stdout, stderr) => (error ? reject(new Error(`${command} ${args.join(' ')} failed: ${stderr}${stdout}`)) : resolve()));
    });
  const startArgs = ['-D', data, '-l', log, '-w', '-t', '60', '-o', options, 'start'];
  const [stopFile, stopArgs] = asPostgresUser(join(bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', '-w', 'stop']);
  const key = `postgres:${port}`;
  reaper.add(key, `${[stopFile, ...stopArgs].join(' ')}; rm -rf ${dir}`);
  run('initdb', ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-sync', '--no-instructions']);
  run('pg_ctl', startArgs);
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    async restart(mode) {
      await runAsync('pg_ctl', ['-D', data, '-m', mode, '-w', 'stop']);
      await runAsync('pg_ctl', startArgs);
    },
    stop() {
      spawnSync(stopFile, stopArgs, { stdio: 'ignore' });
      rmSync(dir, { recursive: true, force: true });
      reaper.remove(key);
    },
    errorSummary() {
      const counts = new Map<string, number>();
      const text = existsSync(log) ? readFileSync(log, 'utf8') : '';
      for (const match of text.matchAll(/(?:ERROR|FATAL|PANIC):\s+(.*)/g)) {
        const message = match[1]!.replace(/\d+/g, 'N').slice(0, 160);
        counts.set(message, (counts.get(message) ?? 0) + 1);
      }
      return [...counts].sort((a, b) => b[1] - a[1]).map(([message, n]) => `${n}x ${message}`);
    },
  };
}

// ---------------------------------------------------------------------------------------------------
// Redis

export interface PrivateRedis {
  url: string;
  /** SIGKILL; `start` brings up an empty one on the same port. */
  kill(): Promise<void>;
  start(): Promise<void>;
  /** SIGSTOP / SIGCONT: connections stay open, nothing answers. */
  pause(): void;
  resume(): void;
  /** Whether the process is running (paused or not). */
  running(): boolean;
  stop(): Promise<void>;
}

function redisAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (chunk) => done(String(chunk).startsWith('+PONG')));
  });
}

export async function startRedis(): Promise<PrivateRedis> {
  const port = await freePort();
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  const killNow = () => {
    child?.kill('SIGCONT');
    child?.kill('SIGKILL');
  };
  const key = `redis:${port}`;
  const redis: PrivateRedis = {
    url: `redis://127.0.0.1:${port}`,
    async start() {
      const started = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--loglevel', 'warning'], {
        stdio: 'ignore',
      });
      child = started;
      reaper.add(key, `kill -CONT ${started.pid}; kill -KILL ${started.pid}`);
      exited = new Promise((resolve) => started.once('exit', () => resolve()));
      await until('redis-server did not answer PING', 10_000, () => redisAnswers(port));
    },
    async kill() {
      killNow();
      await exited;
    },
    pause: () => void child?.kill('SIGSTOP'),
    resume: () => void child?.kill('SIGCONT'),
    running: () => child !== undefined && child.exitCode === null && child.signalCode === null,
    async stop() {
      killNow();
      await exited;
      reaper.remove(key);
    },
  };
  await redis.start();
  return redis;
}

// ---------------------------------------------------------------------------------------------------
// CPU hog

/** A busy loop pinned to `cpu`, killed by `stop` (and in any case after `maxSeconds`). */
export function startCpuHog(cpu: number, maxSeconds: number): { stop(): void } {
  // Its own process group, so the loop dies with `timeout` when the group is killed.
  const child = spawn('timeout', ['-s', 'KILL', String(maxSeconds), 'taskset', '-c', String(cpu), 'sh', '-c', 'while :; do :; done'], { stdio: 'ignore', detached: true });
  const key = `hog:${child.pid}`;
  reaper.add(key, `kill -KILL -${child.pid}`);
  return {
    stop() {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
      reaper.remove(key);
    },
  };
}

/** Kills a child (an app instance) however the test process ends; call the result once it has exited. */
export function killOnExit(child: ChildProcess): () => void {
  const key = `pid:${child.pid}`;
  reaper.add(key, `kill -CONT ${child.pid}; kill -KILL ${child.pid}`);
  return () => reaper.remove(key);
}

/** Removes a directory however the test process ends. */
export function removeOnExit(dir: string): () => void {
  const key = `dir:${dir}`;
  reaper.add(key, `rm -rf ${dir}`);
  return () => {
    rmSync(dir, { recursive: true, force: true });
    reaper.remove(key);
  };
}
