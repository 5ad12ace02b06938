import { accessToken, seedDirects, seedGroup, seedUsers } from '../../../bench/ws-support.js';
import type { ChaosCluster } from './cluster.js';
import { Device } from './device.js';
import { type Report, type StoredRow, judge } from './invariants.js';
import { type Prng, prng } from './prng.js';

/*
 * One chaos scenario on a running cluster: fresh users and conversations (ten 1:1 chats and one
 * 20-member group, every user in the group and in one chat), one device per user (half start on each
 * instance), all sending at a steady seeded rate while a few "blippers" reconnect every second or so;
 * the scenario's disruption runs after a warm-up. Then sending stops, the run waits until every send
 * is acknowledged and every device holds every stored seq (or the settle time runs out), and the
 * invariants are judged on the wire logs and the database.
 */

export interface ScenarioContext {
  cluster: ChaosCluster;
  /** The 20 member devices. */
  devices: Device[];
  rng: Prng;
  /** ms since the scenario began. */
  clock(): number;
  sleep(ms: number): Promise<void>;
  /** Adds a line to the scenario's timeline (printed with its figures). */
  note(text: string): void;
  /** Devices whose first socket went to instance `index` and that are now elsewhere go back to it. */
  moveHome(index: number): number;
  /** With `slowConsumer`: a member device (in the group and a chat) and a sender that shares a third chat with it. */
  slow?: { consumer: Device; firehose: Device; conversationId: string };
}

export interface Scenario {
  name: string;
  /** Adds the firehose user and its chat with one member (for the slow consumer). */
  slowConsumer?: boolean;
  /** The disruption; traffic flows throughout. */
  disrupt(context: ScenarioContext): Promise<void>;
  /** Checks of the scenario itself (that the disruption really happened as planned); empty when fine. */
  verify?(context: ScenarioContext): string[];
}

export interface RunOptions {
  seed: number;
  /** Sends per second over all devices. */
  rate: number;
  warmupMs: number;
  tailMs: number;
  /** How long to wait, after sending stops, for every send to be acked and every device to catch up. */
  settleMs: number;
  blippers: number;
}

export interface ScenarioResult {
  report: Report;
  timeline: string[];
  /** Problems with the run itself (the disruption did not happen, clients never connected). */
  problems: string[];
  settled: boolean;
  elapsedMs: number;
}

const MEMBERS = 20;
const GROUP_SHARE = 0.3;
let seedTag = 0;

export async function runScenario(cluster: ChaosCluster, scenario: Scenario, options: RunOptions): Promise<ScenarioResult> {
  const rng = prng(options.seed);
  const began = Date.now();
  const clock = () => Date.now() - began;
  const timeline: string[] = [];
  const note = (text: string) => timeline.push(`${(clock() / 1000).toFixed(2)}s ${text}`);
  const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

  await cluster.ensureUp();
  // Users, chats and group, seeded with SQL; tokens are minted with the instances' JWT secret.
  const client = await cluster.db.connect();
  let users, directs: string[], group: string, firehoseChat: string | undefined;
  try {
    seedTag += 1;
    users = await seedUsers(client, MEMBERS + (scenario.slowConsumer ? 1 : 0), `chaos${seedTag}${scenario.name.replace(/\W/g, '').slice(0, 12)}`);
    const pairs: Array<[string, string]> = [];
    for (let i = 0; i < MEMBERS; i += 2) pairs.push([users[i]!.id, users[i + 1]!.id]);
    directs = await seedDirects(client, pairs);
    group = await seedGroup(client, users.slice(0, MEMBERS).map((u) => u.id));
    if (scenario.slowConsumer) [firehoseChat] = await seedDirects(client, [[users[MEMBERS - 1]!.id, users[MEMBERS]!.id]]);
  } finally {
    client.release();
  }
  const conversationLabel = new Map<string, string>([[group, 'G'], ...directs.map((id, i): [string, string] => [id, `D${i}`])]);
  if (firehoseChat) conversationLabel.set(firehoseChat, 'F');

  const deviceOfUser = new Map<string, Device>();
  const homes = new Map<Device, number>();
  const all: Device[] = users.map((user, i) => {
    const conversations = i < MEMBERS ? [group, directs[i >> 1]!] : [];
    if (firehoseChat && i >= MEMBERS - 1) conversations.push(firehoseChat);
    const device = new Device({
      label: i < MEMBERS ? `u${String(i).padStart(2, '0')}` : 'fire',
      token: accessToken(user.id, user.sessionId),
      conversations,
      endpoints: cluster.endpoints,
      home: i % 2,
      rng: rng.fork(`device${i}`),
      clock,
      tag: scenario.name,
    });
    deviceOfUser.set(user.id, device);
    homes.set(device, i % 2);
    return device;
  });
  const devices = all.slice(0, MEMBERS);
  const context: ScenarioContext = {
    cluster,
    devices,
    rng: rng.fork('disruption'),
    clock,
    sleep,
    note,
    moveHome(index) {
      let moved = 0;
      for (const device of all) {
        if (homes.get(device) !== index || device.instance === cluster.endpoints[index]!.name) continue;
        device.moveTo(index);
        moved += 1;
      }
      note(`moved ${moved} devices back to ${cluster.endpoints[index]!.name}`);
      return moved;
    },
    ...(firehoseChat ? { slow: { consumer: all[MEMBERS - 1]!, firehose: all[MEMBERS]!, conversationId: firehoseChat } } : {}),
  };

  const problems: string[] = [];
  let settled = false;
  let blipping = true;
  try {
    for (const device of all) device.connect();
    if (!(await waitFor(15_000, () => all.every((d) => d.open)))) problems.push(`not every device got ready within 15 s: ${all.filter((d) => !d.open).map((d) => d.label).join(', ')}`);
    note('all devices ready; sending');
    const perDevice = options.rate / MEMBERS;
    devices.forEach((device, i) => device.startSending(perDevice, [directs[i >> 1]!], group, GROUP_SHARE));
    // Distinct blippers; the last member (the slow consumer, when there is one) is never one.
    const blippers: Device[] = [];
    while (blippers.length < Math.min(options.blippers, MEMBERS - 1)) {
      const device = devices[rng.int(0, MEMBERS - 2)]!;
      if (!blippers.includes(device)) blippers.push(device);
    }
    const blipRng = rng.fork('blips');
    const blips = blippers.map(async (device) => {
      while (blipping) {
        await sleep(blipRng.int(500, 2500));
        if (blipping) device.drop('close');
      }
    });
    await sleep(options.warmupMs);
    note(`disruption "${scenario.name}" begins`);
    await scenario.disrupt(context);
    note('disruption over');
    await sleep(options.tailMs);
    blipping = false;
    await Promise.all(blips);
    for (const device of all) device.stopSending();
    note('sending stopped; settling');
    settled = await waitFor(options.settleMs, async () => {
      if (all.some((d) => d.unacked().length > 0 || !d.open)) return false;
      const last = await lastSeqs(cluster, [...conversationLabel.keys()]).catch(() => undefined);
      return last !== undefined && all.every((d) => [...d.holdings.keys()].every((id) => d.heldThrough(id) >= (last.get(id) ?? 0)));
    });
    note(settled ? 'settled' : `not settled after ${options.settleMs} ms`);
    if (!settled) for (const line of cluster.logs().slice(-10)) note(`log ${line.slice(0, 300)}`);
    problems.push(...(scenario.verify?.(context) ?? []));
  } finally {
    blipping = false;
    for (const device of all) device.shutdown();
  }

  const ids = [...conversationLabel.keys()];
  const { rows: stored, lastSeq } = await storedState(cluster, ids);
  const report = judge({ devices: all, deviceOfUser, conversationLabel, rows: stored, lastSeq });
  return { report, timeline, problems, settled, elapsedMs: clock() };
}

async function lastSeqs(cluster: ChaosCluster, ids: string[]): Promise<Map<string, number>> {
  const { rows } = await cluster.db.query<{ id: string; last_seq: string }>('select id, last_seq from conversations where id = any($1::uuid[])', [ids]);
  return new Map(rows.map((r) => [r.id, Number(r.last_seq)]));
}

/** The conversations' rows and counters from one snapshot (a send committing meanwhile is in both or neither). */
async function storedState(cluster: ChaosCluster, ids: string[]): Promise<{ rows: StoredRow[]; lastSeq: Map<string, number> }> {
  const client = await cluster.db.connect();
  try {
    await client.query('begin isolation level repeatable read read only');
    const counters = await client.query<{ id: string; last_seq: string }>('select id, last_seq from conversations where id = any($1::uuid[])', [ids]);
    const { rows } = await client.query<{ conversation_id: string; seq: string; id: string; sender_id: string; client_id: string; body: string | null }>(
      'select conversation_id, seq, id, sender_id, client_id, body from messages where conversation_id = any($1::uuid[])',
      [ids],
    );
    await client.query('commit');
    return {
      rows: rows.map((r) => ({ conversationId: r.conversation_id, seq: Number(r.seq), id: r.id, senderId: r.sender_id, clientId: r.client_id, body: r.body })),
      lastSeq: new Map(counters.rows.map((r) => [r.id, Number(r.last_seq)])),
    };
  } finally {
    client.release();
  }
}

async function waitFor(ms: number, done: () => boolean | Promise<boolean>): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await done()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
