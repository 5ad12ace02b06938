import { randomBytes } from 'node:crypto';
import t from 'tap';
import { problemOf } from '../../helper.js';
import { type Account, call, expectStatus } from '../../support/accounts.js';
import {
  type ConversationBody,
  type ConversationPage,
  buildChatApp,
  conversation,
  createGroup,
  directChat,
  eventually,
  inbox,
  recordEvents,
  sendText,
} from '../../support/chat.js';

/*
 * GET /chat: pinned first, then latest activity; the archive; the q filter; cursor pages; unread
 * counts and last messages; your own flags. And GET /message/chatprofile/:userId.
 */

const h = await buildChatApp(t);
const { app } = h;

const order = async (who: Account, query = '') => (await inbox(app, who, query)).items.map((c) => c.id);
const settings = (who: Account, id: string, payload: unknown) => call(app, 'PATCH', `/chat/${id}/settings`, { token: who.accessToken, payload });
const tag = () => randomBytes(3).toString('hex');

t.test('the latest activity comes first; pinned conversations before all others', async (t) => {
  const me = await h.user();
  const [p1, p2, p3] = [await h.user(), await h.user(), await h.user()];
  const c1 = await directChat(app, me, p1);
  const c2 = await directChat(app, me, p2);
  const c3 = await createGroup(app, me, [p3]);
  for (const c of [c1, c2, c3]) await sendText(app, me, c.id, 'hello');
  t.same(await order(me), [c3.id, c2.id, c1.id], 'newest activity first');

  await sendText(app, p1, c1.id, 'news');
  t.same(await order(me), [c1.id, c3.id, c2.id], 'a message in the oldest moves it to the top');
  t.same(await order(p1), [c1.id], 'the others see only their own conversations');

  t.equal((await settings(me, c2.id, { pinned: true })).statusCode, 200);
  t.same(await order(me), [c2.id, c1.id, c3.id], 'pinned first');
  t.equal((await conversation(app, me, c2.id)).pinned, true);
  t.equal((await conversation(app, p2, c2.id)).pinned, false, 'pinning is per user');
  await sendText(app, p3, c3.id, 'later');
  t.same(await order(me), [c2.id, c3.id, c1.id], 'the unpinned still sort by activity below');
  t.equal((await settings(me, c2.id, { pinned: false })).statusCode, 200);
  t.same(await order(me), [c3.id, c1.id, c2.id], 'unpinned, back in its place');
});

t.test('archived conversations are listed only with archived=true', async (t) => {
  const me = await h.user();
  const a = await directChat(app, me, await h.user());
  const b = await directChat(app, me, await h.user());
  t.equal((await settings(me, a.id, { archived: true })).statusCode, 200);
  t.same(await order(me), [b.id], 'the default list hides the archive');
  t.same(await order(me, 'archived=false'), [b.id]);
  t.same(await order(me, 'archived=true'), [a.id], 'the archive holds only the archived');
  t.equal((await conversation(app, me, a.id)).archived, true);
  const bad = await call(app, 'GET', '/chat?archived=maybe', { token: me.accessToken });
  t.equal(bad.statusCode, 400);
  t.equal(problemOf(t, bad).code, 'VALIDATION_FAILED');
  t.equal((await settings(me, a.id, { archived: false })).statusCode, 200);
  t.same((await order(me)).sort(), [a.id, b.id].sort(), 'unarchived, listed again');
  t.same(await order(me, 'archived=true'), []);
});

t.test('q keeps conversations whose title, member name or username contains it, in any case', async (t) => {
  const k = tag();
  const me = await h.user();
  const zelda = await h.user(`Zelda Q${k}`);
  const marvin = await h.user(`Marvin Z${k}`);
  const hiking = await createGroup(app, me, [], { title: `Hiking Club ${k}` });
  const books = await createGroup(app, me, [marvin], { title: `Book nook ${k}` });
  const withZelda = await directChat(app, me, zelda);

  t.same(await order(me, `q=HIKING`), [hiking.id], 'by group title, case-insensitive');
  t.same(await order(me, `q=iking%20club`), [hiking.id], 'anywhere in the title');
  t.same(await order(me, `q=zelda%20q${k.toUpperCase()}`), [withZelda.id], "by the peer's display name");
  t.same(await order(me, `q=marvin`), [books.id], "by a group member's display name");
  t.same(await order(me, `q=${encodeURIComponent(zelda.username.slice(2).toUpperCase())}`), [withZelda.id], 'by a username');
  t.same((await order(me, `q=${k}`)).sort(), [hiking.id, books.id, withZelda.id].sort(), 'all that contain it');
  t.same(await order(me, `q=nothing${k}`), [], 'no match');
  t.same(await order(marvin, `q=hiking`), [], "someone else's groups are not searched");

  for (const q of ['', 'x'.repeat(101)]) {
    const response = await call(app, 'GET', `/chat?q=${q}`, { token: me.accessToken });
    t.equal(response.statusCode, 400, `q of ${q.length} characters`);
    t.equal(problemOf(t, response).code, 'VALIDATION_FAILED');
  }
});

t.test('cursor pages of 2 cover every conversation once, in order', async (t) => {
  const me = await h.user();
  for (let i = 0; i < 5; i++) await directChat(app, me, await h.user());
  const whole = await order(me);
  t.equal(whole.length, 5);

  const seen: string[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const page: ConversationPage = await inbox(app, me, `limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    t.ok(page.items.length <= 2, 'at most limit items');
    seen.push(...page.items.map((c) => c.id));
    cursor = page.nextCursor;
    pages += 1;
  } while (cursor && pages < 10);
  t.same(seen, whole, 'the same order as one page, each once');
  t.equal(pages, 3);

  for (const [query, code] of [
    ['limit=101', 'VALIDATION_FAILED'],
    ['limit=0', 'VALIDATION_FAILED'],
    ['cursor=bm90LWpzb24', 'INVALID_CURSOR'],
  ] as const) {
    const response = await call(app, 'GET', `/chat?${query}`, { token: me.accessToken });
    t.equal(response.statusCode, 400, query);
    t.equal(problemOf(t, response).code, code);
  }
});

t.test('unreadCount counts the messages of others after your read point; lastMessage is the newest', async (t) => {
  const me = await h.user();
  const [p, q] = [await h.user(), await h.user()];
  const group = await createGroup(app, me, [p, q]);
  for (const body of ['one', 'two', 'three']) await sendText(app, p, group.id, body);
  const mine = await sendText(app, me, group.id, 'mine');
  const last = await sendText(app, q, group.id, 'last');

  const unread = async (who: Account) => {
    const item = (await inbox(app, who)).items.find((c) => c.id === group.id) as ConversationBody;
    t.equal((await conversation(app, who, group.id)).unreadCount, item.unreadCount, 'the list and the conversation agree');
    t.equal(item.lastMessage?.id, last.id, 'the newest message');
    t.equal(item.lastSeq, 5);
    return item.unreadCount;
  };
  t.equal(await unread(me), 1, 'only what came after my own message');
  t.equal(await unread(p), 2, 'my message and the last one');
  t.equal(await unread(q), 0, 'the last sender has read everything');
  t.equal((await conversation(app, me, group.id)).readSeq, mine.seq, 'sending moved my read point');

  const solo = await directChat(app, me, p);
  await sendText(app, me, solo.id, 'a');
  await sendText(app, me, solo.id, 'b');
  t.equal((await conversation(app, me, solo.id)).unreadCount, 0, 'own messages never count');
  t.equal((await conversation(app, p, solo.id)).unreadCount, 2);
  t.equal((await conversation(app, p, solo.id)).lastMessage?.body, 'b');
});

t.test('muting: until unmuted, until a time, and unmuting', async (t) => {
  const me = await h.user();
  const other = await h.user();
  const chat = await directChat(app, me, other);
  const events = await recordEvents(t, app, `user:${me.user.id}`);

  t.equal((await settings(me, chat.id, { muted: true })).statusCode, 200);
  let view = await conversation(app, me, chat.id);
  t.equal(view.muted, true, 'muted');
  t.equal(view.mutedUntil, null, 'until unmuted');
  t.equal((await conversation(app, other, chat.id)).muted, false, 'only for me');
  await eventually(() => events.some((e) => e.type === 'conversation.settings' && e.conversationId === chat.id));
  t.pass('conversation.settings on my own channel');

  const until = new Date(Date.now() + 3_600_000).toISOString();
  t.equal((await settings(me, chat.id, { mutedUntil: until })).statusCode, 200);
  view = await conversation(app, me, chat.id);
  t.equal(view.muted, true, 'muted for an hour');
  t.equal(Date.parse(view.mutedUntil ?? ''), Date.parse(until), 'until the given time');

  for (const [payload, label] of [
    [{}, 'no flag'],
    [{ muted: 'yes' }, 'not a boolean'],
    [{ mutedUntil: 'tomorrow' }, 'not a time'],
    [{ loud: true }, 'an unknown flag'],
  ] as const) {
    const response = await settings(me, chat.id, payload);
    t.equal(response.statusCode, 400, label);
    t.equal(problemOf(t, response).code, 'VALIDATION_FAILED');
  }
  view = await conversation(app, me, chat.id);
  t.equal(Date.parse(view.mutedUntil ?? ''), Date.parse(until), 'unchanged by the refused calls');

  t.equal((await settings(me, chat.id, { muted: true, mutedUntil: null })).statusCode, 200, 'mutedUntil null: until unmuted');
  view = await conversation(app, me, chat.id);
  t.same([view.muted, view.mutedUntil], [true, null]);
  t.equal((await settings(me, chat.id, { muted: false })).statusCode, 200);
  view = await conversation(app, me, chat.id);
  t.equal(view.muted, false, 'unmuted');
  t.equal(view.mutedUntil, null, 'and the time is cleared');
  const outsider = await h.user();
  const peek = await settings(outsider, chat.id, { muted: true });
  t.equal(peek.statusCode, 404, "no flags on someone else's conversation");
  t.equal(problemOf(t, peek).code, 'CONVERSATION_NOT_FOUND');
});

t.test('GET /message/chatprofile/:userId lists the conversations you share with that user', async (t) => {
  const me = await h.user();
  const peer = await h.user();
  const third = await h.user();
  const direct = await directChat(app, me, peer);
  const together = await createGroup(app, me, [peer, third]);
  await createGroup(app, me, [third]);
  await createGroup(app, peer, [third]);
  await directChat(app, me, third);

  const shared = async () =>
    expectStatus<ConversationPage>(await call(app, 'GET', `/message/chatprofile/${peer.user.id}`, { token: me.accessToken }), 200, 'chatprofile')
      .items.map((c) => c.id)
      .sort();
  t.same(await shared(), [direct.id, together.id].sort(), 'the direct chat and the common group only');
  t.equal((await call(app, 'DELETE', `/chat/${together.id}/members/${peer.user.id}`, { token: peer.accessToken })).statusCode, 204);
  t.same(await shared(), [direct.id], 'a group they left is no longer shared');
});
