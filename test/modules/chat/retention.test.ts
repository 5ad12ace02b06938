import { count, eq } from 'drizzle-orm';
import t from 'tap';
import { messages } from '../../../src/db/schema.js';
import { problemOf } from '../../helper.js';
import { type Account, call, expectStatus } from '../../support/accounts.js';
import { type ConversationBody, buildChatApp, conversation, createGroup, directChat, eventually, history, inbox, recordEvents, sendText } from '../../support/chat.js';

/*
 * Retention: ephemeral messages take a seq and go out on the bus but are never stored; disappearing
 * ones vanish from every endpoint when they expire and the sweep deletes them; bad settings are 400.
 */

// The periodic sweep is pushed out of the way: the test runs the sweep itself.
const h = await buildChatApp(t, { SWEEP_INTERVAL_SECONDS: '86400' });
const { app } = h;

/** Stored rows of a conversation, read straight from the database. */
async function storedRows(conversationId: string): Promise<number> {
  const [row] = await app.db.select({ n: count() }).from(messages).where(eq(messages.conversationId, conversationId));
  return Number(row?.n ?? 0);
}
/** Test setup: moves a message's expiry into the past instead of waiting it out. */
async function expireNow(messageId: string): Promise<void> {
  await app.db.update(messages).set({ expiresAt: new Date(Date.now() - 1000) }).where(eq(messages.id, messageId));
}
const getMessage = (who: Account, id: string) => call(app, 'GET', `/message/${id}`, { token: who.accessToken });
const patch = (who: Account, id: string, payload: unknown) => call(app, 'PATCH', `/chat/${id}`, { token: who.accessToken, payload });

t.test('ephemeral: the send takes a seq and is published, but nothing is stored', async (t) => {
  const owner = await h.user();
  const member = await h.user();
  const group = await createGroup(app, owner, [member], { retention: { mode: 'ephemeral' } });
  t.same(group.retention, { mode: 'ephemeral', ttlSeconds: null });
  const events = await recordEvents(t, app, `conversation:${group.id}`);

  const first = await sendText(app, owner, group.id, 'now you see me');
  t.equal(first.seq, 1, 'a seq like any message');
  t.equal(first.body, 'now you see me', 'the 201 carries the message');
  const second = await sendText(app, member, group.id, 'and now');
  t.equal(second.seq, 2, 'seqs go on');

  await eventually(() => events.filter((e) => e.type === 'message.created').length === 2);
  t.same(events.filter((e) => e.type === 'message.created').map((e) => e.data?.body), ['now you see me', 'and now'], 'delivered live');
  t.same((await history(app, owner, group.id)).items, [], 'no history for the sender');
  t.same((await history(app, member, group.id)).items, [], 'nor for the other member');
  t.equal(await storedRows(group.id), 0, 'no rows');
  t.equal((await getMessage(owner, first.id)).statusCode, 404, 'not fetchable by id');

  const view = await conversation(app, owner, group.id);
  t.equal(view.lastSeq, 2, 'lastSeq advanced');
  t.equal(view.unreadCount, 0, 'nothing stored, so nothing waits to be read');
  t.equal(view.lastMessage, null, 'no stored last message');
});

t.test('disappearing: messages carry expiresAt, vanish once expired, and the sweep deletes them', async (t) => {
  const owner = await h.user();
  const member = await h.user();
  const group = await createGroup(app, owner, [member], { retention: { mode: 'disappearing', ttlSeconds: 5 } });
  t.same(group.retention, { mode: 'disappearing', ttlSeconds: 5 });

  const doomed = await sendText(app, owner, group.id, 'self-destructs');
  const expiresIn = Date.parse(doomed.expiresAt ?? '') - Date.parse(doomed.createdAt);
  t.ok(Math.abs(expiresIn - 5000) < 1000, `expires 5s after it was sent (${expiresIn}ms)`);
  const survivor = await sendText(app, member, group.id, 'still here');
  t.equal((await getMessage(member, doomed.id)).statusCode, 200, 'visible before it expires');
  t.same((await history(app, member, group.id)).items.map((m) => m.id), [doomed.id, survivor.id]);
  t.equal((await conversation(app, owner, group.id)).unreadCount, 1, "the member's reply is unread for the owner");

  await expireNow(doomed.id);
  t.same((await history(app, member, group.id)).items.map((m) => m.id), [survivor.id], 'gone from history');
  t.same((await history(app, owner, group.id)).items.map((m) => m.id), [survivor.id], 'for the sender too');
  const fetched = await getMessage(owner, doomed.id);
  t.equal(fetched.statusCode, 404, 'gone by id');
  t.equal(problemOf(t, fetched).code, 'MESSAGE_NOT_FOUND');

  await expireNow(survivor.id);
  t.equal((await conversation(app, owner, group.id)).lastMessage, null, 'not shown as the last message');
  t.equal((await conversation(app, owner, group.id)).unreadCount, 0, 'nor counted as unread');
  t.equal((await inbox(app, member)).items.find((c) => c.id === group.id)?.lastMessage, null, 'nor in the inbox');
  t.equal(await storedRows(group.id), 2, 'still stored until the sweep');

  const keep = await sendText(app, owner, group.id, 'fresh');
  await app.services.messages.sweepExpired();
  t.equal(await storedRows(group.id), 1, 'the sweep deleted the expired rows');
  t.same((await history(app, member, group.id)).items.map((m) => m.id), [keep.id], 'and left the unexpired one');
});

t.test('turning retention on applies to messages sent from then on', async (t) => {
  const one = await h.user();
  const two = await h.user();
  const chat = await directChat(app, one, two);
  const before = await sendText(app, one, chat.id, 'kept');
  t.equal(before.expiresAt, null, 'persistent: no expiry');

  const changed = await patch(two, chat.id, { retention: { mode: 'disappearing', ttlSeconds: 60 } });
  t.equal(changed.statusCode, 200, 'either member of a direct chat sets retention');
  t.same((changed.json() as ConversationBody).retention, { mode: 'disappearing', ttlSeconds: 60 });
  t.same((await conversation(app, one, chat.id)).retention, { mode: 'disappearing', ttlSeconds: 60 }, 'for both sides');
  const after = await sendText(app, one, chat.id, 'fleeting');
  const expiresIn = Date.parse(after.expiresAt ?? '') - Date.parse(after.createdAt);
  t.ok(Math.abs(expiresIn - 60_000) < 1000, `expires 60s after (${expiresIn}ms)`);
  const kept = expectStatus<{ expiresAt: string | null }>(await getMessage(one, before.id), 200, 'earlier message');
  t.equal(kept.expiresAt, null, 'the earlier message is untouched');
});

t.test('invalid retention settings are refused and change nothing', async (t) => {
  const owner = await h.user();
  const bad = [
    [{ mode: 'disappearing' }, 'disappearing without ttlSeconds'],
    [{ mode: 'disappearing', ttlSeconds: null }, 'disappearing with a null ttlSeconds'],
    [{ mode: 'disappearing', ttlSeconds: 1 }, 'ttlSeconds below 5'],
    [{ mode: 'disappearing', ttlSeconds: 31_536_001 }, 'ttlSeconds above a year'],
    [{ mode: 'forever' }, 'an unknown mode'],
    [{ mode: 'persistent', keep: true }, 'an unknown field'],
  ] as const;
  for (const [retention, label] of bad) {
    const response = await call(app, 'POST', '/chat/groups', { token: owner.accessToken, payload: { title: 'R', memberIds: [], retention } });
    t.equal(response.statusCode, 400, `create: ${label}`);
    problemOf(t, response);
  }
  t.same((await inbox(app, owner)).items, [], 'no group was created');

  const group = await createGroup(app, owner, []);
  for (const [retention, label] of bad) {
    const response = await patch(owner, group.id, { retention });
    t.equal(response.statusCode, 400, `patch: ${label}`);
  }
  t.same((await conversation(app, owner, group.id)).retention, { mode: 'persistent', ttlSeconds: null }, 'still persistent');
  t.equal((await sendText(app, owner, group.id, 'plain')).expiresAt, null);
});
