import { sql } from 'drizzle-orm';
import t from 'tap';
import { rowsOf } from '../../../src/db/raw.js';
import { type Account, call, expectStatus } from '../../support/accounts.js';
import { createGroup, directChat, sendText } from '../../support/chat.js';
import { rest } from '../../support/sync-client.js';
import type { BrowserSubscription } from '../../support/web-push-endpoint.js';
import { pushHarness } from './fixtures.js';

/*
 * A plan round turns a burst (new messages of one conversation to one recipient) into one push row,
 * for its latest message, that stands for the whole burst; when the row is claimed it shows the
 * latest message of the burst still to be shown. Here that rule is attacked where a burst changes
 * between the round and the claim (a busy pump, a retry's backoff): deletes, mutes, clears, the
 * sweeper, do not disturb. plan() is called on its own to open that window; drain() claims and sends.
 */

const { endpoint, app, users, browserOf, drain } = await pushHarness(t);

const shown = (s: BrowserSubscription) => endpoint.received(s).map((r) => s.decrypt(r.body) as { type: string; body?: string; messageId: string; seq: number });
const bodies = (s: BrowserSubscription) => shown(s).map((p) => p.body);
const deleteForEveryone = async (who: Account, id: string) => expectStatus(await call(app, 'DELETE', `/message/${id}?for=everyone`, { token: who.accessToken }), 204, 'deleted for everyone');

t.test('the latest two of a burst deleted, latest first: the one before them goes, with its own id and seq', async (t) => {
  const [alice, bob] = await users('Alice', 'Bob');
  const chat = await directChat(app, alice, bob);
  const bobs = await browserOf(bob);
  const one = await sendText(app, alice, chat.id, 'one');
  const two = await sendText(app, alice, chat.id, 'two');
  const three = await sendText(app, alice, chat.id, 'three');
  t.equal(await app.services.push.plan(), 1, 'one row for the burst');
  await deleteForEveryone(alice, three.id);
  await deleteForEveryone(alice, two.id);
  await drain();
  t.same(shown(bobs).map((p) => [p.body, p.messageId, p.seq]), [['one', one.id, one.seq]], '"one", still there and unacknowledged');
  // Deleting what the push showed takes it back; the push row is keyed by "three", which it did not show.
  await deleteForEveryone(alice, one.id);
  await drain();
  t.same(shown(bobs).map((p) => [p.type, p.messageId]), [['message', one.id], ['message.deleted', one.id]], 'the notification of "one" is retracted');
});

t.test('a mention in a burst reaches a member who mutes the chat after the round, even when the latest mention is deleted', async (t) => {
  const [alice, bob] = await users('Alice', 'Bob');
  const chat = await directChat(app, alice, bob);
  const bobs = await browserOf(bob);
  await sendText(app, alice, chat.id, 'hey Bob (1)', { mentions: [bob.user.id] });
  const second = await sendText(app, alice, chat.id, 'hey Bob (2)', { mentions: [bob.user.id] });
  await sendText(app, alice, chat.id, 'plain');
  t.equal(await app.services.push.plan(), 1, 'one row for the burst (its latest is the plain message)');
  await rest(app, bob, 'PATCH', `/chat/${chat.id}/settings`, { muted: true }); // mentions only from now on
  await deleteForEveryone(alice, second.id);
  await drain();
  t.same(bodies(bobs), ['hey Bob (1)'], 'the plain message is not wanted any more, the second mention is gone: the first mention goes');
});

t.test('a push never reaches outside its burst: not after the sweeper forgot older rows, not to what do not disturb held back', async (t) => {
  const [alice, bob] = await users('Alice', 'Bob');
  const chat = await directChat(app, alice, bob);
  const bobs = await browserOf(bob);
  await sendText(app, alice, chat.id, 'yesterday');
  await drain();
  t.same(bodies(bobs), ['yesterday'], 'pushed (Bob never opened the app)');
  await app.db.execute(sql`update push_deliveries set created_at = now() - interval '2 days' where user_id = ${bob.user.id}`);
  t.ok((await app.services.push.sweepSettled()) >= 1, 'the sweeper forgot the settled row');
  const today = await sendText(app, alice, chat.id, 'today');
  await app.services.push.plan();
  await deleteForEveryone(alice, today.id);
  await drain();
  t.same(bodies(bobs), ['yesterday'], '"yesterday" is not pushed again');

  expectStatus(await call(app, 'PATCH', '/users/me/notifications', { token: bob.accessToken, payload: { dndUntil: new Date(Date.now() + 3_600_000).toISOString() } }), 200, 'do not disturb');
  await sendText(app, alice, chat.id, 'sent at night');
  await drain();
  expectStatus(await call(app, 'PATCH', '/users/me/notifications', { token: bob.accessToken, payload: { dndUntil: null } }), 200, 'do not disturb ends');
  const morning = await sendText(app, alice, chat.id, 'morning, oops');
  await app.services.push.plan();
  await deleteForEveryone(alice, morning.id);
  await drain();
  t.same(bodies(bobs), ['yesterday'], 'what do not disturb held back is not pushed in a deleted message\'s place');
});

t.test('what a member cleared, hid or no longer wants is never what a burst shows', async (t) => {
  const [alice, bob, carol] = await users('Alice', 'Bob', 'Carol');
  const chat = await directChat(app, alice, bob);
  const bobs = await browserOf(bob);
  await sendText(app, alice, chat.id, 'cleared secret');
  const hidden = await sendText(app, alice, chat.id, 'hidden secret');
  const latest = await sendText(app, alice, chat.id, 'latest');
  await app.services.push.plan();
  expectStatus(await call(app, 'DELETE', `/message/${hidden.id}?for=me`, { token: bob.accessToken }), 204, 'Bob deletes one for himself');
  await deleteForEveryone(alice, latest.id);
  expectStatus(await call(app, 'POST', `/chat/${chat.id}/clear`, { token: bob.accessToken }), 204, 'Bob clears his history');
  await drain();
  t.same(bodies(bobs), [], 'nothing: one cleared, one hidden, one deleted');

  const group = await directChat(app, carol, bob);
  await sendText(app, carol, group.id, 'from Carol');
  const last = await sendText(app, carol, group.id, 'and again');
  await app.services.push.plan();
  await rest(app, bob, 'POST', `/users/${carol.user.id}/block`);
  await deleteForEveryone(carol, last.id);
  await drain();
  t.same(bodies(bobs), [], 'nor what someone Bob blocked since sent');
  const [row] = rowsOf<{ state: string; last_error: string }>(await app.db.execute(sql`select state, last_error from push_deliveries where message_id = ${last.id}`));
  t.same(row, { state: 'skipped', last_error: 'deleted' }, 'the row is settled as skipped, with why');
});

t.test('across rounds, an earlier push collapses into a later one only if the later burst has something to show', async (t) => {
  const [alice, bob, carol] = await users('Alice', 'Bob', 'Carol');
  const group = await createGroup(app, alice, [bob, carol], { title: 'G' });
  const bobs = await browserOf(bob);
  await sendText(app, alice, group.id, 'from Alice');
  await app.services.push.plan(); // round 1 (its push held up: a backlog, a retry)
  await sendText(app, carol, group.id, 'spam 1');
  await sendText(app, carol, group.id, 'spam 2');
  await app.services.push.plan(); // round 2: Carol's burst
  await rest(app, bob, 'POST', `/users/${carol.user.id}/block`);
  await drain();
  t.same(bodies(bobs), ['Alice: from Alice'], "all of the later burst is from someone Bob blocks: Alice's message goes");

  const chat = await directChat(app, alice, bob);
  const direct = await browserOf(bob);
  await sendText(app, alice, chat.id, 'important');
  await app.services.push.plan();
  const oops = await sendText(app, alice, chat.id, 'oops');
  await app.services.push.plan();
  expectStatus(await call(app, 'DELETE', `/message/${oops.id}?for=me`, { token: bob.accessToken }), 204, 'Bob deletes "oops" for himself');
  await drain();
  t.same(bodies(direct).filter((b) => b === 'important' || b === 'oops'), ['important'], 'the later burst is hidden: "important" goes');

  const again = await directChat(app, carol, alice);
  const alices = await browserOf(alice);
  await sendText(app, carol, again.id, 'Alice (1)', { mentions: [alice.user.id] });
  await app.services.push.plan();
  await sendText(app, carol, again.id, 'Alice (2)', { mentions: [alice.user.id] });
  await sendText(app, carol, again.id, 'plain');
  await app.services.push.plan();
  await rest(app, alice, 'PATCH', `/chat/${again.id}/settings`, { notify: 'mentions' });
  await drain();
  t.same(bodies(alices), ['Alice (2)'], 'the later burst shows its mention: the earlier mention collapses into it, one push');
});
