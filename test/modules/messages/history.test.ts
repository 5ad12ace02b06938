import { randomUUID } from 'node:crypto';
import t from 'tap';
import { type Account, call, expectStatus } from '../../support/accounts.js';
import { type HistoryPage, type MessageBody, buildChatApp, createGroup, directChat, history, sendText } from '../../support/chat.js';
import { deleteMessage, expectProblem, getMessage, leave, range, seqsOf } from './fixtures.js';

/*
 * GET /message/chat/:id (history pages by seq, both directions) and GET /message/:id: who sees what
 * (members only; deleted-for-me, cleared and outside-the-membership-window messages left out).
 */

const h = await buildChatApp(t);
const { app } = h;

async function fill(from: Account[], conversationId: string, n: number): Promise<MessageBody[]> {
  const sent: MessageBody[] = [];
  for (let i = 1; i <= n; i++) sent.push(await sendText(app, from[i % from.length]!, conversationId, `message ${i}`));
  return sent;
}

t.test('the newest page by default, in ascending seq, at most 50', async (t) => {
  const [a, b] = [await h.user(), await h.user()];
  const chat = await directChat(app, a, b);
  const empty = await history(app, a, chat.id);
  t.strictSame(empty, { items: [], olderCursor: null, newerCursor: null, myReactions: {} }, 'an empty conversation');

  const sent = await fill([a, b], chat.id, 55);
  const page = await history(app, b, chat.id);
  t.same(seqsOf(page.items), range(6, 55), 'the newest 50, oldest of them first');
  t.strictSame(page.items[49], sent[54], 'items are message resources');
  t.equal(page.olderCursor, 6, 'older ones exist below seq 6');
  t.equal(page.newerCursor, null, 'nothing newer');
  t.strictSame(page.myReactions, {}, 'no reactions yet');
});

t.test('before/after cursors walk 25 messages in pages of 10, both ways, without gap or duplicate', async (t) => {
  const [a, b] = [await h.user(), await h.user()];
  const chat = await directChat(app, a, b);
  await fill([a, b], chat.id, 25);

  const backward: number[][] = [];
  let page: HistoryPage = await history(app, a, chat.id, 'limit=10');
  t.equal(page.newerCursor, null, 'the newest page has nothing newer');
  backward.push(seqsOf(page.items));
  while (page.olderCursor !== null && backward.length < 10) {
    const older: HistoryPage = await history(app, a, chat.id, `limit=10&before=${page.olderCursor}`);
    t.equal(older.newerCursor, older.items.at(-1)?.seq, 'a page below the newest has newer messages after its last seq');
    page = older;
    backward.push(seqsOf(page.items));
  }
  t.same(backward, [range(16, 25), range(6, 15), range(1, 5)], 'newest to oldest pages, each ascending');
  t.equal(page.olderCursor, null, 'nothing older than seq 1');

  const forward: number[][] = [];
  page = await history(app, b, chat.id, 'limit=10&after=0');
  t.equal(page.olderCursor, null, 'the first page has nothing older');
  forward.push(seqsOf(page.items));
  while (page.newerCursor !== null && forward.length < 10) {
    const newer: HistoryPage = await history(app, b, chat.id, `limit=10&after=${page.newerCursor}`);
    t.equal(newer.olderCursor, newer.items[0]?.seq, 'a page above the first has older messages before its first seq');
    page = newer;
    forward.push(seqsOf(page.items));
  }
  t.same(forward, [range(1, 10), range(11, 20), range(21, 25)], 'oldest to newest pages');
  t.equal(page.newerCursor, null, 'nothing newer than seq 25');

  t.same(seqsOf((await history(app, a, chat.id, 'after=5&before=12')).items), range(6, 11), 'both bounds: the range between them');
  t.same(seqsOf((await history(app, a, chat.id, 'after=25')).items), [], 'after the last seq: nothing');
});

t.test('paging around messages deleted for me still covers every other message once', async (t) => {
  const [a, b] = [await h.user(), await h.user()];
  const chat = await directChat(app, a, b);
  const sent = await fill([a, b], chat.id, 25);
  const hidden = [1, 2, 10, 11, 12, 16, 25];
  for (const seq of hidden) expectStatus(await deleteMessage(app, b, sent[seq - 1]!.id, 'me'), 204, `hide ${seq}`);
  const visible = range(1, 25).filter((seq) => !hidden.includes(seq));

  const backward: number[] = [];
  let page: HistoryPage = await history(app, b, chat.id, 'limit=4');
  for (let n = 0; n < 20; n++) {
    backward.unshift(...seqsOf(page.items));
    if (page.olderCursor === null) break;
    page = await history(app, b, chat.id, `limit=4&before=${page.olderCursor}`);
  }
  t.same(backward, visible, 'downwards: every visible message once, none hidden');
  const forward: number[] = [];
  page = await history(app, b, chat.id, 'limit=4&after=0');
  for (let n = 0; n < 20; n++) {
    forward.push(...seqsOf(page.items));
    if (page.newerCursor === null) break;
    page = await history(app, b, chat.id, `limit=4&after=${page.newerCursor}`);
  }
  t.same(forward, visible, 'upwards too');
  t.same(seqsOf((await history(app, b, chat.id, 'limit=4')).items), [21, 22, 23, 24], 'the newest page: the 4 newest visible ones');
});

t.test('limit and cursors are validated', async (t) => {
  const [a, b] = [await h.user(), await h.user()];
  const chat = await directChat(app, a, b);
  await sendText(app, a, chat.id, 'one');
  for (const query of ['limit=101', 'limit=0', 'before=abc', 'after=-1', 'after=x']) {
    expectProblem(t, await call(app, 'GET', `/message/chat/${chat.id}?${query}`, { token: a.accessToken }), 400, 'VALIDATION_FAILED', query);
  }
  t.equal((await history(app, a, chat.id, 'limit=100')).items.length, 1, 'limit=100 is fine');
  expectProblem(t, await call(app, 'GET', '/message/chat/not-a-uuid', { token: a.accessToken }), 400, 'VALIDATION_FAILED', 'a conversation id that is no uuid');
  t.equal((await call(app, 'GET', `/message/chat/${chat.id}`)).statusCode, 401, 'a token is needed');
});

t.test('non-members and unknown conversations answer 404', async (t) => {
  const [a, b, outsider] = [await h.user(), await h.user(), await h.user()];
  const chat = await directChat(app, a, b);
  await sendText(app, a, chat.id, 'private');
  expectProblem(t, await call(app, 'GET', `/message/chat/${chat.id}`, { token: outsider.accessToken }), 404, 'CONVERSATION_NOT_FOUND', 'non-member');
  expectProblem(t, await call(app, 'GET', `/message/chat/${randomUUID()}`, { token: a.accessToken }), 404, 'CONVERSATION_NOT_FOUND', 'unknown id');
});

t.test('a message deleted for me is left out of my history only', async (t) => {
  const [a, b] = [await h.user(), await h.user()];
  const chat = await directChat(app, a, b);
  const [m1, m2, m3] = await fill([a], chat.id, 3);
  t.equal((await deleteMessage(app, b, m2!.id, 'me')).statusCode, 204, 'for=me');
  t.equal((await deleteMessage(app, a, m3!.id)).statusCode, 204, 'without for: me is the default');
  t.same(seqsOf((await history(app, b, chat.id)).items), [1, 3], 'b no longer sees m2');
  t.same(seqsOf((await history(app, a, chat.id)).items), [1, 2], 'a no longer sees m3');
  expectProblem(t, await call(app, 'GET', `/message/${m2!.id}`, { token: b.accessToken }), 404, 'MESSAGE_NOT_FOUND', 'b cannot read m2 by id either');
  t.equal((await getMessage(app, a, m2!.id)).body, m2!.body, 'a still reads m2 intact');
  t.equal((await getMessage(app, b, m3!.id)).body, m3!.body, 'b still reads m3 intact');
  t.equal((await getMessage(app, a, m1!.id)).deletedAt, null, 'nothing deleted for everyone');
});

t.test('history starts at your join and stops at your leave; clearing hides it for you only', async (t) => {
  const [owner, early, late] = [await h.user(), await h.user(), await h.user()];
  const group = await createGroup(app, owner, [early]);
  const [first] = await fill([owner], group.id, 2);
  expectStatus(await call(app, 'POST', `/chat/${group.id}/members`, { token: owner.accessToken, payload: { userIds: [late.user.id] } }), 201, 'add late');
  await sendText(app, owner, group.id, 'welcome');
  // Joins, leaves and clears take seqs of their own (3: late joined, 5: early left, 7: late cleared): messages are 1, 2, 4, 6, 8.
  t.same(seqsOf((await history(app, late, group.id)).items), [4], 'a new member sees from their join');
  expectProblem(t, await call(app, 'GET', `/message/${first!.id}`, { token: late.accessToken }), 404, 'MESSAGE_NOT_FOUND', 'nor by id');

  await leave(app, early, group.id);
  const afterLeave = await sendText(app, owner, group.id, 'after early left');
  expectProblem(t, await call(app, 'GET', `/message/${afterLeave.id}`, { token: early.accessToken }), 404, 'MESSAGE_NOT_FOUND', 'a message after the leave, by id');
  t.equal((await getMessage(app, early, first!.id)).body, first!.body, 'one from before, by id');
  t.same(seqsOf((await history(app, early, group.id)).items), [1, 2, 4], 'a former member keeps what was said while they were in');
  t.same(seqsOf((await history(app, owner, group.id)).items), [1, 2, 4, 6], 'the owner sees all');

  expectStatus(await call(app, 'POST', `/chat/${group.id}/clear`, { token: late.accessToken }), 204, 'clear');
  t.same(seqsOf((await history(app, late, group.id)).items), [], 'cleared for late');
  await sendText(app, owner, group.id, 'after the clear');
  t.same(seqsOf((await history(app, late, group.id)).items), [8], 'new messages appear again');
  t.same(seqsOf((await history(app, owner, group.id)).items), [1, 2, 4, 6, 8], 'others are not affected');
});

t.test('GET /message/:id answers members, 404 to everyone else', async (t) => {
  const [a, b, outsider] = [await h.user(), await h.user(), await h.user()];
  const chat = await directChat(app, a, b);
  const sent = await sendText(app, a, chat.id, 'look at me');
  t.strictSame(await getMessage(app, a, sent.id), sent, 'the sender reads the message as sent');
  t.strictSame(await getMessage(app, b, sent.id), sent, 'the other member too');
  expectProblem(t, await call(app, 'GET', `/message/${sent.id}`, { token: outsider.accessToken }), 404, 'MESSAGE_NOT_FOUND', 'non-member');
  expectProblem(t, await call(app, 'GET', `/message/${randomUUID()}`, { token: a.accessToken }), 404, 'MESSAGE_NOT_FOUND', 'unknown id');
  expectProblem(t, await call(app, 'GET', '/message/not-a-uuid', { token: a.accessToken }), 400, 'VALIDATION_FAILED', 'no uuid');
});
