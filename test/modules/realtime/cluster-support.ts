import { once } from 'node:events';
import { type AddressInfo, type Socket, connect as netConnect, createServer } from 'node:net';
import type { Redis } from 'ioredis';
import type { Test } from 'tap';
import type { App } from '../../../src/app.js';
import type { Bus } from '../../../src/bus/bus.js';
import { createMemoryBus } from '../../../src/bus/memory-bus.js';
import { closeRedis, createRedis } from '../../../src/lib/redis.js';
import { type Env, type TestBackend, createBackend, runConfig, uniqueName } from '../../helper.js';
import { type Account, call, expectStatus, registerAndVerify, signIn } from '../../support/accounts.js';
import { buildAuthApp } from '../../support/auth-app.js';
import { type MessageBody, newClientId } from '../../support/chat.js';
import type { Mailbox } from '../../support/mailbox.js';
import { type Frame, type SocketClient, connect, socketBase } from '../../support/ws-client.js';

/*
 * Helpers of the cross-instance gateway tests (cluster-*.test.ts): two app instances on one database,
 * sockets on each, and ways to take Redis away from one of them.
 *
 * Transport of the two instances:
 * - REDIS_URL set: the real Redis bus, one key prefix (the same channels) for both, as in production.
 * - REDIS_URL unset (embedded run): both instances get ONE in-process bus (the real memory bus, handed
 *   to both through AppOverrides.bus), so an event published on A reaches B's gateway as it would
 *   through Redis. Everything else (gap filling, resume, exactly-once) is the same code path.
 * - `partitioned: true`: the instances do NOT hear each other (separate Redis prefixes, or each its
 *   own memory bus, the embedded default): what B's sockets get from A's sends can only come from
 *   Postgres (gap filling).
 */

export const TRANSPORT: 'redis' | 'memory' = runConfig.redis.url ? 'redis' : 'memory';

/** Generous bounds: every wait of these tests ends by itself. */
export const WAIT_MS = 20_000;

export interface Cluster {
  a: App;
  b: App;
  backend: TestBackend;
  mailbox: Mailbox;
  /** A new verified account, signed in (its first device). */
  user(displayName?: string): Promise<Account>;
  /** Another session (device) of an account. */
  device(account: Account, name?: string): Promise<Account>;
}

export interface ClusterOptions {
  partitioned?: boolean;
  envA?: Env;
  envB?: Env;
  /** Runs once A is built and before B is (e.g. to tell A's Redis connections from B's). */
  afterA?: (a: App, backend: TestBackend) => Promise<void>;
}

/** Socket limits that are not the subject of these tests are raised out of the way. */
const CLUSTER_ENV: Env = { AUTH_LOGIN_OTP: 'false', WS_RATE_LIMIT: '10000' };

export async function buildCluster(t: Test, options: ClusterOptions = {}): Promise<Cluster> {
  const backend = await createBackend(t);
  let shared: Bus | undefined;
  if (TRANSPORT === 'memory' && !options.partitioned) {
    shared = createMemoryBus();
    const bus = shared;
    // Registered before the apps: teardowns run last-in first-out, so the apps close first.
    t.teardown(() => bus.close());
  }
  const overrides = shared ? { bus: shared } : undefined;
  const first = await buildAuthApp(t, { backend, env: { ...CLUSTER_ENV, ...options.envA }, ...(overrides ? { overrides } : {}) });
  if (options.afterA) await options.afterA(first.app, backend);
  const envB: Env = { ...CLUSTER_ENV, ...options.envB };
  if (options.partitioned && TRANSPORT === 'redis') envB.REDIS_KEY_PREFIX = `${uniqueName('t')}:`;
  const second = await buildAuthApp(t, { backend, mailbox: first.mailbox, sms: first.sms, env: envB, ...(overrides ? { overrides } : {}) });
  const { app: a, mailbox } = first;
  const b = second.app;
  return {
    a,
    b,
    backend,
    mailbox,
    user: (displayName?: string) => registerAndVerify(a, mailbox, displayName ? { displayName } : {}),
    async device(account, name = 'second device') {
      const pair = await signIn(b, mailbox, account, name);
      return { ...account, ...pair };
    },
  };
}

export interface OpenSocket extends SocketClient {
  ready: Frame;
}

/** Opens `path` (default /ws) on an instance with a bearer header and waits for `ready`, which must be the first frame. */
export async function openSocket(t: Test, app: App, account: Pick<Account, 'accessToken'>, path = '/ws'): Promise<OpenSocket> {
  const base = await socketBase(t, app);
  const client = await connect(t, `${base}${path}`, { headers: { authorization: `Bearer ${account.accessToken}` } });
  const ready = await client.next('ready', 10_000);
  if (client.frames[0] !== ready) throw new Error(`the first frame is not ready: ${JSON.stringify(client.frames[0])}`);
  return Object.assign(client, { ready });
}

/** The message.created frames of one conversation, in arrival order. */
export function createdFrames(client: SocketClient, conversationId: string): Frame[] {
  return client.frames.filter((f) => f.type === 'message.created' && (f.data as MessageBody | undefined)?.conversationId === conversationId);
}

export function createdSeqs(client: SocketClient, conversationId: string): number[] {
  return createdFrames(client, conversationId).map((f) => (f.data as MessageBody).seq);
}

export function range(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Waits until `done()` holds, polling; throws with `describe()` after `ms`. */
export async function waitUntil(what: string, done: () => boolean, describe: () => string = () => '', ms = WAIT_MS): Promise<void> {
  const deadline = Date.now() + ms;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms ${describe()}`);
    await sleep(10);
  }
}

/** Like waitUntil for a check that has to ask something (e.g. Redis); polls every 50 ms. */
export async function waitUntilAsync(what: string, done: () => Promise<boolean>, describe: () => string = () => '', ms = WAIT_MS): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms ${describe()}`);
    await sleep(50);
  }
}

/** Waits until the socket has received message.created for `seq` of the conversation. */
export function waitForSeq(client: SocketClient, conversationId: string, seq: number, label: string, ms = WAIT_MS): Promise<void> {
  return waitUntil(
    `${label} receives seq ${seq}`,
    () => createdSeqs(client, conversationId).includes(seq),
    () => `(got ${JSON.stringify(createdSeqs(client, conversationId))})`,
    ms,
  );
}

/** message.send over a socket; the stored message from the `message.ack`. */
export async function socketSend(client: SocketClient, conversationId: string, body: string): Promise<MessageBody> {
  const reply = await client.request('message.send', { conversationId, clientId: newClientId(), type: 'text', body }, 15_000);
  if (reply.type !== 'message.ack') throw new Error(`message.send answered ${JSON.stringify(reply)}`);
  return reply.data as MessageBody;
}

/** GET /message/:id on an instance. */
export async function fetchMessage(app: App, reader: Account, id: string): Promise<MessageBody> {
  return expectStatus<MessageBody>(await call(app, 'GET', `/message/${id}`, { token: reader.accessToken }), 200, `GET /message/${id}`);
}

let resumeSequence = 0;

/** Sends `resume` and returns its id (the caller waits for `resume.done` with `resumeDone`). */
export function sendResume(client: SocketClient, data: Record<string, unknown>): string {
  resumeSequence += 1;
  const id = `resume-${resumeSequence}`;
  client.send({ type: 'resume', id, data });
  return id;
}

export async function resumeDone(client: SocketClient, id: string, ms = WAIT_MS): Promise<Frame> {
  let found: Frame | undefined;
  await waitUntil(
    `resume.done for ${id}`,
    () => {
      found = client.frames.find((f) => f.id === id && f.type !== 'message.created');
      return found !== undefined;
    },
    () => `(frames: ${JSON.stringify(client.frames.map((f) => f.type))})`,
    ms,
  );
  if (found!.type !== 'resume.done') throw new Error(`resume answered ${JSON.stringify(found)}`);
  return found!;
}

/** A client of the run's Redis for inspecting and killing connections; closed when the test ends. */
export function redisAdmin(t: Test): Redis {
  const admin = createRedis(runConfig.redis.url!);
  t.teardown(() => closeRedis(admin));
  return admin;
}

/** Ids of the server connections with this client name (the bus names its subscriber `${prefix}bus-sub`). */
export async function connectionIds(admin: Redis, name: string): Promise<string[]> {
  const list = String(await admin.call('CLIENT', 'LIST'));
  return list
    .split('\n')
    .filter((line) => line.split(' ').includes(`name=${name}`))
    .map((line) => /(?:^| )id=(\d+)/.exec(line)?.[1] ?? '')
    .filter(Boolean);
}

export interface RedisProxy {
  /** REDIS_URL through the proxy. */
  url: string;
  /** Drops every open connection and refuses new ones (Redis "unreachable" for whoever uses `url`). */
  cut(): void;
  restore(): void;
}

/**
 * A TCP relay to the run's Redis. An instance configured with `proxy.url` loses Redis when the relay is
 * cut (both its command and subscriber connections), while other instances keep theirs.
 */
export async function redisProxy(t: Test): Promise<RedisProxy> {
  const target = new URL(runConfig.redis.url!);
  const port = Number(target.port || 6379);
  const host = target.hostname;
  const open = new Set<Socket>();
  let down = false;
  const server = createServer((client) => {
    if (down) {
      client.destroy();
      return;
    }
    const upstream = netConnect(port, host);
    open.add(client);
    open.add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    for (const side of [client, upstream]) {
      side.on('error', drop);
      side.on('close', drop);
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(async () => {
    down = true;
    for (const socket of open) socket.destroy();
    server.close();
    await once(server, 'close');
  });
  const url = new URL(target.toString());
  url.hostname = '127.0.0.1';
  url.port = String((server.address() as AddressInfo).port);
  return {
    url: url.toString(),
    cut() {
      down = true;
      for (const socket of open) socket.destroy();
    },
    restore() {
      down = false;
    },
  };
}
