import t from 'tap';
import { buildChatApp, createGroup, directChat, sendText } from '../../support/chat.js';
import { connect, socketBase } from '../../support/ws-client.js';
import { alive, collect, frameConversation, framesOf, range, sleep } from './gateway-helpers.js';

/*
 * Resume on connect, end to end over /ws: the client opens `/ws?resume=1` and sends `resume` as its
 * first frame at once, while messages keep being sent. Live message.created frames wait for that
 * frame, so the socket receives every seq after the client's point exactly once, strictly in order,
 * whatever arrives while `ready` and the replay are being prepared. Also the hostile inputs of resume.
 */

const h = await buildChatApp(t);
const { app } = h;
const base = await socketBase(t, app);

const seqsOf = (frames: Array<{ data?: any }>) => frames.map((f) => f.data?.seq as number);

t.test('/ws?resume=1: replay and live traffic reach the socket in order, each seq once', async (t) => {
  const [a, b, c] = [await h.user(), await h.user(), await h.user()];
  const chat = await directChat(app, a, b);
  const group = await createGroup(app, a, [b, c]);
  for (const i of range(1, 5)) {
    await sendText(app, a, chat.id, `c${i}`);
    await sendText(app, c, group.id, `g${i}`);
  }
  const client = await connect(t, `${base}/ws?resume=1`, { headers: { authorization: `Bearer ${b.accessToken}` } });
  client.send({ type: 'resume', id: 'r', data: { after: { [chat.id]: 2, [group.id]: 0 } } });
  // Traffic while the socket is set up and replaying: these land above `ready`'s lastSeq.
  const sending = Promise.all([
    (async () => {
      for (const i of range(6, 9)) await sendText(app, a, chat.id, `c${i}`);
    })(),
    (async () => {
      for (const i of range(6, 9)) await sendText(app, c, group.id, `g${i}`);
    })(),
  ]);
  await sending;
  await collect(client, 'message.created', 7 + 9, undefined, 8000);
  await sleep(300);
  t.equal(client.frames[0]?.type, 'ready', 'ready comes first');
  t.strictSame(seqsOf(framesOf(client, 'message.created', chat.id)), range(3, 9), 'the chat: every seq after 2, once, in order');
  t.strictSame(seqsOf(framesOf(client, 'message.created', group.id)), range(1, 9), 'the group: every seq after 0, once, in order');
  const done = client.frames.find((f) => f.type === 'resume.done');
  t.equal(done?.id, 'r', 'resume.done echoes the id');
  t.ok((done?.data.lastSeqs[chat.id] as number) >= 5 && (done?.data.lastSeqs[group.id] as number) >= 5, 'positions at least the log end at the request');
});

t.test('/ws?resume=1 whose first frame is not a resume: live delivery starts after it', async (t) => {
  const [a, b] = [await h.user(), await h.user()];
  const chat = await directChat(app, a, b);
  const client = await connect(t, `${base}/ws?resume=1`, { headers: { authorization: `Bearer ${b.accessToken}` } });
  await client.next('ready');
  await sendText(app, a, chat.id, 'held');
  await sleep(200);
  t.equal(framesOf(client, 'message.created').length, 0, 'held until the first frame');
  client.send({ type: 'ping', id: 'p' });
  await collect(client, 'message.created', 1);
  await sendText(app, a, chat.id, 'live');
  const frames = await collect(client, 'message.created', 2);
  t.strictSame(seqsOf(frames), [1, 2]);
  t.ok(frames.every((f) => frameConversation(f) === chat.id));
});

t.test('hostile resume frames are refused with VALIDATION_FAILED and the socket stays open', async (t) => {
  const b = await h.user();
  const client = await connect(t, `${base}/ws`, { headers: { authorization: `Bearer ${b.accessToken}` } });
  await client.next('ready');
  const cases: Array<[string, unknown]> = [
    ['a key that is no conversation id', { after: { a: 1 } }],
    ['a prototype name as key', JSON.parse('{"after":{"__proto__":1}}')],
    ['constructor as key', { after: { constructor: 1 } }],
    ['a seq beyond 2^53', { after: 1e20, conversationId: '00000000-0000-4000-8000-000000000000' }],
    ['a negative seq', { after: -1, conversationId: '00000000-0000-4000-8000-000000000000' }],
    ['an object as seq', { after: { '00000000-0000-4000-8000-000000000000': { a: 1 } } }],
  ];
  for (const [what, data] of cases) {
    const reply = await client.request('resume', data);
    t.equal(reply.type, 'error', what);
    t.equal(reply.data?.code, 'VALIDATION_FAILED', `${what}: VALIDATION_FAILED`);
  }
  const stranger = await client.request('resume', { after: { '00000000-0000-4000-8000-000000000000': 0 } });
  t.equal(stranger.data?.code, 'CONVERSATION_NOT_FOUND', 'a conversation of someone else (or none) is not found');
  t.ok(await alive(client), 'the socket stays open');
});

t.test('prototype names as frame types are unknown types, and the process keeps serving', async (t) => {
  const b = await h.user();
  const client = await connect(t, `${base}/ws`, { headers: { authorization: `Bearer ${b.accessToken}` } });
  await client.next('ready');
  for (const type of ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf', 'prototype']) {
    const reply = await client.request(type, {});
    t.equal(reply.data?.code, 'UNKNOWN_FRAME_TYPE', `${type}: UNKNOWN_FRAME_TYPE`);
  }
  t.ok(await alive(client), 'the socket stays open');
  const health = await app.inject({ method: 'GET', url: '/health/live' });
  t.equal(health.statusCode, 200, 'the instance is alive');
});
