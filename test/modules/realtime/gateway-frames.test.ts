import { randomUUID } from 'node:crypto';
import t, { type Test } from 'tap';
import { type Account, call, expectStatus, jwtClaims } from '../../support/accounts.js';
import { type MessageBody, buildChatApp, conversation, createGroup, directChat, history, newClientId, sendText } from '../../support/chat.js';
import { signHs256 } from '../../support/jwt.js';
import { type Frame, type SocketClient, connect, socketBase } from '../../support/ws-client.js';
import { getMessage, rowsForClientId, storedMessages } from '../messages/fixtures.js';
import { alive, open, sendRaw, sleep } from './gateway-helpers.js';

/*
 * Client frames on an open socket: ping, malformed and unknown frames, schema errors, every command
 * and its ack (checked against what REST answers for the same resource), REST error codes, the frame
 * size limit, the per-socket rate limit, auth.refresh and token expiry. After every client mistake
 * the socket must still answer.
 */

const JWT_SECRET = 'gateway-frames-secret-0123456789abcdef-012345';
const h = await buildChatApp(t, { JWT_SECRET });
const { app } = h;
const base = await socketBase(t, app);

/** Asserts an `error` frame with the code (and the echoed id when the request had one). */
function expectError(t: Test, frame: Frame, code: string, id: string | undefined, what: string): void {
  t.equal(frame.type, 'error', `${what}: an error frame`);
  t.equal(frame.data?.code, code, `${what}: code ${code}`);
  t.equal(typeof frame.data?.message, 'string', `${what}: with a message`);
  if (id !== undefined) t.equal(frame.id, id, `${what}: the id is echoed`);
}

/** Sends `{type, id, data}` with an id of our choosing; waits for the reply echoing it. */
async function ask(client: SocketClient, type: string, data?: unknown): Promise<{ id: string; reply: Frame }> {
  const reply = await client.request(type, data);
  return { id: reply.id as string, reply };
}

async function pair(): Promise<{ a: Account; b: Account; chatId: string; roomName: string }> {
  const [a, b] = [await h.user(), await h.user()];
  const chat = await directChat(app, a, b);
  return { a, b, chatId: chat.id, roomName: chat.roomName };
}

t.test('ping -> pong echoing the id', async (t) => {
  const a = await h.user();
  const { client } = await open(t, base, a);
  client.send({ type: 'ping', id: 'p-1' });
  const pong = await client.next('pong');
  t.equal(pong.id, 'p-1', 'the id is echoed');
  client.send({ type: 'ping', id: 'x'.repeat(64) });
  t.equal((await client.next('pong')).id, 'x'.repeat(64), 'a 64-character id is echoed');
  client.send({ type: 'ping' });
  const bare = await client.next('pong');
  t.notOk(bare.id, 'a ping without id answers a pong without id');
  t.equal(client.frames.filter((f) => f.type === 'pong').length, 3, 'one pong per ping');
});

t.test('malformed frames -> error MALFORMED_FRAME, and the socket stays open', async (t) => {
  const a = await h.user();
  const { client } = await open(t, base, a);
  const cases: Array<[string, string]> = [
    ['{not json', 'not JSON'],
    ['[1, 2, 3]', 'an array'],
    ['"ping"', 'a string'],
    ['42', 'a number'],
    ['null', 'null'],
  ];
  for (const [text, what] of cases) {
    sendRaw(client, text);
    expectError(t, await client.next('error'), 'MALFORMED_FRAME', undefined, what);
    t.ok(await alive(client), `${what}: ping still answers`);
  }
  t.equal(client.socket.readyState, 1, 'the socket is open');
});

t.test('unknown and schema-invalid frames -> UNKNOWN_FRAME_TYPE / VALIDATION_FAILED with the id', async (t) => {
  const { a, chatId } = await pair();
  const { client } = await open(t, base, a);

  let { id, reply } = await ask(client, 'message.sendd', { conversationId: chatId, clientId: newClientId(), type: 'text', body: 'typo' });
  expectError(t, reply, 'UNKNOWN_FRAME_TYPE', id, 'an unknown type');
  client.send({ type: 'message.ack', id: 'server-only' });
  expectError(t, await client.next('error'), 'UNKNOWN_FRAME_TYPE', 'server-only', 'a server-to-client type');
  client.send({ id: 'no-type', data: {} });
  const noType = await client.next('error');
  t.equal(noType.id, 'no-type', 'a frame without type: the id is echoed');
  t.ok(['VALIDATION_FAILED', 'UNKNOWN_FRAME_TYPE', 'MALFORMED_FRAME'].includes(noType.data?.code), `a frame without type is refused (${noType.data?.code})`);

  const invalid: Array<[unknown, string]> = [
    [{ conversationId: chatId, type: 'text', body: 'no clientId' }, 'no clientId'],
    [{ conversationId: chatId, clientId: newClientId(), type: 'sticker', body: 'x' }, 'an unknown message type'],
    [{ conversationId: chatId, clientId: 'has space', type: 'text', body: 'x' }, 'a bad clientId'],
    [{ conversationId: 'not-a-uuid', clientId: newClientId(), type: 'text', body: 'x' }, 'a conversationId that is no uuid'],
    [{ conversationId: chatId, clientId: newClientId(), type: 'text', body: 'x', colour: 'red' }, 'an unknown field'],
    [{ clientId: newClientId(), type: 'text', body: 'no conversation on /ws' }, 'no conversationId on /ws'],
    [undefined, 'no data'],
    ['a string', 'data that is no object'],
  ];
  for (const [data, what] of invalid) {
    ({ id, reply } = await ask(client, 'message.send', data));
    expectError(t, reply, 'VALIDATION_FAILED', id, what);
    t.ok(Array.isArray(reply.data?.errors) && reply.data.errors.length > 0, `${what}: data.errors lists fields`);
  }
  ({ id, reply } = await ask(client, 'message.edit', { messageId: 'nope', body: 'x' }));
  expectError(t, reply, 'VALIDATION_FAILED', id, 'message.edit with a messageId that is no uuid');
  ({ id, reply } = await ask(client, 'receipt', { conversationId: chatId, read: -1 }));
  expectError(t, reply, 'VALIDATION_FAILED', id, 'receipt with a negative seq');
  ({ id, reply } = await ask(client, 'typing', { conversationId: chatId, state: 'dancing' }));
  expectError(t, reply, 'VALIDATION_FAILED', id, 'typing with an unknown state');

  t.equal(await storedMessages(app, chatId), 0, 'nothing was stored');
  t.ok(await alive(client), 'the socket still answers');
});

t.test('message.send -> message.ack with the stored message, as GET /message/:id', async (t) => {
  const { a, b, chatId } = await pair();
  const { client } = await open(t, base, a);
  const clientId = newClientId();
  const { id, reply } = await ask(client, 'message.send', { conversationId: chatId, clientId, type: 'text', body: 'over the socket' });
  t.equal(reply.type, 'message.ack', 'message.ack');
  t.equal(reply.id, id, 'the id is echoed');
  const message = reply.data as MessageBody;
  t.match(message, { conversationId: chatId, seq: 1, senderId: a.user.id, clientId, type: 'text', body: 'over the socket', deletedAt: null, editedAt: null });
  t.strictSame(message, await getMessage(app, b, message.id), 'data is the stored message, as GET /message/:id answers (ack after commit)');
  t.strictSame((await history(app, b, chatId)).items, [message], 'the other member sees it in history');

  const retry = await ask(client, 'message.send', { conversationId: chatId, clientId, type: 'text', body: 'changed on retry' });
  t.equal(retry.reply.type, 'message.ack', 'a retry is acked too');
  t.strictSame(retry.reply.data, message, 'with the same message, unchanged');
  t.equal(await rowsForClientId(app, a.user.id, clientId), 1, 'one row');
  t.equal((await conversation(app, a, chatId)).lastSeq, 1, 'no seq consumed by the retry');

  const rest = await sendText(app, a, chatId, 'then REST');
  t.equal(rest.seq, 2, 'REST continues the count');
  const next = await ask(client, 'message.send', { conversationId: chatId, clientId: newClientId(), type: 'text', body: 'and again' });
  t.equal(next.reply.data?.seq, 3, 'and the socket after it');
});

t.test('message.send on a room socket without conversationId goes to the room', async (t) => {
  const { a, b, chatId, roomName } = await pair();
  const group = await createGroup(app, a, [b]);
  const { client } = await open(t, base, a, `/ws/chat/${roomName}/`);
  const { reply } = await ask(client, 'message.send', { clientId: newClientId(), type: 'text', body: 'into the room' });
  t.equal(reply.type, 'message.ack', 'acked');
  t.equal(reply.data?.conversationId, chatId, 'stored in the room conversation');
  t.strictSame(reply.data, await getMessage(app, b, reply.data.id), 'as GET /message/:id');
  t.strictSame((await history(app, b, chatId)).items.map((m) => m.body), ['into the room']);
  t.equal(await storedMessages(app, group.id), 0, 'not in the other conversation');

  const explicit = await ask(client, 'message.send', { conversationId: chatId, clientId: newClientId(), type: 'text', body: 'explicit' });
  t.equal(explicit.reply.data?.conversationId, chatId, 'the room conversation named explicitly works too');
});

t.test('REST error codes: not a member, unknown conversation, empty body, not the sender', async (t) => {
  const { a, b, chatId } = await pair();
  const outsider = await h.user();
  await sendText(app, a, chatId, 'private');
  const { client } = await open(t, base, outsider);

  let { id, reply } = await ask(client, 'message.send', { conversationId: chatId, clientId: newClientId(), type: 'text', body: 'let me in' });
  expectError(t, reply, 'CONVERSATION_NOT_FOUND', id, 'a conversation the user is not in');
  ({ id, reply } = await ask(client, 'message.send', { conversationId: randomUUID(), clientId: newClientId(), type: 'text', body: 'void' }));
  expectError(t, reply, 'CONVERSATION_NOT_FOUND', id, 'an unknown conversation');
  t.equal(await storedMessages(app, chatId), 1, 'nothing stored');
  t.ok(await alive(client), 'the socket still answers');

  const own = await open(t, base, b);
  ({ id, reply } = await ask(own.client, 'message.send', { conversationId: chatId, clientId: newClientId(), type: 'text', body: '   ' }));
  expectError(t, reply, 'EMPTY_MESSAGE', id, 'a blank body');
  const [first] = (await history(app, b, chatId)).items;
  ({ id, reply } = await ask(own.client, 'message.edit', { messageId: first!.id, body: 'not mine' }));
  expectError(t, reply, 'NOT_MESSAGE_SENDER', id, "editing someone else's message");
  ({ id, reply } = await ask(own.client, 'message.edit', { messageId: randomUUID(), body: 'nothing' }));
  expectError(t, reply, 'MESSAGE_NOT_FOUND', id, 'editing an unknown message');
  ({ id, reply } = await ask(client, 'reaction.set', { messageId: first!.id, emoji: '👍' }));
  expectError(t, reply, 'MESSAGE_NOT_FOUND', id, 'reacting to a message the user cannot see');
  t.equal((await getMessage(app, a, first!.id)).body, 'private', 'the message is unchanged');
  t.ok(await alive(own.client), 'the socket still answers');
});

t.test('message.edit, message.delete, reaction.set, reaction.remove -> ack with what REST answers', async (t) => {
  const { a, b, chatId } = await pair();
  const { client } = await open(t, base, a);
  const sent = await sendText(app, a, chatId, 'first draft');

  const edit = await ask(client, 'message.edit', { messageId: sent.id, body: 'second draft' });
  t.equal(edit.reply.type, 'ack', 'message.edit answers ack');
  t.equal(edit.reply.id, edit.id, 'the id is echoed');
  t.match(edit.reply.data, { id: sent.id, seq: sent.seq, body: 'second draft' });
  t.ok(edit.reply.data?.editedAt, 'editedAt is set');
  t.strictSame(edit.reply.data, await getMessage(app, b, sent.id), 'data is the edited message, as GET /message/:id');
  const versions = await call(app, 'GET', `/message/${sent.id}/versions`, { token: a.accessToken });
  t.strictSame((versions.json() as { items: Array<{ body: string }> }).items.map((v) => v.body), ['first draft'], 'the previous body is kept as a version');

  const set = await ask(client, 'reaction.set', { messageId: sent.id, emoji: '👍' });
  t.equal(set.reply.type, 'ack', 'reaction.set answers ack');
  t.equal(set.reply.id, set.id, 'the id is echoed');
  t.strictSame(set.reply.data, { messageId: sent.id, reactions: [{ emoji: '👍', count: 1 }], myReactions: ['👍'] }, 'data: {messageId, reactions, myReactions}');
  const restSet = await call(app, 'PUT', `/message/${sent.id}/reactions/${encodeURIComponent('👍')}`, { token: a.accessToken });
  t.strictSame(set.reply.data, restSet.json(), 'as the (idempotent) REST route answers');

  const remove = await ask(client, 'reaction.remove', { messageId: sent.id, emoji: '👍' });
  t.equal(remove.reply.type, 'ack', 'reaction.remove answers ack');
  t.strictSame(remove.reply.data, { messageId: sent.id, reactions: [], myReactions: [] }, 'the reaction is gone');
  t.strictSame((await getMessage(app, b, sent.id)).reactions, [], 'and the message has none');

  const bad = await ask(client, 'reaction.set', { messageId: sent.id, emoji: 'abc' });
  expectError(t, bad.reply, 'VALIDATION_FAILED', bad.id, 'an emoji made of letters');

  const forMe = await sendText(app, b, chatId, 'hide me');
  const hide = await ask(client, 'message.delete', { messageId: forMe.id });
  t.equal(hide.reply.type, 'ack', 'message.delete (for me by default) answers ack');
  t.ok('data' in hide.reply && hide.reply.data === null, 'with data null');
  t.notOk((await history(app, a, chatId)).items.some((m) => m.id === forMe.id), 'hidden from my history');
  t.ok((await history(app, b, chatId)).items.some((m) => m.id === forMe.id), 'but not from the sender');

  const del = await ask(client, 'message.delete', { messageId: sent.id, for: 'everyone' });
  t.equal(del.reply.type, 'ack', 'message.delete for everyone answers ack');
  t.equal(del.reply.id, del.id, 'the id is echoed');
  t.ok('data' in del.reply && del.reply.data === null, 'with data null');
  const tombstone = await getMessage(app, b, sent.id);
  t.ok(tombstone.deletedAt, 'the message is a tombstone');
  t.equal(tombstone.body, null, 'without body');

  const again = await ask(client, 'message.edit', { messageId: sent.id, body: 'resurrect' });
  expectError(t, again.reply, 'MESSAGE_DELETED', again.id, 'editing a deleted message');
  const badFor = await ask(client, 'message.delete', { messageId: forMe.id, for: 'nobody' });
  expectError(t, badFor.reply, 'VALIDATION_FAILED', badFor.id, 'delete for an unknown audience');
  t.ok(await alive(client), 'the socket still answers');
});

t.test('receipt -> ack with the receipt; a seq beyond lastSeq -> SEQ_OUT_OF_RANGE', async (t) => {
  const { a, b, chatId } = await pair();
  for (const body of ['1', '2', '3']) await sendText(app, a, chatId, body);
  const { client } = await open(t, base, b);

  const delivered = await ask(client, 'receipt', { conversationId: chatId, delivered: 3 });
  t.equal(delivered.reply.type, 'ack', 'receipt answers ack');
  t.equal(delivered.reply.id, delivered.id, 'the id is echoed');
  t.strictSame(delivered.reply.data, { conversationId: chatId, userId: b.user.id, readSeq: 0, deliveredSeq: 3, unreadCount: 3 }, 'delivered moves, read does not');

  const read = await ask(client, 'receipt', { conversationId: chatId, read: 2 });
  t.strictSame(read.reply.data, { conversationId: chatId, userId: b.user.id, readSeq: 2, deliveredSeq: 3, unreadCount: 1 }, 'read 2 of 3');
  const rest = expectStatus(await call(app, 'POST', `/chat/${chatId}/read`, { token: b.accessToken, payload: { seq: 2 } }), 200, 'REST read');
  t.strictSame(read.reply.data, rest, 'as POST /chat/:id/read answers');

  const { lastSeq } = await conversation(app, b, chatId);
  t.equal(lastSeq, 5, 'three messages and two receipt moves');
  const beyond = await ask(client, 'receipt', { conversationId: chatId, read: lastSeq + 1 });
  expectError(t, beyond.reply, 'SEQ_OUT_OF_RANGE', beyond.id, 'read beyond lastSeq');
  const beyondDelivered = await ask(client, 'receipt', { conversationId: chatId, delivered: 99 });
  expectError(t, beyondDelivered.reply, 'SEQ_OUT_OF_RANGE', beyondDelivered.id, 'delivered beyond lastSeq');
  const unchanged = await conversation(app, b, chatId);
  t.same([unchanged.readSeq, unchanged.deliveredSeq, unchanged.unreadCount], [2, 3, 1], 'the receipt did not move');

  const outsider = await open(t, base, await h.user());
  const foreign = await ask(outsider.client, 'receipt', { conversationId: chatId, read: 1 });
  expectError(t, foreign.reply, 'CONVERSATION_NOT_FOUND', foreign.id, 'a receipt in a conversation of others');
  t.ok(await alive(client), 'the socket still answers');
});

t.test('a frame larger than WS_MAX_PAYLOAD_BYTES (64 KiB) closes the socket with 1009', async (t) => {
  const { a, chatId } = await pair();
  const { client } = await open(t, base, a);
  const nearly = JSON.stringify({ type: 'message.send', id: 'big-ok', data: { conversationId: chatId, clientId: newClientId(), type: 'text', body: 'x'.repeat(60_000) } });
  t.ok(Buffer.byteLength(nearly) < 65_536, 'control frame under 64 KiB');
  sendRaw(client, nearly);
  const answer = await client.next('error');
  t.equal(answer.id, 'big-ok', 'a frame under the limit is answered (the body is too long for a message)');
  t.ok(['MESSAGE_TOO_LONG', 'VALIDATION_FAILED'].includes(answer.data?.code), `refused as a message (${answer.data?.code})`);
  t.ok(await alive(client), 'and the socket stays open');

  const over = JSON.stringify({ type: 'ping', id: 'big', data: { pad: 'x'.repeat(66_000) } });
  t.ok(Buffer.byteLength(over) > 65_536, 'a frame over 64 KiB');
  sendRaw(client, over);
  const { code } = await client.closed();
  t.equal(code, 1009, 'closed with 1009 (message too big)');
  t.notOk(client.frames.some((f) => f.id === 'big'), 'the oversize frame got no answer');
  t.equal(await storedMessages(app, chatId), 0, 'nothing stored');

  const again = await open(t, base, a);
  t.ok(await alive(again.client), 'the user reconnects');
});

t.test('WS_RATE_LIMIT: the excess gets RATE_LIMITED, 3x the limit closes with 1008, per socket', async (t) => {
  const limited = await buildChatApp(t, { WS_RATE_LIMIT: '5', WS_RATE_WINDOW_SECONDS: '4' });
  const limitedBase = await socketBase(t, limited.app);
  const a = await limited.user();
  const { client } = await open(t, limitedBase, a);
  const other = await open(t, limitedBase, a);

  for (let i = 1; i <= 5; i++) client.send({ type: 'ping', id: `ok-${i}` });
  client.send({ type: 'ping', id: 'sixth' });
  const sixth = await client.request('ping').catch(() => undefined);
  await sleep(200);
  const answers = client.frames.filter((f) => f.id?.startsWith('ok-'));
  t.same(answers.map((f) => f.type), ['pong', 'pong', 'pong', 'pong', 'pong'], 'five frames within the window are answered');
  const sixthReply = client.frames.find((f) => f.id === 'sixth');
  t.equal(sixthReply?.type, 'error', 'the sixth gets an error');
  t.equal(sixthReply?.data?.code, 'RATE_LIMITED', 'RATE_LIMITED');
  t.equal(sixth?.type, 'error', 'the seventh too');
  t.equal(sixth?.data?.code, 'RATE_LIMITED');
  t.equal(client.socket.readyState, 1, 'the socket is still open after the excess');
  t.ok(await alive(other.client), 'another socket of the same user is not limited');

  await sleep(4_100);
  t.ok(await alive(client), 'after the window (WS_RATE_WINDOW_SECONDS) the socket is answered again');

  for (let i = 0; i < 20; i++) {
    if (client.socket.readyState !== 1) break;
    client.send({ type: 'ping', id: `flood-${i}` });
  }
  const { code } = await client.closed();
  t.equal(code, 1008, 'flooding 3x the limit closes with 1008 (policy violation)');
  const answered = client.frames.filter((f) => f.id?.startsWith('flood-'));
  t.ok(answered.length <= 15, `at most 3x the limit of the flood was answered (${answered.length})`);
  t.ok(await alive(other.client), 'the other socket is unaffected');
});

t.test('auth.refresh: a fresh token -> ack; garbage -> UNAUTHORIZED and the socket stays open', async (t) => {
  const a = await h.user();
  const { client } = await open(t, base, a);
  const claims = jwtClaims(a.accessToken);
  const now = Math.floor(Date.now() / 1000);
  const fresh = signHs256({ ...claims, iat: now, exp: now + 1200 }, JWT_SECRET);

  const ok = await ask(client, 'auth.refresh', { accessToken: fresh });
  t.equal(ok.reply.type, 'ack', 'a fresh token is acked');
  t.equal(ok.reply.id, ok.id, 'the id is echoed');

  const garbage = await ask(client, 'auth.refresh', { accessToken: 'not.a.jwt' });
  expectError(t, garbage.reply, 'UNAUTHORIZED', garbage.id, 'a garbage token');
  t.ok(await alive(client), 'the socket stays open');

  const expired = await ask(client, 'auth.refresh', { accessToken: signHs256({ ...claims, iat: now - 1000, exp: now - 100 }, JWT_SECRET) });
  expectError(t, expired.reply, 'TOKEN_EXPIRED', expired.id, 'an expired token');
  const other = await h.user();
  const foreign = await ask(client, 'auth.refresh', { accessToken: other.accessToken });
  t.equal(foreign.reply.type, 'error', "another user's token is refused");
  t.equal((await client.request('message.send', { conversationId: (await directChat(app, a, other)).id, clientId: newClientId(), type: 'text', body: 'still me' })).data?.senderId, a.user.id, 'the socket still acts as its own user');
  const missing = await ask(client, 'auth.refresh', {});
  expectError(t, missing.reply, 'VALIDATION_FAILED', missing.id, 'no token');
  t.ok(await alive(client), 'the socket stays open');
});

t.test('access token expiry closes the socket with 4408 unless auth.refresh extended it', async (t) => {
  const a = await h.user();
  const claims = jwtClaims(a.accessToken);
  const now = Math.floor(Date.now() / 1000);
  const shortLived = () => signHs256({ ...claims, iat: now, exp: now + 3 }, JWT_SECRET);

  const expiring = await connect(t, `${base}/ws`, { headers: { authorization: `Bearer ${shortLived()}` } });
  await expiring.next('ready');
  const refreshed = await connect(t, `${base}/ws`, { headers: { authorization: `Bearer ${shortLived()}` } });
  await refreshed.next('ready');
  const extended = await refreshed.request('auth.refresh', { accessToken: a.accessToken });
  t.equal(extended.type, 'ack', 'the second socket is refreshed with a 15-minute token');
  const garbage = await expiring.request('auth.refresh', { accessToken: 'not.a.jwt' });
  t.equal(garbage.type, 'error', 'a refused refresh does not extend the first');

  const { code } = await expiring.closed(8000);
  t.equal(code, 4408, 'the socket on the short token closes with 4408 at its expiry');
  t.ok(Date.now() / 1000 >= now + 2, 'not before the token expired');
  t.ok(await alive(refreshed), 'the refreshed socket lives on past the old expiry');
  t.equal(refreshed.socket.readyState, 1, 'still open');
});

t.test('WS_PING_INTERVAL_SECONDS: the server pings; a client that never answers is terminated', async (t) => {
  const pinging = await buildChatApp(t, { WS_PING_INTERVAL_SECONDS: '1' });
  const pingBase = await socketBase(t, pinging.app);
  const a = await pinging.user();
  const headers = { authorization: `Bearer ${a.accessToken}` };
  const answering = await connect(t, `${pingBase}/ws`, { headers });
  let pings = 0;
  answering.socket.on('ping', () => {
    pings += 1;
  });
  const silent = await connect(t, `${pingBase}/ws`, { headers, autoPong: false });
  await answering.next('ready');
  await silent.next('ready');
  const closed = await silent.closed(6000).catch(() => undefined);
  t.ok(closed, 'the socket that does not answer pings is dropped within a few intervals');
  t.ok(pings >= 1, `the server pinged (${pings})`);
  await sleep(1200);
  t.ok(await alive(answering), 'a client that answers pings stays connected');
});

t.test('shutdown closes open sockets with 1001', async (t) => {
  const closing = await buildChatApp(t);
  const closingBase = await socketBase(t, closing.app);
  const a = await closing.user();
  const { client } = await open(t, closingBase, a);
  const room = await open(t, closingBase, a, `/ws/chat/${(await directChat(closing.app, a, await closing.user())).roomName}`);
  const done = closing.app.close();
  const [first, second] = await Promise.all([client.closed(), room.client.closed()]);
  await done;
  t.equal(first.code, 1001, '/ws: going away');
  t.equal(second.code, 1001, 'room socket: going away');
});
