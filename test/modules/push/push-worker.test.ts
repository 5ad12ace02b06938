import { sql } from 'drizzle-orm';
import t from 'tap';
import { rowsOf } from '../../../src/db/raw.js';
import { createPushRepository, type DueDelivery } from '../../../src/modules/push/push.repository.js';
import { backoffMs } from '../../../src/modules/push/push.service.js';
import { type Handled, createPushWorker } from '../../../src/modules/push/push.worker.js';
import { type Account, call, expectStatus, registerAndVerify } from '../../support/accounts.js';
import { buildAuthApp } from '../../support/auth-app.js';
import { directChat, sendText } from '../../support/chat.js';

/*
 * The push worker's own guarantees, on the real outbox: a claim's outcome is recorded only under
 * that claim (a worker that outlived its lease changes nothing), a send longer than the lease keeps
 * it, a burst collapses across claims, and a provider that hangs holds only its own slots (other
 * platforms, planning and later claims go on). Sends are a controlled function, so each interleaving
 * is chosen; the database is real.
 */

const { app, mailbox } = await buildAuthApp(t, { env: { AUTH_LOGIN_OTP: 'false', WEB_PUSH_ALLOW_PRIVATE: 'true', PUSH_GRACE_MS: '0', PUSH_POLL_MS: '60000' } });
const repository = createPushRepository(app.db);
const user = (displayName: string) => registerAndVerify(app, mailbox, { displayName });
const quiet = { warn: () => {} };
/** Renewed every third of it: long enough that a loaded machine's pauses do not let it run out. */
const LEASE_MS = 1200;

/** A browser device of `account` (its endpoint is never called here: sends are the test's function). */
async function deviceOf(account: Account, platform: 'webpush' | 'fcm' = 'webpush'): Promise<string> {
  const device = expectStatus<{ id: string }>(
    await call(app, 'POST', '/push/devices', {
      token: account.accessToken,
      payload: { platform: 'webpush', subscription: { endpoint: `https://push.example.com/${crypto.randomUUID()}`, keys: { p256dh: 'BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM', auth: 'tBHItJI5svbpez7KI4CCXg' } } },
    }),
    201,
    'register',
  );
  if (platform === 'webpush') return device.id;
  // Instead an Android phone of the same session (this app has no FCM provider: the worker's sends are the test's).
  const [row] = rowsOf<{ id: string }>(
    await app.db.execute(sql`insert into push_devices (id, user_id, session_id, platform, token) select ${crypto.randomUUID()}, user_id, session_id, 'fcm', ${crypto.randomUUID()} from push_devices where id = ${device.id} returning id`),
  );
  await app.db.execute(sql`delete from push_devices where id = ${device.id}`);
  return row!.id;
}

const pending = async (deviceId: string) =>
  rowsOf<{ state: string; claim: string | null; seq: number }>(await app.db.execute(sql`select state, claim, seq::int from push_deliveries where device_id = ${deviceId} order by seq`));

/** Nothing of earlier tests left due (their devices' endpoints are not reachable from here). */
const settleEarlierTests = () => app.db.execute(sql`update push_deliveries set state = 'skipped', claim = null where state = 'pending'`);

async function until(what: string, done: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

t.test('an outcome is recorded only under its claim: a worker that outlived its lease changes nothing', async (t) => {
  const [alice, bob] = [await user('Alice'), await user('Bob')];
  const chat = await directChat(app, alice, bob);
  const device = await deviceOf(bob);
  await sendText(app, alice, chat.id, 'hello');
  await app.services.push.plan();

  const [first] = await repository.claimDue('webpush', 10, 60_000, crypto.randomUUID());
  t.ok(first, 'claimed');
  // The first worker stalls past its lease (arranged: the lease is moved into the past).
  await app.db.execute(sql`update push_deliveries set claimed_until = now() - interval '1 second' where device_id = ${device}`);
  const [second] = await repository.claimDue('webpush', 10, 60_000, crypto.randomUUID());
  t.equal(second?.messageId, first!.messageId, 'another worker claims it once the lease is over');

  await repository.renew([first!.claim], 60_000);
  await repository.settle([{ ...first!, state: 'failed', error: 'late' }]);
  t.same(await pending(device), [{ state: 'pending', claim: second!.claim, seq: first!.message.seq }], "the stale worker's renewal and outcome change nothing");

  // A provider's error text with what Postgres text and jsonb refuse (NUL, a lone surrogate), over-long.
  await repository.settle([{ ...second!, state: 'failed', error: `gone\u0000 \ud800 ${'x'.repeat(5000)}` }]);
  t.same((await pending(device)).map((r) => [r.state, r.claim]), [['failed', null]], "the holder's outcome is recorded");
  const [stored] = rowsOf<{ last_error: string }>(await app.db.execute(sql`select last_error from push_deliveries where device_id = ${device}`));
  t.ok(stored!.last_error.startsWith('gone \ufffd x') && stored!.last_error.length <= 500, 'with its error text made storable');
});

t.test('a burst collapses across claims: of the pushes due to one device from one conversation, only the latest goes', async (t) => {
  const [alice, bob] = [await user('Alice'), await user('Bob')];
  const chat = await directChat(app, alice, bob);
  await deviceOf(bob);
  const sent = [];
  // A plan round each: one round keeps only the latest of what it finds (push-rules.test.ts).
  for (let i = 0; i < 3; i++) {
    sent.push(await sendText(app, alice, chat.id, `burst ${i}`));
    await app.services.push.plan();
  }
  const skips = [];
  for (let i = 0; i < 3; i++) {
    const [delivery] = await repository.claimDue('webpush', 1, 60_000, crypto.randomUUID());
    skips.push([delivery?.message.seq, delivery?.skip]);
  }
  t.same(
    skips,
    sent.map((m, i) => [m.seq, i < 2 ? 'collapsed into a later push' : null]),
    'claimed one at a time, earliest first: the earlier two are skipped, the last is sent',
  );
});

t.test('collapse never hides a push behind one that will not be shown, nor shows an older one over a newer', async (t) => {
  const [alice, bob] = [await user('Alice'), await user('Bob')];
  const chat = await directChat(app, alice, bob);
  const device = await deviceOf(bob);
  const claimOne = async () => (await repository.claimDue('webpush', 1, 60_000, crypto.randomUUID()))[0]!;

  // Bob switches to mentions only before they are due: a mention followed by a plain message is not collapsed into the plain one.
  // Two rounds, two rows (within one round they are one burst: push-bursts.test.ts).
  await sendText(app, alice, chat.id, 'Bob, look', { mentions: [bob.user.id] });
  await app.services.push.plan();
  await sendText(app, alice, chat.id, 'plain');
  await app.services.push.plan();
  expectStatus(await call(app, 'PATCH', `/chat/${chat.id}/settings`, { token: bob.accessToken, payload: { notify: 'mentions' } }), 200, 'mentions only');
  const [mention, plain] = [await claimOne(), await claimOne()];
  t.same([mention.skip, plain.skip], [null, 'not wanted (mute, notify setting or do not disturb)'], 'the mention goes; the unwanted later message does not swallow it');
  await repository.settle([{ ...mention, state: 'sent', error: null }]); // the plain one was settled by its claim

  // An earlier push back from a retry after a later one was shown: it would replace the newer notification.
  expectStatus(await call(app, 'PATCH', `/chat/${chat.id}/settings`, { token: bob.accessToken, payload: { notify: 'all' } }), 200, 'all again');
  await sendText(app, alice, chat.id, 'first');
  await app.services.push.plan();
  const first = await claimOne();
  await repository.settle([{ ...first, state: 'retry', error: '503', retryAt: new Date(Date.now() + 60_000) }]);
  await sendText(app, alice, chat.id, 'second');
  await app.services.push.plan();
  const second = await claimOne();
  t.equal(second.skip, null, 'the later message goes while the earlier one waits for its retry');
  await repository.settle([{ ...second, state: 'sent', error: null }]);
  await app.db.execute(sql`update push_deliveries set send_after = now() where device_id = ${device} and message_id = ${first.messageId}`);
  t.equal((await claimOne()).skip, 'collapsed into a later push', 'the retry of the earlier one is skipped: the later one is shown');
});

t.test('deleted for everyone while its push is in flight: the retraction waits for that send to end', async (t) => {
  const [alice, bob] = [await user('Alice'), await user('Bob')];
  const chat = await directChat(app, alice, bob);
  await deviceOf(bob);
  const message = await sendText(app, alice, chat.id, 'oops');
  await app.services.push.plan();
  const [inFlight] = await repository.claimDue('webpush', 10, 60_000, crypto.randomUUID());
  expectStatus(await call(app, 'DELETE', `/message/${message.id}?for=everyone`, { token: alice.accessToken }), 204, 'deleted for everyone');
  t.same(await repository.claimDue('webpush', 10, 60_000, crypto.randomUUID()), [], 'the retraction is not claimed while the push it takes back is being sent');
  await repository.settle([{ ...inFlight!, state: 'sent', error: null }]);
  const [retraction] = await repository.claimDue('webpush', 10, 60_000, crypto.randomUUID());
  t.same([retraction?.kind, retraction?.messageId, retraction?.skip], ['retract', message.id, null], 'the send ended: the retraction is due at once');
});

/** A worker with `concurrency` slots whose sends to device `hangOn` hang until released; the deliveries it sent are listed. */
function slowWorker(hangOn: string, concurrency = 1) {
  const hung: Array<() => void> = [];
  const handled: DueDelivery[] = [];
  const worker = createPushWorker({
    repository,
    async handle(delivery: DueDelivery): Promise<Handled> {
      if (delivery.deviceId === hangOn) await new Promise<void>((resolve) => hung.push(resolve));
      handled.push(delivery);
      return { outcome: 'sent', settlement: { ...delivery, state: 'sent', error: null } };
    },
    badges: async () => new Map(),
    observe: () => {},
    plan: () => app.services.push.plan(),
    config: { pollMs: 20, leaseMs: LEASE_MS, concurrency },
    log: quiet,
  });
  return { worker, hung, handled, release: () => hung.splice(0).forEach((resolve) => resolve()) };
}

t.test('a provider that hangs holds only its own slots: other platforms, new messages and the rest of its outbox go on', async (t) => {
  const [alice, bob, carol, dave] = [await user('Alice'), await user('Bob'), await user('Carol'), await user('Dave')];
  const [toBob, toCarol, toDave] = [await directChat(app, alice, bob), await directChat(app, alice, carol), await directChat(app, alice, dave)];
  const [bobsBrowser, carolsPhone, davesBrowser] = [await deviceOf(bob), await deviceOf(carol, 'fcm'), await deviceOf(dave)];
  await settleEarlierTests();

  const { worker, hung, handled, release } = slowWorker(bobsBrowser, 2);
  worker.start();
  t.teardown(() => {
    release();
    return worker.stop();
  });

  await sendText(app, alice, toBob.id, 'to the hanging provider');
  await until('the push to Bob to hang', () => hung.length === 1);
  await sendText(app, alice, toCarol.id, 'to an Android phone');
  await sendText(app, alice, toDave.id, 'to another browser');
  await until('the pushes to Carol and Dave', () => handled.length >= 2);
  t.same(handled.map((d) => [d.deviceId, d.device.platform]).sort(), [[carolsPhone, 'fcm'], [davesBrowser, 'webpush']].sort(), "another platform's and the same platform's next push went while Bob's hangs");

  // Bob's send outlasts its lease twice over: renewed, nobody else claims it.
  await new Promise((resolve) => setTimeout(resolve, 2 * LEASE_MS + 200));
  t.same(await repository.claimDue('webpush', 10, 60_000, crypto.randomUUID()), [], 'another worker finds nothing to claim while the send runs');
  release();
  await until("Bob's push recorded", async () => (await pending(bobsBrowser)).every((r) => r.state === 'sent'));
  t.same([...(await pending(carolsPhone)), ...(await pending(davesBrowser))].map((r) => r.state), ['sent', 'sent'], 'all recorded as sent');
  t.equal(handled.filter((d) => d.deviceId === bobsBrowser).length, 1, "Bob's push was sent once");
});

t.test('planning keeps the messages index summarized: a round reads what is new, not every message since the last vacuum', async (t) => {
  const [alice, bob] = [await user('Alice'), await user('Bob')];
  const chat = await directChat(app, alice, bob);
  await deviceOf(bob);
  for (let i = 0; i < 3; i++) await sendText(app, alice, chat.id, `m${i}`);
  t.ok((await app.services.push.plan()) >= 1, 'planned (the burst as one push)');
  const [left] = rowsOf<{ n: number }>(await app.db.execute(sql`select brin_summarize_new_values('messages_xid_brin_idx')::int as n`));
  t.equal(left?.n, 0, 'no page range left unsummarized (an unsummarized range matches every search)');
});

t.test('a shared phone registered by another account gets nothing of the previous account', async (t) => {
  await settleEarlierTests();
  const [alice, bob, carol] = [await user('Alice'), await user('Bob'), await user('Carol')];
  const chat = await directChat(app, alice, bob);
  const payload = { platform: 'webpush', subscription: { endpoint: `https://push.example.com/${crypto.randomUUID()}`, keys: { p256dh: 'BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM', auth: 'tBHItJI5svbpez7KI4CCXg' } } };
  expectStatus(await call(app, 'POST', '/push/devices', { token: bob.accessToken, payload }), 201, 'Bob registers the phone');
  await sendText(app, alice, chat.id, 'for Bob only');
  await app.services.push.plan();
  expectStatus(await call(app, 'POST', '/push/devices', { token: carol.accessToken, payload }), 201, 'Carol registers the same phone before the push is due');
  const [delivery] = await repository.claimDue('webpush', 10, 60_000, crypto.randomUUID());
  t.equal(delivery?.skip, 'device moved to another account', "Bob's push is skipped, not shown on Carol's phone");
});

/** Three recipients with a device each and a message due to each; answers their devices, the first one's first in line. */
async function threeDue(): Promise<string[]> {
  await settleEarlierTests();
  const alice = await user('Alice');
  const devices = [];
  for (const name of ['Bob', 'Carol', 'Dave']) {
    const recipient = await user(name);
    const chat = await directChat(app, alice, recipient);
    devices.push(await deviceOf(recipient));
    await sendText(app, alice, chat.id, `to ${name}`);
  }
  return devices;
}

t.test('stop() puts back what waits for a slot: due at once, for any instance', async (t) => {
  const devices = await threeDue();
  const { worker, hung, handled, release } = slowWorker(devices[0]!);
  worker.start();
  await until('the first push to hang with the others queued', () => hung.length === 1);
  const stopped = worker.stop();
  await until('the queued ones put back', async () => (await Promise.all(devices.slice(1).map(pending))).every(([row]) => row?.claim === null));
  release();
  await stopped;
  t.same(handled.map((d) => d.deviceId), [devices[0]], 'only the push in flight was sent');
  t.same((await Promise.all(devices.map(pending))).map(([row]) => row?.state), ['sent', 'pending', 'pending'], 'the others are pending, for the next worker');
});

t.test('queued deliveries of a claim another worker took over are not sent', async (t) => {
  const devices = await threeDue();
  const { worker, hung, handled, release } = slowWorker(devices[0]!);
  worker.start();
  t.teardown(() => {
    release();
    return worker.stop();
  });
  await until('the first push to hang with the others queued', () => hung.length === 1);
  // Arranged: this worker stalled past its lease and another took the queued ones over.
  const other = crypto.randomUUID();
  for (const device of devices.slice(1)) await app.db.execute(sql`update push_deliveries set claim = ${other}, claimed_until = now() + interval '1 minute' where device_id = ${device}`);
  await new Promise((resolve) => setTimeout(resolve, LEASE_MS)); // a renewal or more: it learns the claim is lost
  release();
  await until('the hung push recorded', async () => (await pending(devices[0]!))[0]?.state === 'sent');
  await new Promise((resolve) => setTimeout(resolve, 200));
  t.same(handled.map((d) => d.deviceId), [devices[0]], 'the taken-over deliveries were dropped from the queue, not sent a second time');
});

t.test('a retry waits at least 1 s, then the upper half of an exponential step, at most 10 min', async (t) => {
  t.same([backoffMs(1, () => 0), backoffMs(1, () => 0.999_999)], [1000, 2000], 'the first retry: 1 to 2 s, never at once');
  t.same([backoffMs(3, () => 0), backoffMs(3, () => 0.999_999)], [4000, 8000], 'the third: 4 to 8 s');
  t.same([backoffMs(40, () => 0), backoffMs(40, () => 0.999_999)], [300_000, 600_000], 'capped at 10 min');
});
