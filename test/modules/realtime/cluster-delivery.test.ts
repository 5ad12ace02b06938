import t from 'tap';
import { call, expectStatus } from '../../support/accounts.js';
import { type MessageBody, createGroup, directChat, sendText } from '../../support/chat.js';
import { type SocketClient, connect, socketBase } from '../../support/ws-client.js';
import {
  TRANSPORT,
  buildCluster,
  createdFrames,
  createdSeqs,
  fetchMessage,
  openSocket,
  range,
  resumeDone,
  sendResume,
  sleep,
  socketSend,
  waitForSeq,
} from './cluster-support.js';

/*
 * Cross-instance delivery of the socket gateway (spec: "Delivery guarantees"): two app instances, A
 * and B, on one database; sockets spread over both; sends over REST and over sockets through both.
 * Every socket must get every message.created of its conversations exactly once, in seq order, with
 * the message resource exactly as REST returns it, whichever instance took the write.
 *
 * With REDIS_URL the instances talk through Redis (one key prefix). Without it (embedded run) they
 * share one in-process bus, the same scenarios on the same code paths; Redis outages are in
 * cluster-redis-outage.test.ts.
 *
 * "Exactly once" is checked after a sentinel: a last message is sent and awaited on every socket;
 * delivery is in seq order per socket, so a duplicate or a late earlier seq would have to arrive
 * before it, and shows up in the exact sequence asserted.
 */

t.comment(`transport between the instances: ${TRANSPORT === 'redis' ? 'Redis pub/sub' : 'one shared in-process bus (REDIS_URL unset)'}`);

const c = await buildCluster(t);
const { a, b } = c;

t.test('direct chat: 50 REST + 50 socket sends through A reach Bob on B and on A exactly once, in order, as REST has them', async (t) => {
  const alice = await c.user('Alice');
  const bob = await c.user('Bob');
  const bobPhone = await c.device(bob, 'phone');
  const aliceTablet = await c.device(alice, 'tablet');
  const chat = await directChat(a, alice, bob);

  const aliceOnA = await openSocket(t, a, alice);
  const aliceOnB = await openSocket(t, b, aliceTablet);
  const bobOnB = await openSocket(t, b, bob);
  const bobOnA = await openSocket(t, a, bobPhone);

  const listed = (bobOnB.ready.data?.conversations ?? []) as Array<{ id: string; lastSeq: number }>;
  t.match(
    listed.find((x) => x.id === chat.id),
    { id: chat.id, roomName: chat.roomName, lastSeq: 0, unreadCount: 0 },
    'ready on B lists the chat at lastSeq 0',
  );

  const restSent: MessageBody[] = [];
  const socketSent: MessageBody[] = [];
  await Promise.all([
    (async () => {
      for (let i = 1; i <= 50; i++) restSent.push(await sendText(a, alice, chat.id, `rest ${i}`));
    })(),
    (async () => {
      for (let i = 1; i <= 50; i++) socketSent.push(await socketSend(aliceOnA, chat.id, `socket ${i}`));
    })(),
  ]);
  const sent = [...restSent, ...socketSent].sort((x, y) => x.seq - y.seq);
  t.same(
    sent.map((m) => m.seq),
    range(1, 100),
    'the 100 sends took seqs 1..100',
  );

  const sockets = { 'Bob on B': bobOnB, 'Bob on A': bobOnA, 'Alice on A (sending socket)': aliceOnA, 'Alice on B': aliceOnB };
  await Promise.all(Object.entries(sockets).map(([label, client]) => waitForSeq(client, chat.id, 100, label)));
  const sentinel = await sendText(b, bob, chat.id, 'sentinel from B');
  t.equal(sentinel.seq, 101, 'the sentinel takes seq 101');
  await Promise.all(Object.entries(sockets).map(([label, client]) => waitForSeq(client, chat.id, 101, label)));

  for (const [label, client] of Object.entries(sockets)) {
    t.same(createdSeqs(client, chat.id), range(1, 101), `${label}: every seq exactly once, in order`);
    t.ok(
      createdFrames(client, chat.id).every((f) => f.conversationId === chat.id),
      `${label}: each frame carries conversationId at top level`,
    );
  }

  const stored = await Promise.all(sent.map((m) => fetchMessage(b, bob, m.id)));
  t.same(
    createdFrames(bobOnB, chat.id)
      .slice(0, 100)
      .map((f) => f.data),
    stored,
    'Bob on B: each data is the message as GET /message/:id returns it',
  );
  t.same(
    createdFrames(bobOnA, chat.id)
      .slice(0, 100)
      .map((f) => f.data),
    stored,
    'Bob on A: the same',
  );
  t.same(sent, stored, 'the 201 bodies and message.ack data are the stored messages');
  t.same(
    createdFrames(bobOnB, chat.id)[100]?.data,
    sentinel,
    'the message sent through B arrives on B as its 201 body',
  );
});

t.test('group: concurrent sends through both instances reach every socket exactly once, in seq order', async (t) => {
  const owner = await c.user('Owner');
  const [m1, m2, m3] = [await c.user('M1'), await c.user('M2'), await c.user('M3')];
  const m2Tablet = await c.device(m2, 'tablet');
  const group = await createGroup(a, owner, [m1, m2, m3]);

  const sockets = {
    'owner on A': await openSocket(t, a, owner),
    'm1 on B': await openSocket(t, b, m1),
    'm2 on A': await openSocket(t, a, m2),
    'm2 on B': await openSocket(t, b, m2Tablet),
    'm3 on B': await openSocket(t, b, m3),
  };
  const { lastSeq } = group;

  const perSender = 15;
  // Four senders, each firing its 15 sends at once: REST on A and on B, a socket on A and one on B.
  const results = await Promise.all([
    ...range(1, perSender).map((i) => sendText(a, owner, group.id, `owner via REST on A ${i}`)),
    ...range(1, perSender).map((i) => sendText(b, m1, group.id, `m1 via REST on B ${i}`)),
    ...range(1, perSender).map((i) => socketSend(sockets['m2 on A'], group.id, `m2 via socket on A ${i}`)),
    ...range(1, perSender).map((i) => socketSend(sockets['m3 on B'], group.id, `m3 via socket on B ${i}`)),
  ]);
  const n = lastSeq + 4 * perSender;
  t.same(
    results.map((m) => m.seq).sort((x, y) => x - y),
    range(lastSeq + 1, n),
    `the ${4 * perSender} sends took seqs ${lastSeq + 1}..${n}`,
  );

  await Promise.all(Object.entries(sockets).map(([label, client]) => waitForSeq(client, group.id, n, label)));
  const sentinel = await sendText(a, m3, group.id, 'sentinel');
  await Promise.all(Object.entries(sockets).map(([label, client]) => waitForSeq(client, group.id, sentinel.seq, label)));

  const byId = new Map(results.map((m) => [m.id, m]));
  for (const [label, client] of Object.entries(sockets)) {
    // Events of the group before the sends (none are messages) do not count: seqs start at lastSeq + 1.
    t.same(createdSeqs(client, group.id), range(lastSeq + 1, sentinel.seq), `${label}: seqs ${lastSeq + 1}..${sentinel.seq} exactly once, in order`);
    const data = createdFrames(client, group.id)
      .map((f) => f.data as MessageBody)
      .filter((m) => m.seq <= n);
    t.same(
      data,
      data.map((m) => byId.get(m.id)),
      `${label}: each data is the message its sender got back (201 or message.ack)`,
    );
  }
});

t.test('sockets opened on both instances while messages flow: ready first, then every later seq exactly once, in order', async (t) => {
  const alice = await c.user('Alice');
  const bob = await c.user('Bob');
  const chat = await directChat(a, alice, bob);
  const total = 60;

  const opened: Array<{ label: string; client: SocketClient }> = [];
  let sending = true;
  const stream = (async () => {
    for (let i = 1; i <= total; i++) await sendText(i % 3 ? a : b, alice, chat.id, `stream ${i}`);
    sending = false;
  })();
  const deadline = Date.now() + 20_000;
  for (let i = 0; i < 8 && sending && Date.now() < deadline; i++) {
    const on = i % 2 ? a : b;
    const label = `Bob's socket #${i + 1} on ${i % 2 ? 'A' : 'B'}`;
    const client = await connect(t, `${await socketBase(t, on)}/ws`, { headers: { authorization: `Bearer ${bob.accessToken}` } });
    await client.next('ready', 10_000);
    opened.push({ label, client });
    await sleep(20);
  }
  await stream;
  t.ok(opened.length >= 2, `${opened.length} sockets opened while the stream ran`);
  const sentinel = await sendText(b, alice, chat.id, 'sentinel');
  await Promise.all(opened.map(({ label, client }) => waitForSeq(client, chat.id, sentinel.seq, label)));

  for (const { label, client } of opened) {
    const head = client.frames.slice(0, 3).map((f) => (f.type === 'message.created' ? `message.created ${f.data?.seq}` : f.type));
    t.equal(client.frames[0]?.type, 'ready', `${label}: the first frame is ready`, { firstFrames: head });
    const ready = client.frames.find((f) => f.type === 'ready')!;
    const from = ((ready.data?.conversations ?? []) as Array<{ id: string; lastSeq: number }>).find((x) => x.id === chat.id)?.lastSeq ?? -1;
    const afterReady = client.frames.slice(client.frames.indexOf(ready) + 1);
    t.same(
      afterReady.filter((f) => f.type === 'message.created' && f.data?.conversationId === chat.id).map((f) => f.data.seq),
      range(from + 1, sentinel.seq),
      `${label}: after ready (lastSeq ${from}), seqs ${from + 1}..${sentinel.seq} exactly once, in order`,
    );
  }
});

t.test('membership changed through A reaches a socket on B: the added user gets every message from the join on; the removed one stops', async (t) => {
  const owner = await c.user('Owner');
  const m1 = await c.user('M1');
  const bob = await c.user('Bob');
  const group = await createGroup(a, owner, [m1]);
  const bobOnB = await openSocket(t, b, bob);

  for (let i = 1; i <= 3; i++) await sendText(a, owner, group.id, `before Bob ${i}`);
  expectStatus(await call(a, 'POST', `/chat/${group.id}/members`, { token: owner.accessToken, payload: { userIds: [bob.user.id] } }), 201, 'add Bob');
  // Right after the 201, from both instances at once: Bob's socket on B has to pick the group up by itself.
  const burst = await Promise.all([...range(1, 10).map((i) => sendText(a, owner, group.id, `after ${i}`)), ...range(1, 10).map((i) => sendText(b, m1, group.id, `after from B ${i}`))]);
  t.same(
    burst.map((m) => m.seq).sort((x, y) => x - y),
    range(5, 24),
    "the burst took 5..24 (Bob's join took 4)",
  );
  const sentinel = await sendText(a, owner, group.id, 'sentinel');
  await waitForSeq(bobOnB, group.id, sentinel.seq, 'Bob on B');

  t.ok(
    bobOnB.frames.some((f) => f.type === 'member.joined' && f.conversationId === group.id && f.data?.userId === bob.user.id),
    'Bob on B is told he joined',
  );
  const seqs = createdSeqs(bobOnB, group.id);
  t.same(
    seqs.filter((seq) => seq > 4),
    range(5, sentinel.seq),
    'every message from the join on, exactly once, in order',
  );
  t.ok(
    seqs.every((seq, i) => i === 0 || seq > seqs[i - 1]!),
    'seqs strictly increase (older ones, if shown at all, come first)',
  );

  expectStatus(await call(a, 'DELETE', `/chat/${group.id}/members/${bob.user.id}`, { token: owner.accessToken }), 204, 'remove Bob');
  const afterRemoval = await sendText(a, owner, group.id, 'Bob is gone');
  // Published after the group message by the same instance: once it is on Bob's socket, the group message would be too.
  const direct = await directChat(a, owner, bob);
  const marker = await sendText(a, owner, direct.id, 'marker');
  await waitForSeq(bobOnB, direct.id, marker.seq, 'Bob on B (marker in another chat)');
  t.ok(
    bobOnB.frames.some((f) => f.type === 'member.left' && f.conversationId === group.id && f.data?.userId === bob.user.id),
    'Bob on B is told he was removed',
  );
  t.notOk(
    createdSeqs(bobOnB, group.id).includes(afterRemoval.seq),
    'no message of the group after his removal reaches him',
  );
});

t.test('resume on the other instance: exactly the missed messages in order, resume.done, then live ones, no gap, no duplicate', async (t) => {
  const alice = await c.user('Alice');
  const bob = await c.user('Bob');
  const chat = await directChat(a, alice, bob);

  const first = await openSocket(t, a, bob);
  for (let i = 1; i <= 5; i++) await sendText(i % 2 ? a : b, alice, chat.id, `before ${i}`);
  await waitForSeq(first, chat.id, 5, 'Bob on A');
  const seen = createdSeqs(first, chat.id);
  t.same(seen, range(1, 5), 'Bob saw 1..5 on A');
  const lastSeen = seen[seen.length - 1]!;
  first.close();
  await first.closed();

  const missed: MessageBody[] = [];
  for (let i = 1; i <= 10; i++) missed.push(await sendText(i % 2 ? a : b, alice, chat.id, `missed ${i}`));
  t.same(
    missed.map((m) => m.seq),
    range(6, 15),
    'ten messages while Bob is away: 6..15',
  );

  const second = await openSocket(t, b, bob);
  const listed = (second.ready.data?.conversations ?? []) as Array<{ id: string; lastSeq: number }>;
  t.equal(listed.find((x) => x.id === chat.id)?.lastSeq, 15, 'ready on B says lastSeq 15');

  const resumeId = sendResume(second, { conversationId: chat.id, after: lastSeen });
  // Live sends start as soon as the replay is under way, so they race it.
  await waitForSeq(second, chat.id, 6, 'Bob on B (replay)');
  const live: MessageBody[] = [];
  for (let i = 1; i <= 10; i++) live.push(await sendText(i % 2 ? b : a, alice, chat.id, `live ${i}`));
  const done = await resumeDone(second, resumeId);
  await waitForSeq(second, chat.id, 25, 'Bob on B (live)');
  const sentinel = await sendText(a, alice, chat.id, 'sentinel');
  await waitForSeq(second, chat.id, sentinel.seq, 'Bob on B (sentinel)');

  t.same(createdSeqs(second, chat.id), range(6, 26), 'Bob on B got 6..26: each exactly once, in order');
  const doneAt = second.frames.indexOf(done);
  const fifteenAt = createdFrames(second, chat.id).find((f) => (f.data as MessageBody).seq === 15);
  t.ok(fifteenAt && second.frames.indexOf(fifteenAt) < doneAt, 'every missed message (6..15) came before resume.done');
  t.match(done.data, { lastSeq: Number }, 'resume.done carries lastSeq');
  const doneSeq = (done.data as { lastSeq: number }).lastSeq;
  t.ok(doneSeq >= 15 && doneSeq <= 25, `resume.done lastSeq ${doneSeq} covers the missed messages`);
  if ((done.data as { conversationId?: string }).conversationId !== undefined) t.equal((done.data as { conversationId: string }).conversationId, chat.id, 'resume.done names the conversation');
  t.ok(
    second.frames.slice(doneAt + 1).every((f) => f.type !== 'message.created' || (f.data as MessageBody).seq > doneSeq),
    'after resume.done only seqs above its lastSeq',
  );
  t.same(
    createdFrames(second, chat.id)
      .slice(0, 20)
      .map((f) => f.data),
    [...missed, ...live],
    'replayed and live data are the messages as sent',
  );
});

t.test('resume on the other instance through a room socket', async (t) => {
  const alice = await c.user('Alice');
  const bob = await c.user('Bob');
  const chat = await directChat(a, alice, bob);
  const room = `/ws/chat/${chat.roomName}`;

  const first = await openSocket(t, b, bob, room);
  t.equal((first.ready.data as { lastSeq: number }).lastSeq, 0, 'room ready: lastSeq 0');
  for (let i = 1; i <= 3; i++) await sendText(a, alice, chat.id, `before ${i}`);
  await waitForSeq(first, chat.id, 3, 'Bob in the room on B');
  first.close();
  await first.closed();

  const missed: MessageBody[] = [];
  for (let i = 1; i <= 10; i++) missed.push(await sendText(i % 2 ? a : b, alice, chat.id, `missed ${i}`));

  const second = await openSocket(t, a, bob, room);
  t.equal((second.ready.data as { lastSeq: number }).lastSeq, 13, 'room ready on A: lastSeq 13');
  const resumeId = sendResume(second, { after: 3 });
  const done = await resumeDone(second, resumeId);
  t.same(createdSeqs(second, chat.id), range(4, 13), 'the ten missed, in order, before resume.done');
  t.match(done.data, { lastSeq: 13 }, 'resume.done lastSeq 13');

  const live = await sendText(b, alice, chat.id, 'live');
  await waitForSeq(second, chat.id, live.seq, 'Bob in the room on A');
  const sentinel = await sendText(a, alice, chat.id, 'sentinel');
  await waitForSeq(second, chat.id, sentinel.seq, 'Bob in the room on A');
  t.same(createdSeqs(second, chat.id), range(4, 15), 'then the live ones: no gap, no duplicate');
  t.same(
    createdFrames(second, chat.id).map((f) => f.data),
    [...missed, live, sentinel],
    'data as sent',
  );
});
