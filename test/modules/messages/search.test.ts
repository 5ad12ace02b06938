import { randomUUID } from 'node:crypto';
import t from 'tap';
import { type Account, call, expectStatus } from '../../support/accounts.js';
import { type MessageBody, buildChatApp, createGroup, directChat, sendText } from '../../support/chat.js';
import { deleteMessage, expectProblem, leave, sleep, uniqueWord } from './fixtures.js';

/*
 * GET /message/search: whole words, all of them, case-insensitive, over the messages the caller can
 * see (their conversations, within their membership window, not deleted), newest first, in pages.
 */

const h = await buildChatApp(t);
const { app } = h;

interface SearchPage {
  items: MessageBody[];
  nextCursor: string | null;
}

const searchRaw = (actor: Account, query: string) => call(app, 'GET', `/message/search?${query}`, { token: actor.accessToken });
const search = async (actor: Account, q: string, extra = ''): Promise<SearchPage> =>
  expectStatus<SearchPage>(await searchRaw(actor, `q=${encodeURIComponent(q)}${extra}`), 200, `search ${q}`);
const ids = (page: SearchPage) => page.items.map((m) => m.id);

t.test('finds messages by whole words in your conversations only, case-insensitively', async (t) => {
  const [a, b, c, d] = [await h.user(), await h.user(), await h.user(), await h.user()];
  const word = uniqueWord();
  const mine = await directChat(app, a, b);
  const theirs = await directChat(app, c, d);
  const hit = await sendText(app, b, mine.id, `Hello ${word.toUpperCase()}, are you there?`);
  await sendText(app, a, mine.id, 'nothing to see');
  const hidden = await sendText(app, c, theirs.id, `${word} in a chat a is not in`);

  const found = await search(a, word);
  t.same(ids(found), [hit.id], 'only the message of a conversation a is in');
  t.strictSame(found.items[0], hit, 'items are message resources');
  t.same(ids(await search(b, word)), [hit.id], 'the other member finds it too');
  t.same(ids(await search(c, word)), [hidden.id], 'c finds only their own');
  t.same(ids(await search(a, word.toUpperCase())), [hit.id], 'the query is case-insensitive');
  t.same(ids(await search(a, `there ${word}`)), [hit.id], 'all words, any order');
  t.same(ids(await search(a, `${word} missing${uniqueWord()}`)), [], 'every word must match');
  t.same(ids(await search(a, word.slice(0, -2))), [], 'a prefix is not a word');
  t.same(ids(await search(a, `${word.slice(0, -2)}:*`)), [], 'and no prefix syntax either');
  t.same(ids(await search(a, `${word}!`)), [hit.id], 'punctuation around a word is ignored');
  const narrowed = await searchRaw(a, `q=${word}&conversationId=${theirs.id}`);
  t.notMatch(narrowed.body, hidden.id, 'no leak through conversationId');
});

t.test('conversationId narrows the search; a conversation you cannot see gives nothing', async (t) => {
  const [a, b, c] = [await h.user(), await h.user(), await h.user()];
  const word = uniqueWord();
  const one = await directChat(app, a, b);
  const two = await createGroup(app, a, [c]);
  const inOne = await sendText(app, a, one.id, `${word} one`);
  await sleep(3);
  const inTwo = await sendText(app, c, two.id, `${word} two`);
  t.same(ids(await search(a, word)), [inTwo.id, inOne.id], 'both, newest first');
  t.same(ids(await search(a, word, `&conversationId=${one.id}`)), [inOne.id], 'only the first conversation');
  t.same(ids(await search(a, word, `&conversationId=${two.id}`)), [inTwo.id], 'only the second');
  const foreign = await searchRaw(b, `q=${word}&conversationId=${two.id}`);
  t.ok(foreign.statusCode === 404 || (foreign.statusCode === 200 && foreign.json().items.length === 0), `b is not in two: 404 or nothing (${foreign.statusCode})`);
  const unknown = await searchRaw(a, `q=${word}&conversationId=${randomUUID()}`);
  t.ok(unknown.statusCode === 404 || (unknown.statusCode === 200 && unknown.json().items.length === 0), 'an unknown conversation: 404 or nothing');
  expectProblem(t, await searchRaw(a, `q=${word}&conversationId=nope`), 400, 'VALIDATION_FAILED', 'conversationId that is no uuid');
});

t.test('after leaving a group, later messages are not found', async (t) => {
  const [owner, member] = [await h.user(), await h.user()];
  const word = uniqueWord();
  const group = await createGroup(app, owner, [member]);
  const before = await sendText(app, owner, group.id, `${word} before`);
  await leave(app, member, group.id);
  await sleep(3);
  const after = await sendText(app, owner, group.id, `${word} after`);
  t.same(ids(await search(member, word)), [before.id], 'only what was said while they were in');
  t.same(ids(await search(owner, word)), [after.id, before.id], 'the owner finds both');
});

t.test('deleted messages are not found', async (t) => {
  const [a, b] = [await h.user(), await h.user()];
  const word = uniqueWord();
  const chat = await directChat(app, a, b);
  const gone = await sendText(app, a, chat.id, `${word} gone for everyone`);
  const hiddenForB = await sendText(app, a, chat.id, `${word} hidden for b`);
  await sleep(3);
  const kept = await sendText(app, a, chat.id, `${word} kept`);
  expectStatus(await deleteMessage(app, a, gone.id, 'everyone'), 204, 'delete for everyone');
  expectStatus(await deleteMessage(app, b, hiddenForB.id, 'me'), 204, 'delete for b');
  t.same(ids(await search(a, word)), [kept.id, hiddenForB.id], 'a: not the deleted one');
  t.same(ids(await search(b, word)), [kept.id], 'b: neither the deleted nor the hidden one');
  expectStatus(await call(app, 'POST', `/chat/${chat.id}/clear`, { token: a.accessToken }), 204, 'a clears the chat');
  t.same(ids(await search(a, word)), [], 'a: nothing after clearing');
  t.same(ids(await search(b, word)), [kept.id], 'b: unaffected');
});

t.test('an edited message is found by its new words only', async (t) => {
  const [a, b] = [await h.user(), await h.user()];
  const [oldWord, newWord] = [uniqueWord(), uniqueWord()];
  const chat = await directChat(app, a, b);
  const sent = await sendText(app, a, chat.id, `typo ${oldWord}`);
  expectStatus(await call(app, 'PATCH', `/message/${sent.id}`, { token: a.accessToken, payload: { body: `fixed ${newWord}` } }), 200, 'edit');
  t.same(ids(await search(b, oldWord)), [], 'the old word is gone');
  t.same(ids(await search(b, newWord)), [sent.id], 'the new word finds it');
  t.equal((await search(b, newWord)).items[0]?.body, `fixed ${newWord}`, 'with the new body');
});

t.test('q is required, 1..200 characters', async (t) => {
  const a = await h.user();
  for (const query of ['', 'q=', `q=${'a'.repeat(201)}`, 'q=x&limit=101', 'q=x&limit=0']) {
    expectProblem(t, await searchRaw(a, query), 400, 'VALIDATION_FAILED', `?${query.slice(0, 12)}`);
  }
  t.equal((await searchRaw(a, `q=${'a'.repeat(200)}`)).statusCode, 200, '200 characters are fine');
  t.equal((await call(app, 'GET', '/message/search?q=x')).statusCode, 401, 'a token is needed');
});

t.test('pages of 2 cover every match once, newest first', async (t) => {
  const [a, b] = [await h.user(), await h.user()];
  const word = uniqueWord();
  const chat = await directChat(app, a, b);
  const sent: MessageBody[] = [];
  for (let i = 0; i < 5; i++) {
    sent.push(await sendText(app, i % 2 ? a : b, chat.id, `${word} number ${i}`));
    await sleep(3);
  }
  await sendText(app, a, chat.id, 'unrelated');

  const seen: string[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const page: SearchPage = await search(a, word, `&limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    t.ok(page.items.length <= 2, 'at most limit items');
    seen.push(...ids(page));
    cursor = page.nextCursor;
    pages += 1;
  } while (cursor && pages < 10);
  t.same(seen, sent.map((m) => m.id).reverse(), 'every match once, newest first');
  t.equal(pages, 3, '5 matches in pages of 2');
  expectProblem(t, await searchRaw(a, `q=${word}&cursor=bm90LWpzb24`), 400, 'INVALID_CURSOR', 'a forged cursor');
});

t.test('operators and SQL in q are plain text', async (t) => {
  const [a, b] = [await h.user(), await h.user()];
  const word = uniqueWord();
  const chat = await directChat(app, a, b);
  const hit = await sendText(app, a, chat.id, `${word} or not`);
  for (const q of ["a' or 1=1 --", '&|!', '!', "'", '"', '\\', '(', ':*', '<->', `${word} | nothing${uniqueWord()}`, '%', '_']) {
    const response = await searchRaw(a, `q=${encodeURIComponent(q)}`);
    t.equal(response.statusCode, 200, `${JSON.stringify(q)}: 200`);
    t.notOk((response.json() as SearchPage).items?.some((m) => m.id === hit.id), `${JSON.stringify(q)}: matches no extra message`);
  }
  t.same(ids(await search(a, `!${word} & !!`)), [hit.id], 'operator characters around a word are ignored');
});
