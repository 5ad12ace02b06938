import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'drizzle-orm';
import t from 'tap';
import type { App } from '../../../src/app.js';
import { rowsOf } from '../../../src/db/raw.js';
import { type WaitingSnapshot, planTarget } from '../../../src/modules/push/push.repository.js';
import { type Account, call, expectStatus } from '../../support/accounts.js';
import { createGroup, directChat, sendText } from '../../support/chat.js';
import { rest } from '../../support/sync-client.js';
import { type BrowserSubscription, startWebPushEndpoint } from '../../support/web-push-endpoint.js';
import { buildCluster } from '../realtime/cluster-support.js';

/*
 * The grace period, where it is decided: a plan round moves the push cursor only to a snapshot that
 * is PUSH_GRACE_MS old, so a recipient who acknowledges within the grace never gets a delivery row,
 * and one who does not gets their push once it has passed. The waiting snapshots live in the cursor
 * row: an instance that took them may die, and the other plans from them. planTarget (the pure
 * rule) is tried on its own with chosen clocks; the rest runs on two instances and the database's
 * own clock, so the grace is a short real one.
 */

t.test('planTarget: without a grace the snapshot of the round at once', async (t) => {
  const taken = { snapshot: 's9', at: 9_000 };
  t.same(planTarget([{ snapshot: 's1', at: 1_000 }], taken, 0), { target: 's9', waiting: [] }, 'and older waiting ones are dropped: they see less');
});

t.test('planTarget: moves through the snapshots in the order taken, each once it is grace old, keeping few', async (t) => {
  const grace = 1_000;
  let waiting: WaitingSnapshot[] = [];
  const targets: Array<{ snapshot: string; takenAt: number; plannedAt: number }> = [];
  const takenAt = new Map<string, number>();
  let most = 0;
  for (let at = 0; at <= 5_000; at += 10) {
    const snapshot = `s${at}`;
    takenAt.set(snapshot, at);
    const round = planTarget(waiting, { snapshot, at }, grace);
    waiting = round.waiting;
    most = Math.max(most, waiting.length);
    if (round.target !== null) targets.push({ snapshot: round.target, takenAt: takenAt.get(round.target)!, plannedAt: at });
  }
  t.ok(targets.length > 0, 'it plans');
  t.ok(targets.every((x) => x.plannedAt - x.takenAt >= grace), 'never a snapshot younger than the grace');
  t.ok(targets.every((x, i) => i === 0 || x.takenAt > targets[i - 1]!.takenAt), 'always forward');
  t.ok(most <= 17, `at most grace/16 apart, so few wait (most: ${most})`);
  // Every moment is covered: a message committed at time c is in the first snapshot taken after it, planned by then + grace + a round's spacing.
  const gaps = targets.map((x, i) => (i === 0 ? x.takenAt : x.takenAt - targets[i - 1]!.takenAt));
  t.ok(Math.max(...gaps) <= grace / 16 + 10, 'consecutive targets are close: a message waits about the grace, not twice it');
});

t.test('planTarget: a clock that steps back by an hour delays planning by one grace at most, not by the hour', async (t) => {
  const grace = 3_000;
  const hour = 3_600_000;
  let waiting: WaitingSnapshot[] = [];
  for (let at = hour; at <= hour + 10_000; at += 1_000) waiting = planTarget(waiting, { snapshot: `fast${at}`, at }, grace).waiting;
  const targets: Array<{ at: number; target: string }> = [];
  for (let at = 11_000; at <= 30_000; at += 1_000) {
    const round = planTarget(waiting, { snapshot: `s${at}`, at }, grace);
    waiting = round.waiting;
    if (round.target !== null) targets.push({ at, target: round.target });
  }
  t.ok(targets.length > 0 && targets[0]!.at <= 11_000 + grace, `the cursor moves again within a grace of the step (first at ${targets[0]?.at})`);
  t.ok(targets.some((x) => x.target.startsWith('s')), 'and reaches the snapshots taken after it');
  t.ok(waiting.length <= 17, 'still few waiting');
});

t.test('planTarget: a clock that steps back never moves the cursor back', async (t) => {
  const waiting: WaitingSnapshot[] = [
    { snapshot: 'a', at: 5_000 },
    { snapshot: 'b', at: 1_000 }, // taken later than `a`, by a clock stepped back
  ];
  const round = planTarget(waiting, { snapshot: 'c', at: 5_500 }, 1_000);
  t.equal(round.target, 'b', 'the later of the ripe ones, by position');
  t.same(round.waiting.map((w) => w.snapshot), ['c'], '`a`, taken before `b`, is gone with it');
});

const GRACE_MS = 300;
const endpoint = await startWebPushEndpoint(t);
const env = { WEB_PUSH_ALLOW_PRIVATE: 'true', PUSH_GRACE_MS: String(GRACE_MS), PUSH_POLL_MS: '60000' };
const c = await buildCluster(t, { envA: env, envB: env });
const { a, b } = c;

async function browserOf(app: App, account: Account): Promise<BrowserSubscription> {
  const subscription = endpoint.subscribe();
  expectStatus(await call(app, 'POST', '/push/devices', { token: account.accessToken, payload: { platform: 'webpush', subscription: subscription.json } }), 201, 'register');
  return subscription;
}

const rowsFor = async (messageIds: string[]) =>
  rowsOf<{ message_id: string; user_id: string; state: string }>(
    await a.db.execute(sql`select message_id, user_id, state from push_deliveries where message_id = any(${`{${messageIds.join(',')}}`}::uuid[]) order by user_id`),
  );
/** Past the grace of every snapshot taken until now (the database's clock is this machine's). */
const graceOver = () => sleep(GRACE_MS + 50);

t.test('acknowledged within the grace: never a row; not acknowledged: one push once it passed, even when the instance that waited died', async (t) => {
  const [alice, bob, carol] = [await c.user('Alice'), await c.user('Bob'), await c.user('Carol')];
  const group = await createGroup(a, alice, [bob, carol]);
  const bobs = await browserOf(a, bob);
  const carols = await browserOf(b, carol);
  const first = await sendText(a, alice, group.id, 'first');

  t.equal((await a.services.push.runOnce()).planned, 0, 'a round right after the send plans nothing: the message is not grace old');
  t.same(await rowsFor([first.id]), [], 'and writes no row for it');
  await rest(b, bob, 'POST', `/chat/${group.id}/delivered`, { seq: first.seq });
  const second = await sendText(a, alice, group.id, 'second'); // after A's round took its snapshot

  await graceOver();
  // B plans from the snapshot A's round left waiting: what an instance took survives it.
  const round = await b.services.push.runOnce();
  t.equal(round.planned, 1, 'once the grace passed, the first message is planned for Carol alone');
  t.same((await rowsFor([first.id])).map((r) => [r.user_id, r.state]), [[carol.user.id, 'sent']], 'Bob acknowledged in time: no row for him, ever');
  t.same(endpoint.received(carols).map((r) => (carols.decrypt(r.body) as { body: string }).body), ['Alice: first'], 'Carol got it');
  t.same(await rowsFor([second.id]), [], 'the second message, sent after that snapshot, waits for a later one');

  await rest(a, bob, 'POST', `/chat/${group.id}/delivered`, { seq: second.seq });
  await graceOver();
  const later = await a.services.push.runOnce(); // from the snapshot B's round took, which sees the second message
  t.equal(later.planned, 1, 'then the second one, for Carol');
  t.same(endpoint.received(carols).map((r) => (carols.decrypt(r.body) as { body: string }).body), ['Alice: first', 'Alice: second'], 'each message pushed once');
  t.equal(endpoint.received(bobs).length, 0, 'Bob, who acknowledged both in time, got nothing');

  await graceOver();
  const rounds = [await a.services.push.runOnce(), await b.services.push.runOnce()];
  t.same(rounds.map((r) => r.planned), [0, 0], 'nothing is planned twice');
  t.equal(endpoint.received(carols).length, 2, 'nor sent twice');
});

t.test('a database clock that stepped back (the last rounds ran on a clock an hour fast): planning goes on within a grace', async (t) => {
  const [alice, bob] = [await c.user('Alice'), await c.user('Bob')];
  const chat = await directChat(a, alice, bob);
  const bobs = await browserOf(a, bob);
  await a.services.push.runOnce();
  // What rounds leave in the cursor row while clock_timestamp() runs an hour ahead.
  await a.db.execute(sql`update push_cursor set waiting = jsonb_build_array(jsonb_build_object('snapshot', pg_current_snapshot()::text, 'at', extract(epoch from clock_timestamp()) * 1000 + 3600000))`);
  await sendText(a, alice, chat.id, 'after the clock was fixed');
  let planned = 0;
  for (let round = 0; round < 4 && planned === 0; round++) {
    await graceOver();
    planned += (await a.services.push.runOnce()).planned;
  }
  t.equal(planned, 1, 'planned within a few graces, not an hour');
  t.equal(endpoint.received(bobs).length, 1, 'and pushed');
});
