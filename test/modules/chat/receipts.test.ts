import { randomUUID } from 'node:crypto';
import t from 'tap';
import { problemOf } from '../../helper.js';
import { type Account, call, expectStatus } from '../../support/accounts.js';
import { buildChatApp, conversation, createGroup, eventually, history, inbox, recordEvents, sendText } from '../../support/chat.js';

/*
 * Read and delivered receipts: they only move forward, reading implies delivery, they cannot pass
 * the last message; the unread count follows them; clearing history is yours alone.
 */

const h = await buildChatApp(t);
const { app } = h;

interface ReceiptBody {
  conversationId: string;
  userId: string;
  readSeq: number;
  deliveredSeq: number;
  unreadCount: number;
}

const mark = (who: Account, id: string, kind: 'read' | 'delivered', payload: unknown) =>
  call(app, 'POST', `/chat/${id}/${kind}`, { token: who.accessToken, payload });
const receipt = async (who: Account, id: string, kind: 'read' | 'delivered', seq: number) =>
  expectStatus<ReceiptBody>(await mark(who, id, kind, { seq }), 200, `${kind} ${seq}`);
const receipts = async (who: Account, id: string) =>
  expectStatus<{ items: Array<{ userId: string; readSeq: number; deliveredSeq: number }> }>(
    await call(app, 'GET', `/chat/${id}/receipts`, { token: who.accessToken }),
    200,
    'receipts',
  ).items.sort((a, b) => (a.userId < b.userId ? -1 : 1));

/** A group of an owner and one member in which the owner said three things. */
async function chatWithThree() {
  const owner = await h.user();
  const member = await h.user();
  const group = await createGroup(app, owner, [member]);
  for (const body of ['one', 'two', 'three']) await sendText(app, owner, group.id, body);
  return { owner, member, group };
}

t.test('receipts move forward only, and reading implies delivery', async (t) => {
  const { member, group } = await chatWithThree();

  const delivered = await receipt(member, group.id, 'delivered', 1);
  t.same(delivered, { conversationId: group.id, userId: member.user.id, readSeq: 0, deliveredSeq: 1, unreadCount: 3 }, 'delivered up to 1');
  const read = await receipt(member, group.id, 'read', 2);
  t.same([read.readSeq, read.deliveredSeq, read.unreadCount], [2, 2, 1], 'read up to 2, which delivers up to 2');

  const backRead = await receipt(member, group.id, 'read', 1);
  t.same([backRead.readSeq, backRead.deliveredSeq, backRead.unreadCount], [2, 2, 1], 'a lower read seq is a no-op');
  const backDelivered = await receipt(member, group.id, 'delivered', 1);
  t.same([backDelivered.readSeq, backDelivered.deliveredSeq], [2, 2], 'a lower delivered seq is a no-op');
  const ahead = await receipt(member, group.id, 'delivered', 3);
  t.same([ahead.readSeq, ahead.deliveredSeq, ahead.unreadCount], [2, 3, 1], 'delivery does not read');

  const view = await conversation(app, member, group.id);
  t.same([view.readSeq, view.deliveredSeq, view.unreadCount], [2, 3, 1], 'the conversation shows the receipts');
  t.equal((await inbox(app, member)).items.find((c) => c.id === group.id)?.unreadCount, 1, 'and so does the inbox');
  const all = await receipt(member, group.id, 'read', 3);
  t.equal(all.unreadCount, 0);
  t.equal((await inbox(app, member)).items.find((c) => c.id === group.id)?.unreadCount, 0, 'nothing unread once all is read');
  t.equal((await receipt(member, group.id, 'read', 3)).readSeq, 3, 'the same seq again is fine');
});

t.test('a seq past the last message or a bad body is refused and changes nothing', async (t) => {
  const { member, group } = await chatWithThree();
  await receipt(member, group.id, 'read', 1);

  const { lastSeq } = await conversation(app, member, group.id);
  t.equal(lastSeq, 4, 'three messages and the receipt, which took a seq of its own');
  for (const kind of ['read', 'delivered'] as const) {
    const response = await mark(member, group.id, kind, { seq: lastSeq + 1 });
    t.equal(response.statusCode, 400, `${kind} beyond lastSeq`);
    t.equal(problemOf(t, response).code, 'SEQ_OUT_OF_RANGE');
  }
  for (const [payload, label] of [
    [{ seq: -1 }, 'a negative seq'],
    [{ seq: 1.5 }, 'a fractional seq'],
    [{}, 'no seq'],
    [{ seq: 2, at: 'now' }, 'an unknown field'],
  ] as const) {
    const response = await mark(member, group.id, 'read', payload);
    t.equal(response.statusCode, 400, label);
    t.equal(problemOf(t, response).code, 'VALIDATION_FAILED');
  }
  const view = await conversation(app, member, group.id);
  t.same([view.readSeq, view.deliveredSeq, view.unreadCount], [1, 1, 2], 'still where it was');
});

t.test('a receipt names messages: a seq taken by a change moves it to the last message, once', async (t) => {
  const { owner, member, group } = await chatWithThree();
  t.equal((await receipt(member, group.id, 'read', 1)).readSeq, 1);
  const { lastSeq } = await conversation(app, member, group.id);
  t.equal(lastSeq, 4, "the member's receipt took seq 4");
  t.equal((await receipt(owner, group.id, 'read', lastSeq)).readSeq, 3, "the owner marking that receipt's seq stays at the last message");
  t.equal((await conversation(app, member, group.id)).lastSeq, 4, 'which moved nothing, so nothing was recorded');
  const moved = await receipt(member, group.id, 'read', lastSeq);
  t.same([moved.readSeq, moved.deliveredSeq, moved.unreadCount], [3, 3, 0], 'the member marking it is clamped to 3');
  const head = (await conversation(app, member, group.id)).lastSeq;
  t.equal(head, 5, 'that move was recorded (seq 5)');
  // Two clients that mark whatever they receive would answer each other's receipts forever; they cannot.
  t.equal((await receipt(owner, group.id, 'read', head)).readSeq, 3, 'the receipt of the receipt moves nothing');
  t.equal((await receipt(member, group.id, 'read', head)).readSeq, 3, 'for either side');
  t.equal((await conversation(app, member, group.id)).lastSeq, head, 'and records nothing');
});

t.test('outsiders can neither mark nor list receipts', async (t) => {
  const { group } = await chatWithThree();
  const outsider = await h.user();
  for (const [method, path, payload] of [
    ['POST', `/chat/${group.id}/read`, { seq: 1 }],
    ['POST', `/chat/${group.id}/delivered`, { seq: 1 }],
    ['GET', `/chat/${group.id}/receipts`, undefined],
    ['POST', `/chat/${group.id}/clear`, undefined],
    ['POST', `/chat/${randomUUID()}/read`, { seq: 0 }],
  ] as const) {
    const response = await call(app, method, path, { token: outsider.accessToken, ...(payload ? { payload } : {}) });
    t.equal(response.statusCode, 404, `${method} ${path.split('/').pop()}`);
    t.equal(problemOf(t, response).code, 'CONVERSATION_NOT_FOUND');
  }
});

t.test('GET /chat/:id/receipts lists every current member', async (t) => {
  const owner = await h.user();
  const [reader, silent, leaver] = [await h.user(), await h.user(), await h.user()];
  const group = await createGroup(app, owner, [reader, silent, leaver]);
  for (const body of ['a', 'b', 'c']) await sendText(app, owner, group.id, body);
  await receipt(reader, group.id, 'read', 2);
  await receipt(leaver, group.id, 'delivered', 3);
  t.equal((await call(app, 'DELETE', `/chat/${group.id}/members/${leaver.user.id}`, { token: leaver.accessToken })).statusCode, 204);

  const expected = [
    { userId: owner.user.id, readSeq: 3, deliveredSeq: 3 },
    { userId: reader.user.id, readSeq: 2, deliveredSeq: 2 },
    { userId: silent.user.id, readSeq: 0, deliveredSeq: 0 },
  ].sort((a, b) => (a.userId < b.userId ? -1 : 1));
  t.same(await receipts(silent, group.id), expected, 'each member with their seqs; the one who left is gone');
});

t.test('a receipt change publishes receipt.updated', async (t) => {
  const { member, group } = await chatWithThree();
  const events = await recordEvents(t, app, `conversation:${group.id}`);
  await receipt(member, group.id, 'read', 2);
  const mine = (e: (typeof events)[number]) => e.type === 'receipt.updated' && e.data?.userId === member.user.id;
  await eventually(() => events.some(mine));
  const event = events.find(mine);
  t.same(event?.data, { conversationId: group.id, userId: member.user.id, readSeq: 2, deliveredSeq: 2 });
  t.equal(event?.conversationId, group.id);
});

t.test('clearing hides earlier messages from the one who cleared, and from nobody else', async (t) => {
  const { owner, member, group } = await chatWithThree();
  const cleared = await call(app, 'POST', `/chat/${group.id}/clear`, { token: member.accessToken });
  t.equal(cleared.statusCode, 204);
  t.same((await history(app, member, group.id)).items, [], 'my history is empty');
  t.equal((await conversation(app, member, group.id)).lastMessage, null, 'no last message to show');

  await sendText(app, owner, group.id, 'four');
  t.same((await history(app, member, group.id)).items.map((m) => m.body), ['four'], 'new messages show');
  t.same((await history(app, owner, group.id)).items.map((m) => m.body), ['one', 'two', 'three', 'four'], "the others' history is whole");
  t.equal((await conversation(app, member, group.id)).lastMessage?.body, 'four');
  t.equal((await conversation(app, member, group.id)).lastSeq, 5, 'seqs go on (the clear took 4)');
});
