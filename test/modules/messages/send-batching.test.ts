import t from 'tap';
import { block, buildChatApp, conversation, createGroup, directChat, history, newClientId } from '../../support/chat.js';
import { createMessageBatcher } from '../../../src/modules/messages/message-batch.js';
import { expectProblem, leave, postMessage, range, rowsForClientId, seqsOf } from './fixtures.js';

/*
 * Concurrent plain sends share one statement per batch (src/modules/messages/message-batch.ts).
 * What must hold whatever lands in the same batch: seqs gapless and unique per conversation,
 * receipts and unread counts as for single sends, retried clientIds stored once, and each send that
 * may not be made refused with its own error while the others in its batch are stored.
 */

const h = await buildChatApp(t);
const { app } = h;

t.test('concurrent sends into several conversations: each gets gapless seqs and every send is stored once', async (t) => {
  const [a, b, c] = [await h.user(), await h.user(), await h.user()];
  const direct = await directChat(app, a, b);
  const group = await createGroup(app, a, [b, c]);
  const plan = range(1, 60).map((i) => ({ from: [a, b, c][i % 3]!, conversationId: i % 2 === 0 || i % 3 === 2 ? group.id : direct.id, body: `m${i}` }));
  const responses = await Promise.all(plan.map((p) => postMessage(app, p.from, { conversationId: p.conversationId, clientId: newClientId(), type: 'text', body: p.body })));
  t.strictSame(responses.map((r) => r.statusCode), plan.map(() => 201), 'every send answered 201');

  for (const chat of [direct, group]) {
    const sent = responses.map((r) => r.json()).filter((m) => m.conversationId === chat.id);
    t.strictSame(sent.map((m) => m.seq).sort((x, y) => x - y), range(1, sent.length), `${chat.kind}: the acks hold seqs 1..${sent.length}`);
    const page = await history(app, a, chat.id, 'limit=100');
    t.strictSame(seqsOf(page.items), range(1, sent.length), `${chat.kind}: history holds each seq once`);
    for (const stored of page.items) {
      const ack = sent.find((m) => m.id === stored.id);
      t.equal(ack?.body, stored.body, `${chat.kind} seq ${stored.seq}: the ack and history agree`);
    }
  }
  const directSent = responses.map((r) => r.json()).filter((m) => m.conversationId === direct.id);
  const fromA = directSent.filter((m) => m.senderId === a.user.id).map((m) => m.seq);
  const lastByB = Math.max(0, ...directSent.filter((m) => m.senderId === b.user.id).map((m) => m.seq));
  const seenByA = await conversation(app, a, direct.id);
  t.equal(seenByA.lastSeq, directSent.length, 'lastSeq counts every message');
  t.equal(seenByA.unreadCount, directSent.length - Math.max(0, ...fromA), 'a: unread = what b sent after a’s last own message');
  t.equal((await conversation(app, b, direct.id)).unreadCount, directSent.length - lastByB, 'b: the same from b’s side');
});

t.test('the same clientId sent twice at once is stored once; both answers carry that message', async (t) => {
  const [a, b] = [await h.user(), await h.user()];
  const chat = await directChat(app, a, b);
  const clientId = newClientId();
  const others = range(1, 5).map((i) => postMessage(app, b, { conversationId: chat.id, clientId: newClientId(), type: 'text', body: `other ${i}` }));
  const [first, second] = await Promise.all([
    postMessage(app, a, { conversationId: chat.id, clientId, type: 'text', body: 'once' }),
    postMessage(app, a, { conversationId: chat.id, clientId, type: 'text', body: 'once' }),
  ]);
  const statuses = [first.statusCode, second.statusCode].sort();
  t.strictSame(statuses, [200, 201], 'one stored (201), one answered with the original (200)');
  t.equal(first.json().id, second.json().id, 'the same message both times');
  t.equal(await rowsForClientId(app, a.user.id, clientId), 1, 'one row');
  t.strictSame((await Promise.all(others)).map((r) => r.statusCode), [201, 201, 201, 201, 201], 'the other sends of the batch are stored');
  t.strictSame(seqsOf((await history(app, a, chat.id)).items), range(1, 6), 'no seq was lost to the failed batch');
});

t.test('sends that may not be made fail with their own errors; the rest of their batch is stored', async (t) => {
  const [a, b, outsider, blocker, former] = [await h.user(), await h.user(), await h.user(), await h.user(), await h.user()];
  const chat = await directChat(app, a, b);
  const blockedChat = await directChat(app, a, blocker);
  const group = await createGroup(app, a, [b, former]);
  await leave(app, former, group.id);
  await block(app, blocker, a);
  const text = (body: string) => ({ clientId: newClientId(), type: 'text', body });
  const [ok1, stranger, blocked, left, ok2] = await Promise.all([
    postMessage(app, a, { conversationId: chat.id, ...text('fine') }),
    postMessage(app, outsider, { conversationId: chat.id, ...text('not mine') }),
    postMessage(app, a, { conversationId: blockedChat.id, ...text('blocked') }),
    postMessage(app, former, { conversationId: group.id, ...text('gone') }),
    postMessage(app, b, { conversationId: chat.id, ...text('fine too') }),
  ]);
  t.equal(ok1.statusCode, 201);
  t.equal(ok2.statusCode, 201);
  expectProblem(t, stranger, 404, 'CONVERSATION_NOT_FOUND', 'a non-member');
  expectProblem(t, blocked, 403, 'USER_BLOCKED', 'a blocked direct chat');
  expectProblem(t, left, 403, 'NOT_A_MEMBER', 'a former member');
  t.strictSame(seqsOf((await history(app, a, chat.id)).items), [1, 2], 'the allowed sends hold seqs 1 and 2');
  t.equal((await history(app, a, blockedChat.id)).items.length, 0, 'nothing stored in the blocked chat');
  t.equal((await conversation(app, a, group.id)).lastSeq, 1, 'no seq taken in the group after the leave (seq 1)');
});

t.test('a disappearing conversation’s messages get expiresAt on the batched path too', async (t) => {
  const [a, b] = [await h.user(), await h.user()];
  const group = await createGroup(app, a, [b], { retention: { mode: 'disappearing', ttlSeconds: 300 } });
  const [one, two] = await Promise.all([a, b].map((from) => postMessage(app, from, { conversationId: group.id, clientId: newClientId(), type: 'text', body: 'soon gone' })));
  for (const response of [one!, two!]) {
    const message = response.json();
    t.equal(response.statusCode, 201);
    const lifetime = Date.parse(message.expiresAt) - Date.parse(message.createdAt);
    t.equal(lifetime, 300_000, 'expiresAt = createdAt + ttl');
  }
});

t.test('a retried clientId in a batch does not fail the batch: the others are stored by it, the retry is left to the one-message path', async (t) => {
  const [a, b] = [await h.user(), await h.user()];
  const chat = await directChat(app, a, b);
  const clientId = newClientId();
  t.equal((await postMessage(app, a, { conversationId: chat.id, clientId, type: 'text', body: 'first' })).statusCode, 201);
  const batcher = createMessageBatcher(app.database);
  const plain = (id: string, body: string) => ({ conversationId: chat.id, senderId: a.user.id, clientId: id, type: 'text', body });
  const fresh = newClientId();
  const [retry, again, stored, twice] = await Promise.all([
    batcher.append(plain(clientId, 'first')),
    batcher.append(plain(clientId, 'first')),
    batcher.append(plain(fresh, 'second')),
    batcher.append(plain(fresh, 'second')),
  ]);
  t.equal(retry, null, 'the retry of a stored clientId is not stored again');
  t.equal(again, null, 'nor its second copy');
  t.equal(stored?.seq, 2, 'the fresh message is stored by the same statement');
  t.equal(twice, null, 'a clientId twice in one batch is stored once');
  t.equal(await rowsForClientId(app, a.user.id, fresh), 1);
  t.strictSame(seqsOf((await history(app, a, chat.id)).items), [1, 2], 'seqs stay gapless');
});
