import t from 'tap';
import type { App } from '../../../src/app.js';
import { type Account, call } from '../../support/accounts.js';
import { type MessageBody, conversation, createGroup, directChat, newClientId } from '../../support/chat.js';
import { type ConversationReplica, applyEvent, comparable, snapshot } from '../../support/replica.js';
import type { Frame } from '../../support/ws-client.js';
import { prng } from '../../chaos/support/prng.js';
import { createAdmin } from '../../support/staff.js';
import { type StreamPositions, type UserReplica, applyStreamEvent, comparableUser, userSnapshot } from '../../support/user-replica.js';
import { type OpenSocket, TRANSPORT, buildCluster, openSocket, resumeDone, sendResume, waitUntil } from './cluster-support.js';

/*
 * Offline sync, randomized (seeded: OFFLINE_SEED replays a run, OFFLINE_OPS sets its length): several
 * users make mixed changes to a group and a direct chat through both instances (sends, edits,
 * deletes, hides, reactions, pins, receipts, members coming and going, renames, settings) and to what
 * belongs to no conversation (blocks, status updates, announcements and reads of them), while three
 * devices of Alice's come and go at random: one resumes by positions, one by sync token and
 * positions, one pulls GET /sync in small pages. Each device applies what it gets with the README's
 * rules; no event may ever be applied twice or out of order (applyEvent and applyStreamEvent throw),
 * and at the end each device's state of each conversation, and of the rest, equals a fresh snapshot.
 */

const SEED = Number(process.env.OFFLINE_SEED ?? Date.now() % 1_000_000);
const OPS = Number(process.env.OFFLINE_OPS ?? 1500);
t.comment(`seed ${SEED} (OFFLINE_SEED=${SEED} replays it), ${OPS} changes, transport ${TRANSPORT}`);

const c = await buildCluster(t);
const apps = [c.a, c.b];

interface Device {
  name: string;
  replicas: Map<string, { replica: ConversationReplica; position: { seq: number } }>;
  user: UserReplica;
  streams: StreamPositions;
  token: string;
  mode: 'positions' | 'token' | 'rest';
  socket?: OpenSocket;
  /** Frames of the open socket already applied. */
  applied: number;
}

t.test(`${OPS} random changes while three devices come and go: every device ends where a snapshot is, nothing applied twice or out of order`, async (t) => {
  const random = prng(SEED);
  const [alice, bob, carol, dave] = [await c.user('Alice'), await c.user('Bob'), await c.user('Carol'), await c.user('Dave')];
  const tablet = await c.device(alice, 'tablet');
  const group = await createGroup(c.a, bob, [alice, carol]);
  const direct = await directChat(c.b, carol, alice);
  const conversations = [group.id, direct.id];
  const admin = await createAdmin(c.a);
  const announced: string[] = [];
  const statuses: Array<{ id: string; author: Account }> = [];
  const sent: Array<{ id: string; conversationId: string; senderId: string; seq: number }> = [];

  async function device(name: string, mode: Device['mode']): Promise<Device> {
    const { nextToken } = (await call(c.a, 'GET', '/sync', { token: alice.accessToken })).json() as { nextToken: string };
    const replicas = new Map();
    for (const id of conversations) replicas.set(id, { replica: await snapshot(c.a, alice, id), position: { seq: (await conversation(c.a, alice, id)).lastSeq } });
    const probe = await openSocket(t, c.a, alice);
    probe.close();
    return { name, replicas, user: await userSnapshot(c.a, alice), streams: { ...probe.ready.data.streams }, token: nextToken, mode, applied: 0 };
  }
  const devices = [await device('positions', 'positions'), await device('token', 'token'), await device('rest', 'rest')];

  const apply = (d: Device, frame: Frame & { conversationId?: string }) => {
    if (applyStreamEvent(d.user, d.streams, frame)) return;
    const held = d.replicas.get(frame.conversationId ?? '');
    if (held) applyEvent(held.replica, held.position, frame);
  };
  const positionsOf = (d: Device) => Object.fromEntries([...d.replicas].map(([id, r]) => [id, r.position.seq]));
  /** Applies the frames the open socket got since the last call. */
  const drainSocket = (d: Device) => {
    if (!d.socket) return;
    for (const frame of d.socket.frames.slice(d.applied)) apply(d, frame);
    d.applied = d.socket.frames.length;
  };

  async function connect(d: Device, app: App): Promise<void> {
    const socket = await openSocket(t, app, alice, '/ws?resume=1');
    Object.assign(d, { socket, applied: 0 });
    const id = sendResume(socket, d.mode === 'token' ? { since: d.token, after: positionsOf(d), streams: d.streams } : { after: positionsOf(d), streams: d.streams });
    const done = await resumeDone(socket, id);
    if (d.mode === 'token') d.token = done.data.syncToken;
    drainSocket(d);
  }
  async function disconnect(d: Device): Promise<void> {
    if (!d.socket) return;
    d.socket.close();
    await d.socket.closed();
    drainSocket(d);
    d.socket = undefined;
  }
  async function pull(d: Device): Promise<void> {
    for (let more = true; more; ) {
      const answer = (await call(random.pick(apps), 'GET', `/sync?since=${d.token}&limit=${random.int(1, 20)}`, { token: alice.accessToken })).json() as {
        items: Frame[];
        nextToken: string;
        more: boolean;
      };
      for (const item of answer.items) apply(d, item);
      d.token = answer.nextToken;
      more = answer.more;
    }
  }

  const ask = (app: App, who: Account, method: 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, payload?: Record<string, unknown>) =>
    call(app, method, path, { token: who.accessToken, ...(payload ? { payload } : {}) });
  const someMessage = (conversationId: string, senderId?: string) => {
    const candidates = sent.filter((m) => m.conversationId === conversationId && (senderId === undefined || m.senderId === senderId));
    return candidates.length > 0 ? random.pick(candidates.slice(-30)) : undefined;
  };
  const members = () => [bob, carol, ...(daveIn ? [dave] : [])];
  let daveIn = false;

  const operations: Array<[number, (app: App) => Promise<unknown>]> = [
    [30, async (app) => {
      const conversationId = random.pick(conversations);
      const who = conversationId === direct.id ? random.pick([carol, tablet]) : random.pick([...members(), tablet]);
      const response = await ask(app, who, 'POST', '/message', { conversationId, clientId: newClientId(), type: 'text', body: `m${random.int(0, 1e6)}` });
      if (response.statusCode !== 201) return;
      const message = response.json() as MessageBody;
      sent.push({ id: message.id, conversationId, senderId: who.user.id, seq: message.seq });
    }],
    [8, async (app) => {
      const conversationId = random.pick(conversations);
      const who = random.pick([bob, carol, tablet]);
      const target = someMessage(conversationId, who.user.id);
      if (target) await ask(app, who, 'PATCH', `/message/${target.id}`, { body: `edited ${random.int(0, 1e6)}` });
    }],
    [3, async (app) => {
      const who = random.pick([bob, carol]);
      const target = someMessage(random.pick(conversations), who.user.id);
      if (target) await ask(app, who, 'DELETE', `/message/${target.id}?for=everyone`);
    }],
    [3, async (app) => {
      const target = someMessage(random.pick(conversations));
      if (target) await ask(app, random.pick([tablet, carol]), 'DELETE', `/message/${target.id}?for=me`);
    }],
    [12, async (app) => {
      const target = someMessage(random.pick(conversations));
      const emoji = encodeURIComponent(random.pick(['👍', '🎉', '❤️']));
      if (target) await ask(app, random.pick([bob, carol, tablet]), random.next() < 0.7 ? 'PUT' : 'DELETE', `/message/${target.id}/reactions/${emoji}`);
    }],
    [4, async (app) => {
      const target = someMessage(random.pick(conversations));
      if (target) await ask(app, random.pick([bob, carol]), random.next() < 0.6 ? 'POST' : 'DELETE', `/message/${target.id}/pin`);
    }],
    [15, async (app) => {
      const conversationId = random.pick(conversations);
      const who = conversationId === direct.id ? random.pick([carol, tablet]) : random.pick([...members(), tablet]);
      const target = someMessage(conversationId);
      if (target) await ask(app, who, 'POST', `/chat/${conversationId}/${random.next() < 0.5 ? 'read' : 'delivered'}`, { seq: target.seq });
    }],
    [3, async (app) => {
      daveIn = !daveIn;
      await (daveIn
        ? ask(app, bob, 'POST', `/chat/${group.id}/members`, { userIds: [dave.user.id] })
        : ask(app, random.pick([bob, dave]), 'DELETE', `/chat/${group.id}/members/${dave.user.id}`));
    }],
    [2, async (app) => {
      if (daveIn) await ask(app, bob, 'PATCH', `/chat/${group.id}/members/${dave.user.id}`, { role: random.pick(['admin', 'member']) });
    }],
    [2, async (app) => ask(app, bob, 'PATCH', `/chat/${group.id}`, { title: `Group ${random.int(0, 1e6)}` })],
    [2, async (app) => ask(app, tablet, 'PATCH', `/chat/${random.pick(conversations)}/settings`, { muted: random.next() < 0.5, pinned: random.next() < 0.5 })],
    [2, async (app) => ask(app, random.pick([tablet, carol]), random.next() < 0.5 ? 'POST' : 'DELETE', `/users/${random.pick([bob, carol, alice]).user.id}/block`)],
    [4, async (app) => {
      const author = random.pick([carol, tablet, dave]);
      const response = await ask(app, author, 'POST', '/status', { type: 'text', body: `s${random.int(0, 1e6)}` });
      if (response.statusCode === 201) statuses.push({ id: (response.json() as { id: string }).id, author });
    }],
    [2, async (app) => {
      const target = statuses.length > 0 ? statuses.splice(random.int(0, statuses.length - 1), 1)[0]! : undefined;
      if (target) await ask(app, target.author, 'DELETE', `/status/${target.id}`);
    }],
    [2, async (app) => {
      const roll = random.next();
      if (roll < 0.4 || announced.length === 0) {
        const response = await ask(app, admin, 'POST', '/admin/announcements', { title: `a${random.int(0, 1e6)}`, body: 'body' });
        announced.push((response.json() as { id: string }).id);
      } else if (roll < 0.7) await ask(app, admin, 'PATCH', `/admin/announcements/${random.pick(announced)}`, { body: `edited ${random.int(0, 1e6)}` });
      else if (roll < 0.85) await ask(app, tablet, 'POST', `/announcements/${random.pick(announced)}/read`);
      else await ask(app, admin, 'DELETE', `/admin/announcements/${random.pick(announced)}`);
    }],
  ];
  const total = operations.reduce((sum, [weight]) => sum + weight, 0);
  const pickOperation = () => {
    let roll = random.next() * total;
    for (const [weight, run] of operations) if ((roll -= weight) < 0) return run;
    return operations[0]![1];
  };

  for (let step = 0; step < OPS; step++) {
    await pickOperation()(random.pick(apps));
    if (random.next() < 0.03) {
      const d = random.pick(devices);
      if (d.mode === 'rest') await pull(d);
      else if (d.socket) await disconnect(d);
      else await connect(d, random.pick(apps));
    }
    for (const d of devices) drainSocket(d);
  }

  // Everyone comes back; a last message in each conversation marks the end of the stream.
  for (const d of devices) if (d.mode !== 'rest' && !d.socket) await connect(d, random.pick(apps));
  // (Carol and Alice may block each other by now: the tablet's reads and the operator end the streams, and unblock the pair first.)
  await ask(c.a, carol, 'DELETE', `/users/${alice.user.id}/block`);
  await ask(c.a, tablet, 'DELETE', `/users/${carol.user.id}/block`);
  const sentinels = [
    (await ask(c.a, bob, 'POST', '/message', { conversationId: group.id, clientId: newClientId(), type: 'text', body: 'the end' })).json() as MessageBody,
    (await ask(c.b, carol, 'POST', '/message', { conversationId: direct.id, clientId: newClientId(), type: 'text', body: 'the end' })).json() as MessageBody,
  ];
  const lastAnnouncement = ((await ask(c.b, admin, 'POST', '/admin/announcements', { title: 'the end', body: 'body' })).json() as { id: string }).id;
  await ask(c.a, tablet, 'POST', `/announcements/${lastAnnouncement}/read`);
  const streamsEnded = (d: Device) => d.user.read.includes(lastAnnouncement) && lastAnnouncement in d.user.announcements;
  for (const d of devices) {
    if (d.mode === 'rest') await pull(d);
    else {
      await waitUntil(`${d.name} gets the last messages`, () => {
        drainSocket(d);
        return sentinels.every((s) => d.socket!.frames.some((f) => f.type === 'message.created' && f.data.id === s.id)) && streamsEnded(d);
      });
    }
    for (const id of conversations) {
      t.same(comparable(d.replicas.get(id)!.replica), comparable(await snapshot(c.a, alice, id)), `${d.name}: ${id === group.id ? 'the group' : 'the direct chat'} equals a fresh snapshot`);
    }
    t.same(comparableUser(d.user), comparableUser(await userSnapshot(c.a, alice)), `${d.name}: blocks, statuses and announcements equal a fresh snapshot`);
    await disconnect(d);
  }
  // About a third of the operations send; blocks between Carol and Alice refuse some of the direct ones.
  t.ok(sent.length > OPS / 10, `${sent.length} messages among the changes`);
  t.ok(announced.length > 0 && statuses.length + announced.length > OPS / 100, `${announced.length} announcements and ${statuses.length} live statuses among them`);
});

