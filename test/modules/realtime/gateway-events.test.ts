import { randomUUID } from 'node:crypto';
import t from 'tap';
import { call, expectStatus } from '../../support/accounts.js';
import { type MessageBody, block, buildChatApp, conversation, createGroup, directChat, history, newClientId, sendText } from '../../support/chat.js';
import type { Frame, SocketClient } from '../../support/ws-client.js';
import { socketBase } from '../../support/ws-client.js';
import { getMessage, leave } from '../messages/fixtures.js';
import { alive, collect, frameConversation, framesOf, open, range, sleep, waitFrame } from './gateway-helpers.js';

/*
 * Events on one instance: what REST and socket commands publish reaches the right sockets (the other
 * members, the sender's other sockets; not outsiders), exactly once and in seq order; typing relay
 * and its throttle; membership changes without reconnecting; resume from a seq.
 */

const h = await buildChatApp(t);
const { app } = h;
const base = await socketBase(t, app);

/** Time for a frame that should NOT arrive to have arrived anyway. */
const SETTLE_MS = 400;

const created = (client: SocketClient, conversationId?: string) => framesOf(client, 'message.created', conversationId);
const seqs = (frames: Frame[]) => frames.map((f) => f.data?.seq as number);

t.test('a REST send reaches the other member and the sender\'s sockets as message.created, equal to the 201 body', async (t) => {
  const [a, b, outsider] = [await h.user(), await h.user(), await h.user()];
  const chat = await directChat(app, a, b);
  const a1 = (await open(t, base, a)).client;
  const a2 = (await open(t, base, a)).client;
  const b1 = (await open(t, base, b)).client;
  const bRoom = (await open(t, base, b, `/ws/chat/${chat.roomName}`)).client;
  const other = (await open(t, base, outsider)).client;

  const sent = await sendText(app, a, chat.id, 'hello over REST');
  for (const [client, who] of [[b1, 'the other member'], [bRoom, "the other member's room socket"], [a1, "the sender's socket"], [a2, "the sender's second socket"]] as const) {
    const frame = await client.next('message.created');
    t.strictSame(frame.data, sent, `${who}: data equals the 201 body`);
    t.equal(frame.conversationId, chat.id, `${who}: conversationId at top level`);
  }
  await sleep(SETTLE_MS);
  for (const client of [a1, a2, b1, bRoom]) t.equal(created(client).length, 1, 'exactly once per socket');
  t.equal(created(other).length, 0, 'an outsider gets nothing');
});

t.test('a socket send is stored (REST history) and reaches the other member and the sender\'s other socket', async (t) => {
  const [a, b] = [await h.user(), await h.user()];
  const chat = await directChat(app, a, b);
  const a1 = (await open(t, base, a)).client;
  const a2 = (await open(t, base, a)).client;
  const b1 = (await open(t, base, b)).client;

  const ack = await a1.request('message.send', { conversationId: chat.id, clientId: newClientId(), type: 'text', body: 'over the socket' });
  t.equal(ack.type, 'message.ack', 'acked');
  const message = ack.data as MessageBody;
  t.strictSame((await history(app, b, chat.id)).items, [message], 'in REST history as acked');
  t.strictSame((await b1.next('message.created')).data, message, 'the other member receives it');
  t.strictSame((await a2.next('message.created')).data, message, "the sender's other socket receives it");
  await sleep(SETTLE_MS);
  t.equal(created(b1).length, 1, 'once');
  t.equal(created(a2).length, 1, 'once');
  t.ok(created(a1).length <= 1, 'the sending socket gets it at most once');

  const retry = await a1.request('message.send', { conversationId: chat.id, clientId: message.clientId, type: 'text', body: 'retry' });
  t.strictSame(retry.data, message, 'a retried clientId is acked with the original');
  await sleep(SETTLE_MS);
  t.equal(created(b1).length, 1, 'and is not delivered again');
});

t.test('30 concurrent sends arrive once each, in seq order 1..30, on every member socket', async (t) => {
  const [a, b, c] = [await h.user(), await h.user(), await h.user()];
  const group = await createGroup(app, a, [b, c]);
  const receiver = (await open(t, base, b)).client;
  const receiverRoom = (await open(t, base, b, `/ws/chat/${group.roomName}/`)).client;
  const senderOther = (await open(t, base, a)).client;
  const cSocket = (await open(t, base, c)).client;

  const results = await Promise.all(
    range(1, 30).map((i) =>
      i % 3 === 0
        ? cSocket.request('message.send', { conversationId: group.id, clientId: newClientId(), type: 'text', body: `m${i}` }, 10_000).then((f) => f.data as MessageBody)
        : sendText(app, i % 2 ? a : b, group.id, `m${i}`),
    ),
  );
  t.same(results.map((m) => m.seq).sort((x, y) => x - y), range(1, 30), 'the sends took seqs 1..30');
  const bySeq = new Map(results.map((m) => [m.seq, m]));

  for (const [client, who] of [[receiver, 'a member'], [receiverRoom, 'a room socket'], [senderOther, 'a sender']] as const) {
    await collect(client, 'message.created', 30, group.id, 10_000);
    await sleep(SETTLE_MS);
    const all = created(client, group.id);
    t.same(seqs(all), range(1, 30), `${who}: seqs strictly increasing 1..30, no duplicates, no gaps`);
    t.strictSame(all.map((f) => f.data), range(1, 30).map((s) => bySeq.get(s)), `${who}: each frame carries the stored message`);
  }
  const fromOthers = range(1, 30).filter((s) => bySeq.get(s)?.senderId !== c.user.id);
  await collect(cSocket, 'message.created', fromOthers.length, group.id, 10_000);
  await sleep(SETTLE_MS);
  const cSeqs = seqs(created(cSocket, group.id));
  t.ok(fromOthers.every((s) => cSeqs.includes(s)), 'the socket sender gets every message of the others');
  t.ok(cSeqs.every((s, i) => i === 0 || s > cSeqs[i - 1]!), `in strictly increasing seq order (${cSeqs.join(',')})`);
});

t.test('typing: relayed to the other members only, throttled to one start per 2 s, never stored', async (t) => {
  const [a, b, c] = [await h.user(), await h.user(), await h.user()];
  const group = await createGroup(app, a, [b]);
  const a1 = (await open(t, base, a)).client;
  const a2 = (await open(t, base, a)).client;
  const b1 = (await open(t, base, b)).client;
  const bRoom = (await open(t, base, b, `/ws/chat/${group.roomName}`)).client;
  const outsider = (await open(t, base, c)).client;

  a1.send({ type: 'typing', id: 't1', data: { conversationId: group.id, state: 'start' } });
  const relayed = await b1.next('typing');
  t.strictSame(relayed.data, { conversationId: group.id, userId: a.user.id, state: 'start' }, 'the other member gets {conversationId, userId, state}');
  t.equal(relayed.conversationId, group.id, 'conversationId at top level');
  t.strictSame((await bRoom.next('typing')).data, relayed.data, "and on the other member's room socket");

  const startsFromA = () => framesOf(b1, 'typing').filter((f) => f.data?.userId === a.user.id && f.data?.state === 'start').length;
  a1.send({ type: 'typing', id: 't2', data: { conversationId: group.id, state: 'start' } });
  await sleep(SETTLE_MS);
  t.equal(startsFromA(), 1, 'a second start from the same socket within 2 s is not relayed');
  a2.send({ type: 'typing', id: 't3', data: { conversationId: group.id, state: 'start' } });
  await sleep(SETTLE_MS);
  t.equal(startsFromA(), 1, "nor one from the user's other socket (one start per user per conversation per 2 s)");
  t.equal(framesOf(a1, 'typing').length + framesOf(a2, 'typing').length, 0, "not relayed to the typist's own sockets");
  t.equal(framesOf(outsider, 'typing').length, 0, 'not to outsiders');
  t.notOk(a1.frames.some((f) => f.id === 't1' || f.id === 't2') || a2.frames.some((f) => f.id === 't3'), 'typing has no reply');

  a1.send({ type: 'typing', data: { conversationId: group.id, state: 'stop' } });
  const stop = await waitFrame(b1, (f) => f.type === 'typing' && f.data?.state === 'stop').catch(() => undefined);
  t.match(stop?.data, { conversationId: group.id, userId: a.user.id, state: 'stop' }, 'stop is relayed');

  await sleep(2100);
  const mark = b1.frames.length;
  a1.send({ type: 'typing', data: { conversationId: group.id, state: 'start' } });
  const again = await waitFrame(b1, (f) => f.type === 'typing' && f.data?.state === 'start', mark).catch(() => undefined);
  t.match(again?.data, { userId: a.user.id, state: 'start' }, 'after 2 s a start is relayed again');

  outsider.send({ type: 'typing', data: { conversationId: group.id, state: 'start' } });
  await sleep(SETTLE_MS);
  t.equal(framesOf(b1, 'typing').filter((f) => f.data?.userId === c.user.id).length, 0, "an outsider's typing is not relayed into the conversation");
  t.ok(await alive(outsider), "the outsider's socket still answers");

  t.equal((await conversation(app, a, group.id)).lastSeq, 0, 'typing is not stored: no seq');
  t.strictSame((await history(app, b, group.id)).items, [], 'nothing in history');
});

t.test('typing: repeated starts are folded, but a start after a stop is news and is relayed', async (t) => {
  const [a, b] = [await h.user(), await h.user()];
  const chat = await directChat(app, a, b);
  const a1 = (await open(t, base, a)).client;
  const b1 = (await open(t, base, b)).client;
  const typing = (state: string) => a1.send({ type: 'typing', data: { conversationId: chat.id, state } });

  typing('start');
  typing('start');
  typing('start');
  await waitFrame(b1, (f) => f.type === 'typing' && f.data?.state === 'start');
  await sleep(SETTLE_MS);
  t.equal(framesOf(b1, 'typing').length, 1, 'three starts within 2 s (keystrokes) relay one');
  typing('stop');
  typing('stop');
  typing('start');
  typing('stop');
  await sleep(SETTLE_MS);
  t.same(
    framesOf(b1, 'typing').map((f) => f.data?.state),
    ['start', 'stop', 'start', 'stop'],
    'each change of state is relayed once, in order; a repeated stop is not',
  );
  t.ok(await alive(a1), 'the socket still answers');
});

t.test('receipt.updated reaches the sender', async (t) => {
  const [a, b] = [await h.user(), await h.user()];
  const chat = await directChat(app, a, b);
  await sendText(app, a, chat.id, 'one');
  await sendText(app, a, chat.id, 'two');
  const a1 = (await open(t, base, a)).client;
  const b1 = (await open(t, base, b)).client;

  const ack = await b1.request('receipt', { conversationId: chat.id, read: 1 });
  t.equal(ack.type, 'ack');
  const update = await a1.next('receipt.updated');
  t.equal(update.conversationId, chat.id, 'conversationId at top level');
  t.match(update.data, { conversationId: chat.id, userId: b.user.id, readSeq: 1, deliveredSeq: 1 }, 'the reader, readSeq and deliveredSeq');

  expectStatus(await call(app, 'POST', `/chat/${chat.id}/delivered`, { token: b.accessToken, payload: { seq: 2 } }), 200, 'REST delivered');
  t.match((await a1.next('receipt.updated')).data, { userId: b.user.id, readSeq: 1, deliveredSeq: 2 }, 'a REST receipt too');
});

t.test('message.updated, reaction.updated and message.deleted reach the other member', async (t) => {
  const [a, b] = [await h.user(), await h.user()];
  const chat = await directChat(app, a, b);
  const sent = await sendText(app, a, chat.id, 'draft');
  const a1 = (await open(t, base, a)).client;
  const b1 = (await open(t, base, b)).client;

  const edit = await a1.request('message.edit', { messageId: sent.id, body: 'final' });
  t.equal(edit.type, 'ack');
  const updated = await b1.next('message.updated');
  t.strictSame(updated.data, await getMessage(app, b, sent.id), 'message.updated carries the message as REST returns it');
  t.equal(updated.conversationId, chat.id);

  await b1.request('reaction.set', { messageId: sent.id, emoji: '🎉' });
  const reaction = await a1.next('reaction.updated');
  t.match(reaction.data, { messageId: sent.id, userId: b.user.id, emoji: '🎉', action: 'added', reactions: [{ emoji: '🎉', count: 1 }] }, 'reaction.updated');

  await a1.request('message.delete', { messageId: sent.id, for: 'everyone' });
  const deleted = await b1.next('message.deleted');
  t.strictSame(deleted.data, await getMessage(app, b, sent.id), 'message.deleted carries the tombstone');
  t.ok(deleted.data.deletedAt, 'deletedAt set');
  t.equal(deleted.data.body, null, 'no body');
});

t.test('a room socket follows its conversation only', async (t) => {
  const [a, b] = [await h.user(), await h.user()];
  const chat = await directChat(app, a, b);
  const group = await createGroup(app, a, [b]);
  const room = (await open(t, base, b, `/ws/chat/${chat.roomName}`)).client;
  const all = (await open(t, base, b)).client;
  await sendText(app, a, group.id, 'in the group');
  const inChat = await sendText(app, a, chat.id, 'in the chat');
  t.strictSame((await room.next('message.created')).data, inChat, 'the room socket gets its conversation');
  await collect(all, 'message.created', 2);
  await sleep(SETTLE_MS);
  t.same(created(room).map(frameConversation), [chat.id], 'and nothing of the other conversation');
  t.same(new Set(created(all).map(frameConversation)), new Set([chat.id, group.id]), '/ws gets both');
});

t.test('a user added to a group receives its events without reconnecting; a member who left or was removed stops', async (t) => {
  const [a, b, c, d] = [await h.user(), await h.user(), await h.user(), await h.user()];
  const group = await createGroup(app, a, [b, d]);
  const cSocket = await open(t, base, c);
  t.notOk(cSocket.ready.data.conversations.some((x: { id: string }) => x.id === group.id), 'c is not in the group when connecting');
  const bSocket = (await open(t, base, b)).client;
  const dSocket = (await open(t, base, d)).client;

  const before = await sendText(app, a, group.id, 'before c joined');
  t.strictSame((await bSocket.next('message.created')).data, before, 'control: b receives');
  t.strictSame((await dSocket.next('message.created')).data, before, 'control: d receives');

  expectStatus(await call(app, 'POST', `/chat/${group.id}/members`, { token: a.accessToken, payload: { userIds: [c.user.id] } }), 201, 'add c');
  const welcome = await sendText(app, a, group.id, 'welcome c');
  const received = await cSocket.client.next('message.created', 5000);
  t.strictSame(received.data, welcome, 'c receives the next message of the group on the same socket');
  await sleep(SETTLE_MS);
  t.same(created(cSocket.client, group.id).map((f) => f.data.seq), [welcome.seq], 'and nothing from before joining');

  await leave(app, b, group.id);
  expectStatus(await call(app, 'DELETE', `/chat/${group.id}/members/${d.user.id}`, { token: a.accessToken }), 204, 'a removes d');
  const after = await sendText(app, a, group.id, 'after b left and d was removed');
  t.strictSame((await cSocket.client.next('message.created')).data, after, 'control: a current member receives it');
  await sleep(SETTLE_MS);
  t.notOk(created(bSocket).some((f) => f.data?.id === after.id), 'the member who left does not');
  t.notOk(created(dSocket).some((f) => f.data?.id === after.id), 'the removed member does not');

  cSocket.client.send({ type: 'typing', data: { conversationId: group.id, state: 'start' } });
  await sleep(SETTLE_MS);
  t.equal(framesOf(bSocket, 'typing').length + framesOf(dSocket, 'typing').length, 0, 'nor typing');
  t.ok(await alive(bSocket), 'their sockets stay open');
});

t.test('conversation, member, pin and settings events reach the right sockets', async (t) => {
  const [a, b, c] = [await h.user(), await h.user(), await h.user()];
  const bSocket = await open(t, base, b);
  const bOther = (await open(t, base, b)).client;
  const aSocket = (await open(t, base, a)).client;
  t.strictSame(bSocket.ready.data.conversations, [], 'b starts without conversations');

  const chat = await directChat(app, a, b);
  const createdFrame = await waitFrame(bSocket.client, (f) => f.type === 'conversation.created' && frameConversation(f) === chat.id).catch(() => undefined);
  t.ok(createdFrame, 'the peer gets conversation.created for a new direct chat');
  t.equal(createdFrame?.conversationId, chat.id, 'with conversationId at top level');
  const first = await sendText(app, a, chat.id, 'first words');
  t.strictSame((await waitFrame(bSocket.client, (f) => f.type === 'message.created' && f.data?.id === first.id).catch(() => undefined))?.data, first, 'and follows the new conversation without reconnecting');

  const group = await createGroup(app, a, [b]);
  await waitFrame(bSocket.client, (f) => f.type === 'conversation.created' && frameConversation(f) === group.id);
  expectStatus(await call(app, 'PATCH', `/chat/${group.id}`, { token: a.accessToken, payload: { title: 'Renamed' } }), 200, 'rename');
  const updated = await waitFrame(bSocket.client, (f) => f.type === 'conversation.updated').catch(() => undefined);
  t.equal(updated?.conversationId, group.id, 'conversation.updated reaches a member');
  t.match(updated?.data, { title: 'Renamed' }, 'with the new title');

  expectStatus(await call(app, 'POST', `/chat/${group.id}/members`, { token: a.accessToken, payload: { userIds: [c.user.id] } }), 201, 'add c');
  const joined = await waitFrame(bSocket.client, (f) => f.type === 'member.joined').catch(() => undefined);
  t.equal(joined?.conversationId, group.id, 'member.joined reaches a member');
  t.match(joined?.data, { conversationId: group.id, userId: c.user.id, role: 'member' });

  const pinned = await sendText(app, a, group.id, 'pin me');
  expectStatus(await call(app, 'POST', `/message/${pinned.id}/pin`, { token: a.accessToken }), 204, 'pin');
  const pin = await waitFrame(bSocket.client, (f) => f.type === 'pin.updated').catch(() => undefined);
  t.match(pin?.data, { messageId: pinned.id, pinned: true, by: a.user.id }, 'pin.updated');

  expectStatus(await call(app, 'PATCH', `/chat/${group.id}/settings`, { token: b.accessToken, payload: { muted: true } }), 200, 'mute');
  const settings = await waitFrame(bOther, (f) => f.type === 'conversation.settings').catch(() => undefined);
  t.equal(settings?.conversationId, group.id, "conversation.settings reaches the user's other socket");
  t.match(settings?.data, { muted: true, archived: false, pinned: false }, 'with the flags');

  const cSocket = (await open(t, base, c)).client;
  await leave(app, c, group.id);
  const left = await waitFrame(bSocket.client, (f) => f.type === 'member.left').catch(() => undefined);
  t.match(left?.data, { conversationId: group.id, userId: c.user.id, removedBy: null }, 'member.left reaches the members');
  await sleep(SETTLE_MS);
  t.equal(framesOf(aSocket, 'conversation.settings').length, 0, "another member never gets b's settings");
  t.equal(framesOf(cSocket, 'conversation.settings').length, 0, 'nor a third user');

  const fresh = await open(t, base, c);
  t.notOk(fresh.ready.data.conversations.some((x: { id: string }) => x.id === group.id), 'ready lists current memberships only: not the group c left');
});

t.test('resume {conversationId, after: 3} replays 4..10 in order, then resume.done', async (t) => {
  const [a, b, outsider] = [await h.user(), await h.user(), await h.user()];
  const chat = await directChat(app, a, b);
  const sent: MessageBody[] = [];
  for (const i of range(1, 10)) sent.push(await sendText(app, i % 2 ? a : b, chat.id, `m${i}`));
  const { client } = await open(t, base, b);

  const start = client.frames.length;
  client.send({ type: 'resume', id: 'res-1', data: { conversationId: chat.id, after: 3 } });
  const done = await client.next('resume.done');
  const replay = client.frames.slice(start, client.frames.indexOf(done));
  t.same(replay.map((f) => f.type), Array(7).fill('message.created'), 'seven message.created before resume.done');
  t.same(seqs(replay), range(4, 10), 'seqs 4..10 in order');
  t.strictSame(replay.map((f) => f.data), sent.slice(3), 'each carrying the message resource');
  t.equal(done.id, 'res-1', 'resume.done echoes the id');
  t.match(done.data, { lastSeq: 10 }, 'resume.done carries lastSeq');
  if (done.data?.conversationId !== undefined) t.equal(done.data.conversationId, chat.id, 'and the conversation');
  await sleep(SETTLE_MS);
  t.equal(created(client).length, 7, 'nothing more');

  const nothing = client.frames.length;
  client.send({ type: 'resume', id: 'res-2', data: { conversationId: chat.id, after: 10 } });
  const doneEmpty = await client.next('resume.done');
  t.same(client.frames.slice(nothing, client.frames.indexOf(doneEmpty)).map((f) => f.type), [], 'after lastSeq: nothing to replay');
  t.match(doneEmpty.data, { lastSeq: 10 });

  const room = (await open(t, base, a, `/ws/chat/${chat.roomName}/`)).client;
  const roomStart = room.frames.length;
  room.send({ type: 'resume', id: 'res-room', data: { after: 8 } });
  const roomDone = await room.next('resume.done');
  t.same(seqs(room.frames.slice(roomStart, room.frames.indexOf(roomDone))), [9, 10], 'a room socket resumes its conversation without conversationId');
  t.match(roomDone.data, { lastSeq: 10 });

  const spy = (await open(t, base, outsider)).client;
  const refused = await spy.request('resume', { conversationId: chat.id, after: 0 });
  t.equal(refused.type, 'error', 'resuming a conversation of others is refused');
  t.equal(refused.data?.code, 'CONVERSATION_NOT_FOUND', 'CONVERSATION_NOT_FOUND');
  await sleep(SETTLE_MS);
  t.equal(created(spy).length, 0, 'and replays nothing');
  const unknown = await spy.request('resume', { conversationId: randomUUID(), after: 0 });
  t.equal(unknown.data?.code, 'CONVERSATION_NOT_FOUND', 'an unknown conversation too');
  t.ok(await alive(spy), 'the socket stays open');
});

t.test('on /ws resume {after: {<conversationId>: seq}} replays each conversation in order', async (t) => {
  const [a, b] = [await h.user(), await h.user()];
  const chat = await directChat(app, a, b);
  const group = await createGroup(app, a, [b]);
  const chatSent: MessageBody[] = [];
  const groupSent: MessageBody[] = [];
  for (const i of range(1, 4)) {
    chatSent.push(await sendText(app, a, chat.id, `c${i}`));
    groupSent.push(await sendText(app, a, group.id, `g${i}`));
  }
  const { client } = await open(t, base, b);

  const start = client.frames.length;
  client.send({ type: 'resume', id: 'one', data: { after: { [chat.id]: 0 } } });
  const done = await client.next('resume.done');
  const replay = client.frames.slice(start, client.frames.indexOf(done));
  t.strictSame(replay.map((f) => f.data), chatSent, 'after 0: the whole conversation in order');
  t.equal(done.id, 'one', 'resume.done echoes the id');

  const second = client.frames.length;
  client.send({ type: 'resume', id: 'two', data: { after: { [chat.id]: 2, [group.id]: 1 } } });
  await collect(client, 'message.created', chatSent.length + 3, undefined, 5000);
  const twoDone = await client.next('resume.done');
  t.strictSame(twoDone.data, { lastSeqs: { [chat.id]: 4, [group.id]: 4 } }, 'a map resume answers a map of positions');
  await sleep(SETTLE_MS);
  const frames = client.frames.slice(second);
  t.same(seqs(frames.filter((f) => f.type === 'message.created' && frameConversation(f) === chat.id)), [], 'the chat after 2: this socket already sent 3 and 4, so nothing is repeated');
  t.same(seqs(frames.filter((f) => f.type === 'message.created' && frameConversation(f) === group.id)), [2, 3, 4], 'the group after 1');
  t.equal(frames.at(-1)?.type, 'resume.done', 'resume.done comes last');
  t.ok(frames.filter((f) => f.type === 'resume.done').every((f) => f.id === 'two'), 'every resume.done echoes the id');

  const bad = await client.request('resume', { after: { [chat.id]: 'zero' } });
  t.equal(bad.type, 'error', 'a seq that is no number is refused');
  t.equal(bad.data?.code, 'VALIDATION_FAILED');
  t.ok(await alive(client), 'the socket stays open');
});

t.test('live delivery continues after a resume without duplicates', async (t) => {
  const [a, b] = [await h.user(), await h.user()];
  const chat = await directChat(app, a, b);
  for (const i of range(1, 3)) await sendText(app, a, chat.id, `m${i}`);
  const { client } = await open(t, base, b);
  client.send({ type: 'resume', id: 'r', data: { conversationId: chat.id, after: 0 } });
  await client.next('resume.done');
  const live = await sendText(app, a, chat.id, 'live');
  await collect(client, 'message.created', 4);
  await sleep(SETTLE_MS);
  t.same(seqs(created(client)), [1, 2, 3, 4], 'replayed 1..3, then live 4, each once');
  t.strictSame(created(client).at(-1)?.data, live);
});

t.test("a blocked user's typing is not relayed (direct chat)", async (t) => {
  const [a, b] = [await h.user(), await h.user()];
  const chat = await directChat(app, a, b);
  const a1 = (await open(t, base, a)).client;
  const b1 = (await open(t, base, b)).client;

  a1.send({ type: 'typing', data: { conversationId: chat.id, state: 'start' } });
  t.match((await b1.next('typing')).data, { userId: a.user.id, state: 'start' }, 'control: before the block it is relayed');
  await sleep(2100);

  await block(app, b, a);
  a1.send({ type: 'typing', data: { conversationId: chat.id, state: 'start' } });
  await sleep(SETTLE_MS + 200);
  t.equal(framesOf(b1, 'typing').length, 1, 'after b blocked a, a\'s typing does not reach b');
  t.ok(await alive(a1), "the blocked user's socket stays open");
});
