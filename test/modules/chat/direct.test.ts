import { randomUUID } from 'node:crypto';
import t from 'tap';
import { problemOf } from '../../helper.js';
import { type Account, call, expectStatus } from '../../support/accounts.js';
import { type ConversationBody, block, buildChatApp, conversation, directChat, inbox } from '../../support/chat.js';
import { setUserStatus } from '../../support/db.js';

/*
 * POST /chat/direct: one 1:1 conversation per pair, whoever asks and however often; titles and peers
 * from each side's point of view; who may not start one; who may not see one.
 */

const h = await buildChatApp(t);
const { app } = h;

const postDirect = (from: Account, userId: string, extra: Record<string, unknown> = {}) =>
  call(app, 'POST', '/chat/direct', { token: from.accessToken, payload: { userId, ...extra } });

const directIds = async (who: Account) => (await inbox(app, who)).items.filter((c) => c.kind === 'direct').map((c) => c.id);

t.test('the first call creates the chat (201); later calls from either side answer the same one (200)', async (t) => {
  const alice = await h.user('Alice Direct');
  const bob = await h.user('Bob Direct');

  const created = await postDirect(alice, bob.user.id);
  t.equal(created.statusCode, 201, 'created');
  const chat = created.json() as ConversationBody;
  t.equal(chat.kind, 'direct');
  t.equal(chat.memberCount, 2);
  t.equal(chat.lastSeq, 0, 'no messages yet');
  t.equal(chat.lastMessage, null);
  t.equal(chat.unreadCount, 0);
  t.equal(chat.left, false);
  t.same(chat.retention, { mode: 'persistent', ttlSeconds: null }, 'persistent by default');

  const again = await postDirect(alice, bob.user.id);
  t.equal(again.statusCode, 200, 'the same pair again: existing chat');
  t.equal((again.json() as ConversationBody).id, chat.id);
  const reverse = await postDirect(bob, alice.user.id);
  t.equal(reverse.statusCode, 200, 'from the other side: existing chat');
  t.equal((reverse.json() as ConversationBody).id, chat.id);

  t.same(await directIds(alice), [chat.id], 'one chat in the inbox of one side');
  t.same(await directIds(bob), [chat.id], 'and of the other');
});

t.test('concurrent creates from both sides make exactly one conversation', async (t) => {
  const carol = await h.user('Carol Race');
  const dave = await h.user('Dave Race');
  const responses = await Promise.all(
    Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? postDirect(carol, dave.user.id) : postDirect(dave, carol.user.id))),
  );
  const statuses = responses.map((r) => r.statusCode);
  t.ok(statuses.every((s) => s === 200 || s === 201), `only 200 and 201: ${statuses.join(',')}`);
  t.equal(statuses.filter((s) => s === 201).length, 1, 'one of them created it');
  const ids = new Set(responses.map((r) => (r.json() as ConversationBody).id));
  t.equal(ids.size, 1, 'every answer names the same conversation');
  t.same(await directIds(carol), [...ids]);
  t.same(await directIds(dave), [...ids]);
});

t.test('title and peer are the other person, for each side; room names differ per conversation', async (t) => {
  const erin = await h.user('Erin Title');
  const frank = await h.user('Frank Title');
  const grace = await h.user('Grace Title');
  const erinFrank = await directChat(app, erin, frank);
  const erinGrace = await directChat(app, erin, grace);

  const asErin = await conversation(app, erin, erinFrank.id);
  t.equal(asErin.title, 'Frank Title', "Erin sees Frank's name");
  t.equal(asErin.peer?.id, frank.user.id);
  t.equal(asErin.peer?.username, frank.username);
  t.same(Object.keys(asErin.peer ?? {}).sort(), ['about', 'avatarUrl', 'displayName', 'id', 'username'], 'a public profile');
  t.notMatch(JSON.stringify(asErin), /@example\.test/, 'no email addresses');
  const asFrank = await conversation(app, frank, erinFrank.id);
  t.equal(asFrank.title, 'Erin Title', "Frank sees Erin's name");
  t.equal(asFrank.peer?.id, erin.user.id);
  t.same(asErin.membersPreview.map((u) => u.id).sort(), [erin.user.id, frank.user.id].sort(), 'both in the preview');

  t.match(asErin.roomName, /\S/, 'a room name');
  t.equal(asFrank.roomName, asErin.roomName, 'one room for both sides');
  t.not(erinGrace.roomName, erinFrank.roomName, 'another conversation, another room');
  t.equal((await conversation(app, grace, erinGrace.id)).title, 'Erin Title');
});

t.test('a direct chat with yourself or with nobody is refused, and nothing is created', async (t) => {
  const me = await h.user();
  const self = await postDirect(me, me.user.id);
  t.equal(self.statusCode, 400);
  t.equal(problemOf(t, self).code, 'CANNOT_CHAT_WITH_SELF');
  const nobody = await postDirect(me, randomUUID());
  t.equal(nobody.statusCode, 404);
  t.equal(problemOf(t, nobody).code, 'USER_NOT_FOUND');
  const banned = await h.user();
  await setUserStatus(app, banned.user.id, 'banned');
  const toBanned = await postDirect(me, banned.user.id);
  t.equal(toBanned.statusCode, 404, 'a banned user is not found');
  t.equal(problemOf(t, toBanned).code, 'USER_NOT_FOUND');
  t.same(await directIds(me), [], 'the inbox is still empty');
});

t.test('a block either way makes the other person not found', async (t) => {
  const blocker = await h.user();
  const blocked = await h.user();
  await block(app, blocker, blocked);
  for (const [from, to, label] of [
    [blocker, blocked, 'the blocker'],
    [blocked, blocker, 'the blocked'],
  ] as const) {
    const response = await postDirect(from, to.user.id);
    t.equal(response.statusCode, 404, `${label} cannot start one`);
    t.equal(problemOf(t, response).code, 'USER_NOT_FOUND');
  }
  t.same(await directIds(blocker), [], 'nothing created for the blocker');
  t.same(await directIds(blocked), [], 'nor for the blocked');

  const one = await h.user();
  const other = await h.user();
  const existing = await directChat(app, one, other);
  await block(app, other, one);
  const afterBlock = await postDirect(one, other.user.id);
  t.equal(afterBlock.statusCode, 404, 'an existing chat is not handed out once blocked');
  t.equal(problemOf(t, afterBlock).code, 'USER_NOT_FOUND');
  t.equal((await call(app, 'DELETE', `/users/${one.user.id}/block`, { token: other.accessToken })).statusCode, 204);
  const unblocked = await postDirect(one, other.user.id);
  t.equal(unblocked.statusCode, 200, 'after the unblock: the existing one again');
  t.equal((unblocked.json() as ConversationBody).id, existing.id);
});

t.test('only members see a direct chat; malformed ids and unknown fields are refused', async (t) => {
  const one = await h.user();
  const two = await h.user();
  const outsider = await h.user();
  const chat = await directChat(app, one, two);

  const peek = await call(app, 'GET', `/chat/${chat.id}`, { token: outsider.accessToken });
  t.equal(peek.statusCode, 404, 'a non-member gets 404, not 403');
  t.equal(problemOf(t, peek).code, 'CONVERSATION_NOT_FOUND');
  const unknown = await call(app, 'GET', `/chat/${randomUUID()}`, { token: one.accessToken });
  t.equal(unknown.statusCode, 404);
  t.equal(problemOf(t, unknown).code, 'CONVERSATION_NOT_FOUND');
  const malformed = await call(app, 'GET', '/chat/not-a-uuid', { token: one.accessToken });
  t.equal(malformed.statusCode, 400, 'a malformed id');
  t.equal(problemOf(t, malformed).code, 'VALIDATION_FAILED');
  t.equal((await call(app, 'GET', `/chat/${chat.id}`)).statusCode, 401, 'a token is needed');
  t.equal((await call(app, 'POST', '/chat/direct', { payload: { userId: two.user.id } })).statusCode, 401);

  const third = await h.user();
  const extra = await postDirect(one, third.user.id, { title: 'mine' });
  t.equal(extra.statusCode, 400, 'an unknown body field');
  t.equal(problemOf(t, extra).code, 'VALIDATION_FAILED');
  const notUuid = await call(app, 'POST', '/chat/direct', { token: one.accessToken, payload: { userId: 'bob' } });
  t.equal(notUuid.statusCode, 400);
  t.equal(problemOf(t, notUuid).code, 'VALIDATION_FAILED');
  const missing = await call(app, 'POST', '/chat/direct', { token: one.accessToken, payload: {} });
  t.equal(missing.statusCode, 400);
  t.equal(problemOf(t, missing).code, 'VALIDATION_FAILED');
  t.same(await directIds(one), [chat.id], 'no chat with the third person was made');
  t.same(await directIds(third), []);
  expectStatus(await call(app, 'GET', `/chat/${chat.id}`, { token: two.accessToken }), 200, 'members still see it');
});
