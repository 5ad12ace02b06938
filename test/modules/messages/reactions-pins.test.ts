import { randomUUID } from 'node:crypto';
import t from 'tap';
import { type Account, call, expectStatus } from '../../support/accounts.js';
import { type MessageBody, buildChatApp, createGroup, directChat, eventually, history, recordEvents, sendText } from '../../support/chat.js';
import { deleteMessage, expectProblem, getMessage, satelliteRows, sleep } from './fixtures.js';

/*
 * Reactions (PUT/DELETE /message/:id/reactions/:emoji: idempotent, a summary per emoji, at most 10
 * different per user) and pins (POST/DELETE /message/:id/pin, GET /chat/:id/pins), with their events.
 */

const h = await buildChatApp(t);
const { app } = h;

interface ReactionsResult {
  messageId: string;
  reactions: Array<{ emoji: string; count: number }>;
  myReactions: string[];
}
interface PinsList {
  items: Array<{ message: MessageBody; pinnedBy: string | null; pinnedAt: string }>;
}

const THUMB = '👍';
const HEART = '❤️';
const react = (actor: Account, id: string, emoji: string, method: 'PUT' | 'DELETE' = 'PUT') =>
  call(app, method, `/message/${id}/reactions/${encodeURIComponent(emoji)}`, { token: actor.accessToken });
const reacted = async (actor: Account, id: string, emoji: string, method: 'PUT' | 'DELETE' = 'PUT') =>
  expectStatus<ReactionsResult>(await react(actor, id, emoji, method), 200, `${method} ${emoji}`);
const sorted = <T extends { emoji: string }>(list: T[]) => [...list].sort((x, y) => (x.emoji < y.emoji ? -1 : 1));
const pin = (actor: Account, id: string, method: 'POST' | 'DELETE' = 'POST') => call(app, method, `/message/${id}/pin`, { token: actor.accessToken });
const pins = async (actor: Account, conversationId: string) => expectStatus<PinsList>(await call(app, 'GET', `/chat/${conversationId}/pins`, { token: actor.accessToken }), 200, 'pins');

t.test('reactions add up across users, are idempotent and can be removed', async (t) => {
  const [a, b] = [await h.user(), await h.user()];
  const chat = await directChat(app, a, b);
  const sent = await sendText(app, a, chat.id, 'react to me');
  const other = await sendText(app, b, chat.id, 'not me');

  const raw = await call(app, 'PUT', `/message/${sent.id}/reactions/%F0%9F%91%8D`, { token: a.accessToken });
  t.equal(raw.statusCode, 200, 'URL-encoded 👍');
  t.strictSame(raw.json(), { messageId: sent.id, reactions: [{ emoji: THUMB, count: 1 }], myReactions: [THUMB] });
  t.strictSame(await reacted(a, sent.id, THUMB), { messageId: sent.id, reactions: [{ emoji: THUMB, count: 1 }], myReactions: [THUMB] }, 'twice counts once');
  const fromB = await reacted(b, sent.id, THUMB);
  t.strictSame(fromB.reactions, [{ emoji: THUMB, count: 2 }], 'two users');
  t.strictSame(fromB.myReactions, [THUMB], "myReactions are the caller's");
  const heart = await reacted(b, sent.id, HEART);
  t.strictSame(sorted(heart.reactions), sorted([{ emoji: THUMB, count: 2 }, { emoji: HEART, count: 1 }]));
  t.same([...heart.myReactions].sort(), [THUMB, HEART].sort());

  t.strictSame(sorted((await getMessage(app, a, sent.id)).reactions), sorted(heart.reactions), 'the message carries the summary');
  const pageA = await history(app, a, chat.id);
  t.strictSame(pageA.myReactions, { [sent.id]: [THUMB] }, "a's history: a's reactions, only on reacted messages");
  t.same([...(await history(app, b, chat.id)).myReactions[sent.id]!].sort(), [THUMB, HEART].sort(), "b's history: b's reactions");
  t.strictSame(sorted(pageA.items.find((m) => m.id === sent.id)!.reactions), sorted(heart.reactions), 'history items carry the summary');
  t.strictSame((await getMessage(app, a, other.id)).reactions, [], 'other messages untouched');

  const removed = await reacted(a, sent.id, THUMB, 'DELETE');
  t.strictSame(sorted(removed.reactions), sorted([{ emoji: THUMB, count: 1 }, { emoji: HEART, count: 1 }]), 'removed: one 👍 left');
  t.strictSame(removed.myReactions, [], 'none of them mine');
  t.strictSame((await reacted(a, sent.id, THUMB, 'DELETE')).myReactions, [], 'removing twice is fine');
  await reacted(b, sent.id, THUMB, 'DELETE');
  t.strictSame((await reacted(b, sent.id, HEART, 'DELETE')).reactions, [], 'the last one gone: an empty summary');
  t.strictSame((await history(app, b, chat.id)).myReactions, {}, 'nothing in myReactions');
  t.equal((await satelliteRows(app, sent.id)).reactions, 0, 'no rows left');
});

t.test('invalid emoji are refused and stored nowhere', async (t) => {
  const [a, b] = [await h.user(), await h.user()];
  const chat = await directChat(app, a, b);
  const sent = await sendText(app, a, chat.id, 'hi');
  for (const emoji of ['abc', 'a👍', '1', '1\u20E3x', '👍 👍', '😀'.repeat(17)]) {
    t.equal((await react(a, sent.id, emoji)).statusCode, 400, `${JSON.stringify(emoji).slice(0, 12)} is refused`);
  }
  t.strictSame((await getMessage(app, a, sent.id)).reactions, [], 'no reaction stored');
  t.equal((await satelliteRows(app, sent.id)).reactions, 0);
  t.equal((await react(a, sent.id, '😀'.repeat(16))).statusCode, 200, '16 characters are allowed');
  const KEYCAP = '#\uFE0F\u20E3';
  for (const emoji of ['🇫🇷', '👨‍👩‍👧', HEART, '👍🏽', KEYCAP]) t.equal((await react(b, sent.id, emoji)).statusCode, 200, `the sequence ${emoji} is one emoji`);
  t.same([...(await reacted(b, sent.id, THUMB)).myReactions].sort(), ['🇫🇷', '👨‍👩‍👧', HEART, '👍🏽', KEYCAP, THUMB].sort(), 'each sequence kept whole');
});

t.test('at most 10 different reactions per user per message', async (t) => {
  const [a, b] = [await h.user(), await h.user()];
  const chat = await directChat(app, a, b);
  const sent = await sendText(app, a, chat.id, 'so many feelings');
  const emojis = ['😀', '😁', '😂', '😃', '😄', '😅', '😆', '😇', '😈', '😉', '😊'];
  for (const emoji of emojis.slice(0, 10)) await reacted(a, sent.id, emoji);
  expectProblem(t, await react(a, sent.id, emojis[10]!), 409, 'REACTION_LIMIT_REACHED', 'the 11th');
  t.equal((await getMessage(app, a, sent.id)).reactions.length, 10, 'still 10');
  t.equal((await reacted(a, sent.id, emojis[0]!)).myReactions.length, 10, 'repeating one of the 10 is fine');
  t.equal((await reacted(b, sent.id, emojis[10]!)).reactions.length, 11, 'the limit is per user');
  await reacted(a, sent.id, emojis[0]!, 'DELETE');
  t.equal((await reacted(a, sent.id, emojis[10]!)).myReactions.length, 10, 'after removing one, another fits');
});

t.test('concurrent reactions are all counted, and the limit holds under concurrency', async (t) => {
  const owner = await h.user();
  const others = [await h.user(), await h.user(), await h.user(), await h.user(), await h.user()];
  const group = await createGroup(app, owner, others);
  const sent = await sendText(app, owner, group.id, 'everyone at once');
  const together = await Promise.all([owner, ...others].map((u) => react(u, sent.id, THUMB)));
  t.same(together.map((r) => r.statusCode), Array(6).fill(200), 'six users at once');
  t.strictSame((await getMessage(app, owner, sent.id)).reactions, [{ emoji: THUMB, count: 6 }], 'all six counted');
  const repeated = await Promise.all(Array.from({ length: 5 }, () => react(owner, sent.id, HEART)));
  t.same(repeated.map((r) => r.statusCode), Array(5).fill(200), 'the same reaction five times at once');
  t.strictSame(sorted((await getMessage(app, owner, sent.id)).reactions), sorted([{ emoji: THUMB, count: 6 }, { emoji: HEART, count: 1 }]), 'counted once');

  const emojis = ['😀', '😁', '😂', '😃', '😄', '😅', '😆', '😇', '😈', '😉', '😊', '😋'];
  const racing = await Promise.all(emojis.map((emoji) => react(others[0]!, sent.id, emoji)));
  const statuses = racing.map((r) => r.statusCode);
  t.equal(statuses.filter((s) => s === 200).length, 9, `9 more fit next to the 👍 (${statuses.join(',')})`);
  t.equal(statuses.filter((s) => s === 409).length, 3, 'the other 3 are refused');
  t.equal((await history(app, others[0]!, group.id)).myReactions[sent.id]?.length, 10, 'exactly 10 stored');
});

t.test('non-members, unknown and deleted messages', async (t) => {
  const [a, b, outsider] = [await h.user(), await h.user(), await h.user()];
  const chat = await directChat(app, a, b);
  const sent = await sendText(app, a, chat.id, 'members only');
  expectProblem(t, await react(outsider, sent.id, THUMB), 404, 'MESSAGE_NOT_FOUND', 'a non-member reacts');
  expectProblem(t, await react(a, randomUUID(), THUMB), 404, 'MESSAGE_NOT_FOUND', 'no such message');
  expectProblem(t, await pin(outsider, sent.id), 404, 'MESSAGE_NOT_FOUND', 'a non-member pins');
  expectProblem(t, await call(app, 'GET', `/chat/${chat.id}/pins`, { token: outsider.accessToken }), 404, 'CONVERSATION_NOT_FOUND', 'a non-member lists pins');
  t.strictSame(await satelliteRows(app, sent.id), { versions: 0, reactions: 0, pins: 0 }, 'nothing stored');

  expectStatus(await deleteMessage(app, a, sent.id, 'everyone'), 204, 'delete');
  expectProblem(t, await pin(a, sent.id), 409, 'MESSAGE_DELETED', 'pinning a deleted message');
  t.strictSame((await pins(a, chat.id)).items, [], 'no pin');
});

t.test('reaction.updated events', async (t) => {
  const [a, b] = [await h.user(), await h.user()];
  const chat = await directChat(app, a, b);
  const sent = await sendText(app, a, chat.id, 'ping');
  const events = await recordEvents(t, app, `conversation:${chat.id}`);
  await reacted(b, sent.id, THUMB);
  await reacted(b, sent.id, THUMB, 'DELETE');
  await eventually(() => events.filter((e) => e.type === 'reaction.updated').length >= 2);
  const [added, removed] = events.filter((e) => e.type === 'reaction.updated');
  t.equal(added!.conversationId, chat.id);
  t.strictSame(added!.data, { messageId: sent.id, userId: b.user.id, emoji: THUMB, action: 'added', reactions: [{ emoji: THUMB, count: 1 }] });
  t.strictSame(removed!.data, { messageId: sent.id, userId: b.user.id, emoji: THUMB, action: 'removed', reactions: [] });
});

t.test('pins: any member pins and unpins, listed newest pin first, with pin.updated events', async (t) => {
  const [a, b] = [await h.user(), await h.user()];
  const group = await createGroup(app, a, [b]);
  const [m1, m2, m3] = [await sendText(app, a, group.id, 'one'), await sendText(app, b, group.id, 'two'), await sendText(app, a, group.id, 'three')];
  const events = await recordEvents(t, app, `conversation:${group.id}`);
  t.strictSame((await pins(a, group.id)).items, [], 'no pins yet');

  t.equal((await pin(a, m1.id)).statusCode, 204, 'a pins m1');
  await sleep(5);
  t.equal((await pin(b, m3.id)).statusCode, 204, 'b pins m3');
  const listed = (await pins(b, group.id)).items;
  t.same(listed.map((p) => [p.message.id, p.pinnedBy]), [[m3.id, b.user.id], [m1.id, a.user.id]], 'newest pin first, with who pinned');
  t.strictSame(listed[1]!.message, m1, 'the whole message');
  t.ok(Date.parse(listed[0]!.pinnedAt) >= Date.parse(listed[1]!.pinnedAt), 'pinnedAt');

  t.equal((await pin(a, m3.id, 'DELETE')).statusCode, 204, 'a unpins what b pinned');
  t.same((await pins(a, group.id)).items.map((p) => p.message.id), [m1.id], 'm3 is no longer pinned');
  t.equal((await satelliteRows(app, m2.id)).pins, 0, 'm2 never pinned');

  await eventually(() => events.filter((e) => e.type === 'pin.updated').length >= 3);
  t.strictSame(
    events.filter((e) => e.type === 'pin.updated').map((e) => e.data),
    [{ messageId: m1.id, pinned: true, by: a.user.id }, { messageId: m3.id, pinned: true, by: b.user.id }, { messageId: m3.id, pinned: false, by: a.user.id }],
    'pin.updated for each change',
  );

  const before = (await pins(a, group.id)).items.map((p) => [p.message.id, p.pinnedBy, p.pinnedAt]);
  t.equal((await pin(b, m1.id)).statusCode, 204, 'pinning a pinned message again is fine');
  t.same((await pins(a, group.id)).items.map((p) => [p.message.id, p.pinnedBy, p.pinnedAt]), before, 'and keeps the first pin');
  t.equal((await pin(b, m1.id, 'DELETE')).statusCode, 204);
  await eventually(() => events.some((e) => e.type === 'pin.updated' && e.data.pinned === false && e.data.messageId === m1.id));
  t.strictSame(events.filter((e) => e.type === 'pin.updated').slice(3).map((e) => e.data), [{ messageId: m1.id, pinned: false, by: b.user.id }], 'a pin that changed nothing published nothing');
});

t.test('at most 50 pins per conversation, also when pinned at once', async (t) => {
  const [a, b] = [await h.user(), await h.user()];
  const chat = await directChat(app, a, b);
  const sent: MessageBody[] = [];
  for (let i = 0; i < 52; i++) sent.push(await sendText(app, a, chat.id, `pin ${i}`));
  for (const m of sent.slice(0, 47)) expectStatus(await pin(b, m.id), 204, 'pin');
  const racing = await Promise.all(sent.slice(47).map((m, i) => pin(i % 2 ? a : b, m.id)));
  const statuses = racing.map((r) => r.statusCode);
  t.equal(statuses.filter((s) => s === 204).length, 3, `3 of 5 concurrent pins fit (${statuses.join(',')})`);
  const refused = racing.filter((r) => r.statusCode === 409);
  t.equal(refused.length, 2, 'two are refused');
  for (const r of refused) t.equal(r.json().code, 'PIN_LIMIT_REACHED');
  t.equal((await pins(a, chat.id)).items.length, 50, '50 pinned');
  const loser = sent[47 + statuses.indexOf(409)]!;
  expectProblem(t, await pin(a, loser.id), 409, 'PIN_LIMIT_REACHED', 'the 51st, again');
  expectStatus(await pin(a, sent[0]!.id, 'DELETE'), 204, 'unpin one');
  t.equal((await pin(a, loser.id)).statusCode, 204, 'now it fits');
});
