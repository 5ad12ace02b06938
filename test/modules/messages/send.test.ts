import { randomUUID } from 'node:crypto';
import t from 'tap';
import { call, expectStatus } from '../../support/accounts.js';
import { type MessageBody, block, buildChatApp, conversation, createGroup, directChat, eventually, newClientId, recordEvents, sendText } from '../../support/chat.js';
import { deleteMessage, expectProblem, leave, postMessage, range, rowsForClientId, seqsOf, storedMessages, unblock } from './fixtures.js';

/*
 * POST /message: the durable log (gapless seq per conversation, idempotent by (sender, clientId),
 * also under concurrency), the body rules, who may send where, replies, forwards, mentions, and the
 * message.created event.
 */

const h = await buildChatApp(t);
const { app } = h;

const MESSAGE_KEYS = ['attachments', 'body', 'clientId', 'conversationId', 'createdAt', 'deletedAt', 'editedAt', 'expiresAt', 'forwarded', 'id', 'mentions', 'reactions', 'replyTo', 'senderId', 'seq', 'type'];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

t.test('sends take seq 1, 2, 3 and answer the whole message resource', async (t) => {
  const [a, b] = [await h.user(), await h.user()];
  const chat = await directChat(app, a, b);
  const before = Date.now();
  const clientId = newClientId();
  const response = await postMessage(app, a, { conversationId: chat.id, clientId, body: 'hello there' });
  t.equal(response.statusCode, 201, 'a new message is 201');
  const first = response.json() as MessageBody;
  t.same(Object.keys(first).sort(), MESSAGE_KEYS, 'every field of the message resource, nothing else');
  t.match(first.id, UUID, 'a uuid');
  t.strictSame(
    { ...first, id: null, createdAt: null },
    { id: null, conversationId: chat.id, seq: 1, senderId: a.user.id, clientId, type: 'text', body: 'hello there', replyTo: null, forwarded: false, mentions: [], reactions: [], attachments: [], createdAt: null, editedAt: null, deletedAt: null, expiresAt: null },
  );
  const at = Date.parse(first.createdAt);
  t.ok(at >= before - 2000 && at <= Date.now() + 2000, 'createdAt is now');

  const second = await sendText(app, b, chat.id, 'second');
  const third = await sendText(app, a, chat.id, 'third');
  t.same([second.seq, third.seq], [2, 3], 'each conversation counts 1, 2, 3 whoever sends');
  t.equal((await conversation(app, b, chat.id)).lastSeq, 3);
  const other = await directChat(app, a, await h.user());
  t.equal((await sendText(app, a, other.id, 'elsewhere')).seq, 1, 'another conversation starts at 1');
});

t.test('the same clientId again answers 200 with the original and writes nothing', async (t) => {
  const [a, b] = [await h.user(), await h.user()];
  const chat = await directChat(app, a, b);
  const clientId = newClientId();
  const original = (await postMessage(app, a, { conversationId: chat.id, clientId, body: 'first' })).json() as MessageBody;
  const retry = await postMessage(app, a, { conversationId: chat.id, clientId, body: 'changed on retry' });
  t.equal(retry.statusCode, 200, 'a retry is 200');
  t.strictSame(retry.json(), original, 'the original message, unchanged');
  t.equal(await rowsForClientId(app, a.user.id, clientId), 1, 'one row');
  t.equal((await conversation(app, a, chat.id)).lastSeq, 1, 'no seq consumed');

  const fromB = await postMessage(app, b, { conversationId: chat.id, clientId, body: 'mine' });
  t.equal(fromB.statusCode, 201, 'the key is per sender: another sender may use it');
  t.equal((fromB.json() as MessageBody).seq, 2, 'and takes the next seq');
});

t.test('twenty concurrent sends from two users take seqs 1..20 exactly', async (t) => {
  const [a, b] = [await h.user(), await h.user()];
  const chat = await directChat(app, a, b);
  const responses = await Promise.all(range(1, 20).map((i) => postMessage(app, i % 2 ? a : b, { conversationId: chat.id, body: `m${i}` })));
  t.same(responses.map((r) => r.statusCode), Array(20).fill(201), 'all stored');
  const sent = responses.map((r) => r.json() as MessageBody);
  t.same(seqsOf(sent).sort((x, y) => x - y), range(1, 20), 'distinct, gapless seqs');
  t.equal(new Set(sent.map((m) => m.id)).size, 20, 'distinct ids');
  t.equal(await storedMessages(app, chat.id), 20, '20 rows');
  t.equal((await conversation(app, a, chat.id)).lastSeq, 20);
  const page = await call(app, 'GET', `/message/chat/${chat.id}?limit=50`, { token: b.accessToken });
  t.same(seqsOf(page.json().items), range(1, 20), 'history holds them all in order');
  t.equal((await sendText(app, b, chat.id, 'after')).seq, 21, 'the next send continues the count');
});

t.test('ten concurrent sends with one clientId store one message', async (t) => {
  const [a, b] = [await h.user(), await h.user()];
  const chat = await directChat(app, a, b);
  const clientId = newClientId();
  const responses = await Promise.all(range(1, 10).map(() => postMessage(app, a, { conversationId: chat.id, clientId, body: 'once' })));
  const statuses = responses.map((r) => r.statusCode);
  t.equal(statuses.filter((s) => s === 201).length, 1, `one 201 (${statuses.join(',')})`);
  t.equal(statuses.filter((s) => s === 200).length, 9, 'nine 200');
  const ids = new Set(responses.map((r) => (r.json() as MessageBody).id));
  t.equal(ids.size, 1, 'every answer carries the same message');
  t.same(new Set(responses.map((r) => (r.json() as MessageBody).seq)), new Set([1]), 'with seq 1');
  t.equal(await rowsForClientId(app, a.user.id, clientId), 1, 'one row');
  t.equal((await conversation(app, a, chat.id)).lastSeq, 1, 'no seq lost to the duplicates');
  t.equal((await sendText(app, b, chat.id, 'next')).seq, 2, 'the next message is 2: no gap');
});

t.test('unknown fields are refused, not dropped', async (t) => {
  const [a, b] = [await h.user(), await h.user()];
  const chat = await directChat(app, a, b);
  expectProblem(t, await postMessage(app, a, { conversationId: chat.id, body: 'hi', colour: 'red' }), 400, 'VALIDATION_FAILED', 'an unknown field');
  t.equal(await storedMessages(app, chat.id), 0, 'nothing stored');
});

t.test('oversize and blank bodies, bad types and bad clientIds are refused; nothing is stored', async (t) => {
  const [a, b] = [await h.user(), await h.user()];
  const chat = await directChat(app, a, b);
  const send = (payload: Record<string, unknown>) => postMessage(app, a, { conversationId: chat.id, ...payload });
  expectProblem(t, await send({ body: 'x'.repeat(4097) }), 400, 'MESSAGE_TOO_LONG', '4097 characters');
  expectProblem(t, await send({ body: ' \n\t ' }), 400, 'EMPTY_MESSAGE', 'a blank body');
  expectProblem(t, await send({}), 400, 'EMPTY_MESSAGE', 'a text without body');
  expectProblem(t, await send({ body: 'hi', type: 'sticker' }), 400, 'VALIDATION_FAILED', 'an unknown type');
  for (const clientId of ['', 'has space', 'a/b', 'émoji', 'x'.repeat(65)]) {
    expectProblem(t, await send({ body: 'hi', clientId }), 400, 'VALIDATION_FAILED', `clientId ${JSON.stringify(clientId).slice(0, 12)}`);
  }
  expectProblem(t, await send({ body: 'hi', conversationId: 'not-a-uuid' }), 400, 'VALIDATION_FAILED', 'a conversationId that is no uuid');
  t.equal((await call(app, 'POST', '/message', { payload: { conversationId: chat.id, clientId: newClientId(), type: 'text', body: 'hi' } })).statusCode, 401, 'a token is needed');
  t.equal(await storedMessages(app, chat.id), 0, 'nothing stored');
  t.equal((await conversation(app, a, chat.id)).lastSeq, 0, 'no seq consumed');

  t.equal((await send({ body: 'x'.repeat(4096) })).statusCode, 201, '4096 characters fit');
  t.equal((await send({ body: 'ok', clientId: `Az09._:-${'y'.repeat(56)}` })).statusCode, 201, 'a 64-character clientId of every allowed character');
  t.equal((await conversation(app, a, chat.id)).lastSeq, 2, 'the first refused body did not take seq 1');
});

t.test('the length limit counts characters, not UTF-16 code units', async (t) => {
  const [a, b] = [await h.user(), await h.user()];
  const chat = await directChat(app, a, b);
  t.equal((await postMessage(app, a, { conversationId: chat.id, body: '😀'.repeat(4096) })).statusCode, 201, '4096 emoji fit');
  expectProblem(t, await postMessage(app, a, { conversationId: chat.id, body: '😀'.repeat(4097) }), 400, 'MESSAGE_TOO_LONG', '4097 emoji');
  t.equal(await storedMessages(app, chat.id), 1);
});

t.test('MESSAGE_MAX_LENGTH sets the limit', async (t) => {
  const small = await buildChatApp(t, { MESSAGE_MAX_LENGTH: '10' });
  const [a, b] = [await small.user(), await small.user()];
  const chat = await directChat(small.app, a, b);
  expectProblem(t, await postMessage(small.app, a, { conversationId: chat.id, body: 'x'.repeat(11) }), 400, 'MESSAGE_TOO_LONG', '11 of 10');
  t.equal((await postMessage(small.app, a, { conversationId: chat.id, body: 'x'.repeat(10) })).statusCode, 201, '10 of 10');
  t.equal(await storedMessages(small.app, chat.id), 1);
});

t.test('a conversation you are not in, or that does not exist, is 404 and gets nothing', async (t) => {
  const [a, b, outsider] = [await h.user(), await h.user(), await h.user()];
  const chat = await directChat(app, a, b);
  await sendText(app, a, chat.id, 'private');
  expectProblem(t, await postMessage(app, outsider, { conversationId: chat.id, body: 'let me in' }), 404, 'CONVERSATION_NOT_FOUND', 'non-member');
  expectProblem(t, await postMessage(app, a, { conversationId: randomUUID(), body: 'void' }), 404, 'CONVERSATION_NOT_FOUND', 'unknown id');
  t.equal((await conversation(app, a, chat.id)).lastSeq, 1, 'lastSeq unchanged');
  t.equal(await storedMessages(app, chat.id), 1, 'nothing stored');

  const group = await createGroup(app, a, [b]);
  await leave(app, b, group.id);
  expectProblem(t, await postMessage(app, b, { conversationId: group.id, body: 'still here?' }), 403, 'NOT_A_MEMBER', 'former member');
  t.equal(await storedMessages(app, group.id), 0, 'nothing stored by the former member');
});

t.test('replies carry a preview; a message of another conversation cannot be replied to', async (t) => {
  const [a, b, c] = [await h.user(), await h.user(), await h.user()];
  const chat = await directChat(app, a, b);
  const original = await sendText(app, a, chat.id, 'question?');
  const answer = await sendText(app, b, chat.id, 'answer', { replyToId: original.id });
  t.strictSame(answer.replyTo, { id: original.id, seq: 1, senderId: a.user.id, type: 'text', body: 'question?', deleted: false }, 'the preview');
  const other = await directChat(app, a, c);
  expectProblem(t, await postMessage(app, a, { conversationId: other.id, body: 'cross', replyToId: original.id }), 404, 'MESSAGE_NOT_FOUND', 'reply across conversations');
  expectProblem(t, await postMessage(app, a, { conversationId: other.id, body: 'void', replyToId: randomUUID() }), 404, 'MESSAGE_NOT_FOUND', 'reply to nothing');
  t.equal(await storedMessages(app, other.id), 0, 'nothing stored');
});

t.test('a reply or a forward needs a message you can see: not before your join, not deleted for you', async (t) => {
  const [owner, b, late] = [await h.user(), await h.user(), await h.user()];
  const group = await createGroup(app, owner, [b]);
  const early = await sendText(app, owner, group.id, 'before late joined');
  expectStatus(await call(app, 'POST', `/chat/${group.id}/members`, { token: owner.accessToken, payload: { userIds: [late.user.id] } }), 201, 'add late');
  expectProblem(t, await postMessage(app, late, { conversationId: group.id, body: 're', replyToId: early.id }), 404, 'MESSAGE_NOT_FOUND', 'reply to a message before the join');
  expectProblem(t, await postMessage(app, late, { conversationId: group.id, forwardFromId: early.id }), 404, 'MESSAGE_NOT_FOUND', 'forward of a message before the join');
  expectStatus(await deleteMessage(app, b, early.id, 'me'), 204, 'b deletes it for themselves');
  expectProblem(t, await postMessage(app, b, { conversationId: group.id, forwardFromId: early.id }), 404, 'MESSAGE_NOT_FOUND', 'forward of a message deleted for me');
  expectProblem(t, await postMessage(app, b, { conversationId: group.id, body: 're', replyToId: early.id }), 404, 'MESSAGE_NOT_FOUND', 'reply to a message deleted for me');
  t.equal((await conversation(app, owner, group.id)).lastSeq, 3, 'nothing stored after the join (2) and the hide (3)');
  t.equal((await sendText(app, owner, group.id, 'still fine', { replyToId: early.id })).replyTo?.id, early.id, 'the owner may still reply to it');
});

t.test('forwarding copies the body and marks the copy; an invisible message cannot be forwarded', async (t) => {
  const [a, b, c] = [await h.user(), await h.user(), await h.user()];
  const source = await directChat(app, a, b);
  const original = await sendText(app, b, source.id, 'worth sharing');
  const target = await directChat(app, a, c);
  const forwarded = await postMessage(app, a, { conversationId: target.id, forwardFromId: original.id });
  t.equal(forwarded.statusCode, 201, 'forwarded without a body');
  const copy = forwarded.json() as MessageBody;
  t.match(copy, { conversationId: target.id, senderId: a.user.id, body: 'worth sharing', forwarded: true, seq: 1 }, 'a copy by the forwarder');
  t.not(copy.id, original.id, 'a new message');
  const withComment = await sendText(app, a, target.id, 'look', { forwardFromId: original.id });
  t.match(withComment, { body: 'look', forwarded: true }, 'a given body is kept');
  t.equal((await sendText(app, a, target.id, 'plain')).forwarded, false, 'an ordinary message is not forwarded');

  expectProblem(t, await postMessage(app, c, { conversationId: target.id, forwardFromId: original.id }), 404, 'MESSAGE_NOT_FOUND', 'forward of a message c cannot see');
  expectProblem(t, await postMessage(app, c, { conversationId: target.id, forwardFromId: randomUUID() }), 404, 'MESSAGE_NOT_FOUND', 'forward of nothing');
  t.equal(await storedMessages(app, target.id), 3, 'nothing stored by the refused forwards');
});

t.test('mentions must be current members', async (t) => {
  const [a, b, c] = [await h.user(), await h.user(), await h.user()];
  const group = await createGroup(app, a, [b]);
  t.same((await sendText(app, a, group.id, 'hey b', { mentions: [b.user.id] })).mentions, [b.user.id], 'a member');
  expectProblem(t, await postMessage(app, a, { conversationId: group.id, body: 'hey c', mentions: [c.user.id] }), 400, 'VALIDATION_FAILED', 'a non-member');
  expectProblem(t, await postMessage(app, a, { conversationId: group.id, body: 'hey', mentions: [randomUUID()] }), 400, 'VALIDATION_FAILED', 'nobody');
  await leave(app, b, group.id);
  expectProblem(t, await postMessage(app, a, { conversationId: group.id, body: 'hey b?', mentions: [b.user.id] }), 400, 'VALIDATION_FAILED', 'a former member');
  t.equal(await storedMessages(app, group.id), 1, 'only the valid one stored');
});

t.test('a direct chat where either side blocked the other takes no messages', async (t) => {
  const [a, b] = [await h.user(), await h.user()];
  const chat = await directChat(app, a, b);
  await sendText(app, a, chat.id, 'before the block');
  await block(app, b, a);
  expectProblem(t, await postMessage(app, a, { conversationId: chat.id, body: 'hello?' }), 403, 'USER_BLOCKED', 'the blocked one');
  expectProblem(t, await postMessage(app, b, { conversationId: chat.id, body: 'bye' }), 403, 'USER_BLOCKED', 'the blocker');
  t.equal((await conversation(app, a, chat.id)).lastSeq, 1, 'nothing stored');
  await unblock(app, b, a);
  t.equal((await sendText(app, a, chat.id, 'friends again')).seq, 2, 'unblocked: sending works again');
});

t.test('message.created carries the 201 body on conversation:<id>; a retry publishes nothing', async (t) => {
  const [a, b] = [await h.user(), await h.user()];
  const chat = await directChat(app, a, b);
  const events = await recordEvents(t, app, `conversation:${chat.id}`);
  const clientId = newClientId();
  const sent = (await postMessage(app, a, { conversationId: chat.id, clientId, body: 'ring' })).json() as MessageBody;
  await eventually(() => events.some((e) => e.type === 'message.created'));
  const created = events.find((e) => e.type === 'message.created')!;
  t.equal(created.conversationId, chat.id);
  t.strictSame(created.data, sent, 'data is the message as the sender got it');
  t.equal((await postMessage(app, a, { conversationId: chat.id, clientId, body: 'ring' })).statusCode, 200);
  const later = await sendText(app, b, chat.id, 'later');
  await eventually(() => events.some((e) => e.data?.id === later.id));
  t.same(events.filter((e) => e.type === 'message.created').map((e) => e.data.seq), [1, 2], 'one event per stored message, in order');
});
