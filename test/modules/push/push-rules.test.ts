import { sql } from 'drizzle-orm';
import t from 'tap';
import { rowsOf } from '../../../src/db/raw.js';
import { type Account, call, expectStatus } from '../../support/accounts.js';
import { type ConversationBody, createGroup, directChat, inbox, sendText } from '../../support/chat.js';
import { rest } from '../../support/sync-client.js';
import type { BrowserSubscription } from '../../support/web-push-endpoint.js';
import { pushHarness } from './fixtures.js';
import { expectProblem } from '../messages/fixtures.js';

/*
 * Who gets which push, and what it says: per-conversation notify modes and mutes, do not disturb,
 * previews, the badge, collapsing a burst, retracting a deleted message, and the worker's metrics.
 * Pushes go through the web-push library to a push service on loopback that decrypts them; the
 * worker is driven round by round (runOnce), never on its timer.
 */

const { endpoint, app, users, browserOf, drain } = await pushHarness(t);

const pushes = (subscription: BrowserSubscription): Array<Record<string, unknown>> => endpoint.received(subscription).map((r) => ({ ...(subscription.decrypt(r.body) as Record<string, unknown>), topic: r.headers.topic }));
const settings = (who: Account, chat: ConversationBody, patch: Record<string, unknown>) => rest(app, who, 'PATCH', `/chat/${chat.id}/settings`, patch);

t.test('notify modes: all, mentions (mentions of you and replies to you), none; a mute lets only mentions and replies through', async (t) => {
  const [alice, bob, carol, dave, erin] = await users('Alice', 'Bob', 'Carol', 'Dave', 'Erin');
  const group = await createGroup(app, alice, [bob, carol, dave, erin]);
  const devices = new Map<Account, BrowserSubscription>();
  for (const who of [bob, carol, dave, erin]) devices.set(who, await browserOf(who));
  const view = await settings(carol, group, { notify: 'mentions' });
  t.equal(view.notify, 'mentions', 'the conversation resource shows the mode');
  t.equal((await inbox(app, carol)).items.find((c) => c.id === group.id)?.notify, 'mentions', 'and so does GET /chat');
  await settings(dave, group, { notify: 'none' });
  await settings(erin, group, { muted: true });
  const received = () => [bob, carol, dave, erin].map((who) => pushes(devices.get(who)!).length);

  await sendText(app, alice, group.id, 'plain');
  await drain();
  t.same(received(), [1, 0, 0, 0], 'a plain message: only Bob (notify all, not muted)');

  await sendText(app, alice, group.id, 'hey Carol, Dave and Erin', { mentions: [carol.user.id, dave.user.id, erin.user.id] });
  await drain();
  t.same(received(), [2, 1, 0, 1], 'a mention reaches mentions-only Carol and muted Erin, never notify-none Dave');

  const carols = await sendText(app, carol, group.id, 'my question');
  const erins = await sendText(app, erin, group.id, 'mine too');
  await drain();
  const before = received();
  await sendText(app, alice, group.id, 'answer to Carol', { replyToId: carols.id });
  await sendText(app, bob, group.id, 'answer to Erin', { replyToId: erins.id });
  await drain();
  const after = received();
  t.same([after[1]! - before[1]!, after[2]! - before[2]!, after[3]! - before[3]!], [1, 0, 1], 'a reply to your message reaches you through mentions-only and a mute');

  const malformed = await call(app, 'PATCH', `/chat/${group.id}/settings`, { token: bob.accessToken, payload: { notify: 'sometimes' } });
  expectProblem(t, malformed, 400, 'VALIDATION_FAILED', 'an unknown mode');
  t.equal((await inbox(app, bob)).items.find((c) => c.id === group.id)?.notify, 'all', 'unchanged by the refused call');
});

t.test('do not disturb: nothing pushed until it ends; GET/PATCH /users/me/notifications', async (t) => {
  const [alice, bob] = await users('Alice', 'Bob');
  const chat = await directChat(app, alice, bob);
  const bobs = await browserOf(bob);
  const initial = expectStatus<{ dndUntil: string | null; preview: boolean }>(await call(app, 'GET', '/users/me/notifications', { token: bob.accessToken }), 200, 'get');
  t.same(initial, { dndUntil: null, preview: true }, 'off and with previews by default');
  const until = new Date(Date.now() + 3_600_000).toISOString();
  const set = expectStatus<{ dndUntil: string | null }>(await call(app, 'PATCH', '/users/me/notifications', { token: bob.accessToken, payload: { dndUntil: until } }), 200, 'set');
  t.equal(Date.parse(set.dndUntil ?? ''), Date.parse(until), 'until the given time');
  await sendText(app, alice, chat.id, 'while Bob sleeps', { mentions: [bob.user.id] });
  await drain();
  t.equal(pushes(bobs).length, 0, 'nothing, not even a mention');

  for (const [payload, why] of [
    [{ dndUntil: 'tonight' }, 'not a time'],
    [{}, 'an empty patch'],
    [{ dnd: true }, 'an unknown field'],
    [{ preview: 'no' }, 'not a boolean'],
  ] as const) {
    expectProblem(t, await call(app, 'PATCH', '/users/me/notifications', { token: bob.accessToken, payload: payload as Record<string, unknown> }), 400, 'VALIDATION_FAILED', why);
  }
  const unchanged = expectStatus<{ dndUntil: string | null; preview: boolean }>(await call(app, 'GET', '/users/me/notifications', { token: bob.accessToken }), 200, 'get');
  t.same([Date.parse(unchanged.dndUntil ?? ''), unchanged.preview], [Date.parse(until), true], 'unchanged by the refused calls');

  const past = expectStatus<{ dndUntil: string | null }>(await call(app, 'PATCH', '/users/me/notifications', { token: bob.accessToken, payload: { dndUntil: new Date(Date.now() - 1000).toISOString() } }), 200, 'a past time');
  t.equal(past.dndUntil, null, 'a time in the past is off');
  await sendText(app, alice, chat.id, 'good morning');
  await drain();
  t.same(pushes(bobs).map((p) => p.body), ['good morning'], 'pushes again once it ended');
  t.equal((await call(app, 'GET', '/users/me/notifications')).statusCode, 401, 'needs a token');
});

t.test('preview off (the user\'s own setting): the push says only "New message"', async (t) => {
  const [alice, bob] = await users('Alice', 'Bob');
  const chat = await directChat(app, alice, bob);
  const bobs = await browserOf(bob);
  expectStatus(await call(app, 'PATCH', '/users/me/notifications', { token: bob.accessToken, payload: { preview: false } }), 200, 'preview off');
  const message = await sendText(app, alice, chat.id, 'secret words');
  await drain();
  const [push] = pushes(bobs);
  t.same(push, { type: 'message', conversationId: chat.id, seq: message.seq, messageId: message.id, title: 'New message', body: null, badge: 1, topic: push?.topic }, 'no sender, no text');
});

t.test('the badge is the unread total that GET /chat shows, across conversations, after reads and deletes', async (t) => {
  const [alice, bob, carol] = await users('Alice', 'Bob', 'Carol');
  const direct = await directChat(app, alice, bob);
  const group = await createGroup(app, carol, [alice, bob]);
  const bobs = await browserOf(bob);
  const total = async () => (await inbox(app, bob)).items.reduce((sum, c) => sum + c.unreadCount, 0) + (await inbox(app, bob, 'archived=true')).items.reduce((sum, c) => sum + c.unreadCount, 0);
  const lastBadge = () => pushes(bobs).at(-1)?.badge;

  await sendText(app, alice, direct.id, 'one');
  const two = await sendText(app, carol, group.id, 'two');
  await sendText(app, carol, group.id, 'three');
  await drain();
  t.equal(lastBadge(), await total(), 'three unread in two conversations');
  t.equal(lastBadge(), 3);

  await rest(app, bob, 'POST', `/chat/${group.id}/read`, { seq: two.seq });
  await rest(app, bob, 'PATCH', `/chat/${direct.id}/settings`, { archived: true });
  const deleted = await sendText(app, alice, direct.id, 'to be deleted');
  await call(app, 'DELETE', `/message/${deleted.id}?for=everyone`, { token: alice.accessToken });
  await sendText(app, alice, direct.id, 'four');
  await drain();
  t.equal(lastBadge(), await total(), 'after a read, an archive and a delete: still the same number as GET /chat');
  t.equal(lastBadge(), 3, 'one read, one deleted, one new');
});

t.test('a burst in a group is one push (the latest), per device', async (t) => {
  const [alice, bob, carol] = await users('Alice', 'Bob', 'Carol');
  const group = await createGroup(app, alice, [bob, carol]);
  const bobs = await browserOf(bob);
  const last = await (async () => {
    let message;
    for (let i = 0; i < 30; i++) message = await sendText(app, i % 2 ? alice : carol, group.id, `burst ${i}`);
    return message!;
  })();
  await drain();
  const received = pushes(bobs);
  t.same(received.map((p) => p.seq), [last.seq], 'one push, for the last message');
  t.equal(received[0]?.badge, 30, 'whose badge counts the whole burst');
  const rows = rowsOf<{ seq: number; state: string }>(await app.db.execute(sql`select seq::int, state from push_deliveries where user_id = ${bob.user.id}`));
  t.same(rows, [{ seq: last.seq, state: 'sent' }], 'planned in one round, the burst is one delivery row, not thirty');
});

t.test('the latest of a burst deleted before its push went: the one before it goes instead, once', async (t) => {
  const [alice, bob] = await users('Alice', 'Bob');
  const chat = await directChat(app, alice, bob);
  const bobs = await browserOf(bob);
  await sendText(app, alice, chat.id, 'one');
  const two = await sendText(app, alice, chat.id, 'two');
  const three = await sendText(app, alice, chat.id, 'three');
  t.equal(await app.services.push.plan(), 1, 'planned as one push, for the latest');
  expectStatus(await call(app, 'DELETE', `/message/${three.id}?for=everyone`, { token: alice.accessToken }), 204, 'the latest deleted before it is due');
  await drain();
  t.same(pushes(bobs).map((p) => [p.seq, p.body]), [[two.seq, 'two']], 'the message before it is pushed, and nothing else');

  // Everything of the next burst deleted: nothing goes, and nothing older (already shown) comes back.
  const four = await sendText(app, alice, chat.id, 'four');
  const five = await sendText(app, alice, chat.id, 'five');
  await app.services.push.plan();
  for (const message of [five, four]) expectStatus(await call(app, 'DELETE', `/message/${message.id}?for=everyone`, { token: alice.accessToken }), 204, 'deleted');
  await drain();
  t.equal(pushes(bobs).length, 1, 'no push: what was new is gone, and "two" was shown already');

  // Acknowledged on a socket meanwhile: the earlier message is not pushed in the deleted one's place.
  const six = await sendText(app, alice, chat.id, 'six');
  const seven = await sendText(app, alice, chat.id, 'seven');
  await app.services.push.plan();
  await rest(app, bob, 'POST', `/chat/${chat.id}/delivered`, { seq: six.seq });
  expectStatus(await call(app, 'DELETE', `/message/${seven.id}?for=everyone`, { token: alice.accessToken }), 204, 'deleted');
  await drain();
  t.equal(pushes(bobs).length, 1, 'Bob has seen "six": no push for it');
});

t.test('deleted for everyone: a push already shown is retracted (same Topic); one not yet sent never goes', async (t) => {
  const [alice, bob] = await users('Alice', 'Bob');
  const chat = await directChat(app, alice, bob);
  const bobs = await browserOf(bob);
  const shown = await sendText(app, alice, chat.id, 'oops');
  await drain();
  t.equal(pushes(bobs).length, 1, 'shown');
  expectStatus(await call(app, 'DELETE', `/message/${shown.id}?for=everyone`, { token: alice.accessToken }), 204, 'deleted for everyone');
  await drain();
  const [push, retraction] = pushes(bobs);
  t.same(retraction, { type: 'message.deleted', conversationId: chat.id, seq: shown.seq, messageId: shown.id, topic: push?.topic }, 'a retraction, with the Topic of the notification it takes back');
  await drain();
  t.equal(pushes(bobs).length, 2, 'sent once');

  const unsent = await sendText(app, alice, chat.id, 'never mind');
  expectStatus(await call(app, 'DELETE', `/message/${unsent.id}?for=everyone`, { token: alice.accessToken }), 204, 'deleted before its push went');
  await drain();
  t.equal(pushes(bobs).length, 2, 'neither the push nor a retraction');
});

t.test('metrics: deliveries by platform and outcome, and the outbox', async (t) => {
  const [alice, bob] = await users('Alice', 'Bob');
  const chat = await directChat(app, alice, bob);
  await browserOf(bob);
  const scrape = async () => (await app.inject({ method: 'GET', url: '/metrics' })).body;
  const counter = (text: string, outcome: string) => Number(new RegExp(`^push_deliveries_total\\{platform="webpush",outcome="${outcome}"\\} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
  const before = await scrape();
  await sendText(app, alice, chat.id, 'counted');
  t.equal(await app.services.push.plan(), 1, 'planned');
  const waiting = await scrape();
  t.match(waiting, /^push_outbox_depth [1-9]\d*$/m, 'the outbox holds it');
  await app.services.push.sendDue();
  endpoint.answers.push(503);
  await sendText(app, alice, chat.id, 'retried');
  await drain();
  const after = await scrape();
  t.equal(counter(after, 'sent') - counter(before, 'sent'), 1, 'one more sent');
  t.equal(counter(after, 'retry') - counter(before, 'retry'), 1, 'one more retry');
  t.match(after, /^push_outbox_oldest_seconds \d/m, 'the outbox age is exported');
});
