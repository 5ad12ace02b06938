import { sql } from 'drizzle-orm';
import t, { type Test } from 'tap';
import type { App } from '../../../src/app.js';
import type { Account } from '../../support/accounts.js';
import { getSync, rest, syncAll } from '../../support/sync-client.js';
import { createGroup, directChat, sendText } from '../../support/chat.js';
import { createAdmin } from '../../support/staff.js';
import { type StreamPositions, type UserReplica, applyStreamEvent, comparableUser, userSnapshot } from '../../support/user-replica.js';
import type { Frame } from '../../support/ws-client.js';
import { TRANSPORT, buildCluster, openSocket, resumeDone, sendResume, waitUntil } from './cluster-support.js';

/*
 * Offline for a while, for what belongs to no conversation (issue "Offline sync"): blocks, the status
 * updates a user may see, announcements and which of them they read. Alice's phones hold that state
 * and go away; others change it through the other instance; each phone comes back and applies what
 * it is sent: by stream positions (`resume {streams}`), by sync token (`resume {since}`), and over
 * GET /sync in pages of 2. Each must then equal what a fresh device loads over REST, with no event
 * twice or out of order (applyStreamEvent throws on that).
 */

t.comment(`transport between the instances: ${TRANSPORT}`);

const c = await buildCluster(t);
const { a, b } = c;

const postStatus = (app: App, author: Account, body: string) => rest(app, author, 'POST', '/status', { type: 'text', body }) as Promise<{ id: string }>;

interface Phone {
  replica: UserReplica;
  positions: StreamPositions;
  token?: string;
}

/** Comes back on `app`, resumes (by token when the phone keeps one, else by stream positions), applies everything up to resume.done. */
async function comeBack(t: Test, app: App, account: Account, phone: Phone): Promise<Frame[]> {
  const socket = await openSocket(t, app, account, '/ws?resume=1');
  const id = sendResume(socket, phone.token ? { since: phone.token } : { streams: phone.positions });
  const done = await resumeDone(socket, id);
  if (done.type === 'error') throw new Error(`resume: ${JSON.stringify(done.data)}`);
  if (phone.token) phone.token = done.data.syncToken;
  const frames = socket.frames.filter((f) => applyStreamEvent(phone.replica, phone.positions, f));
  if (!phone.token) t.same(done.data.streams, phone.positions, 'resume.done names the positions reached');
  socket.close();
  await socket.closed();
  return frames;
}

async function syncOver(app: App, account: Account, phone: Phone): Promise<Frame[]> {
  const { applied, token } = await syncAll(app, account, phone.token!, 2, (item) => applyStreamEvent(phone.replica, phone.positions, item));
  phone.token = token;
  return applied;
}

t.test('blocks, status updates and announcements made while a device was away come back on resume and over /sync, and rebuild a fresh snapshot', async (t) => {
  const [alice, bob, carol, dave] = [await c.user('Alice'), await c.user('Bob'), await c.user('Carol'), await c.user('Dave')];
  const aliceTablet = await c.device(alice, 'tablet');
  const admin = await createAdmin(b);
  await directChat(a, alice, bob);
  await directChat(a, carol, alice);
  const carolsStatus = await postStatus(b, carol, 'Carol before');

  const start = async (withToken: boolean): Promise<Phone> => {
    const socket = await openSocket(t, a, alice);
    const phone: Phone = { replica: await userSnapshot(a, alice), positions: { ...socket.ready.data.streams }, ...(withToken ? { token: socket.ready.data.syncToken } : {}) };
    socket.close();
    await socket.closed();
    return phone;
  };
  const positionsPhone = await start(false);
  const tokenPhone = await start(true);
  const restPhone = await start(true);
  t.ok(positionsPhone.replica.statuses[carolsStatus.id], 'the phones start with a contact\'s status');

  let announcement = '';
  let scheduled = '';
  let moved = '';
  const steps: Array<[string, string, () => Promise<unknown>]> = [
    ['a contact posts a status', 'status.created', () => postStatus(b, bob, 'Bob one')],
    ['a contact posts one and deletes another', 'status.deleted', async () => {
      const second = await postStatus(b, bob, 'Bob two');
      const first = Object.entries((await userSnapshot(b, alice)).statuses).find(([, s]) => s.body === 'Bob one')![0];
      await rest(b, bob, 'DELETE', `/status/${first}`);
      return second;
    }],
    ['she blocks a contact on her tablet: the block, and their status goes', 'user.blocked', () => rest(b, aliceTablet, 'POST', `/users/${carol.user.id}/block`)],
    ['she unblocks them: the status is back', 'user.unblocked', () => rest(b, aliceTablet, 'DELETE', `/users/${carol.user.id}/block`)],
    ['the contact blocks her: their status goes, and she is not told of a block', 'status.deleted', () => rest(b, carol, 'POST', `/users/${alice.user.id}/block`)],
    ['a stranger with a status becomes a contact (a first direct chat)', 'status.created', async () => {
      await postStatus(b, dave, 'Dave before');
      await directChat(b, dave, alice);
    }],
    ['her own status, posted on her tablet', 'status.created', () => postStatus(b, aliceTablet, 'Alice from the tablet')],
    ['the operator announces', 'announcement', async () => {
      announcement = (await rest(b, admin, 'POST', '/admin/announcements', { title: 'Maintenance', body: 'Tonight' })).id;
    }],
    ['the operator edits it', 'announcement', () => rest(b, admin, 'PATCH', `/admin/announcements/${announcement}`, { body: 'Tonight at ten' })],
    ['she reads it on her tablet', 'announcement.read', () => rest(b, aliceTablet, 'POST', `/announcements/${announcement}/read`)],
    ['a scheduled announcement is moved to now', 'announcement', async () => {
      scheduled = (await rest(b, admin, 'POST', '/admin/announcements', { title: 'Later', body: 'Soon', startsAt: new Date(Date.now() + 3_600_000).toISOString() })).id;
      await rest(b, admin, 'PATCH', `/admin/announcements/${scheduled}`, { startsAt: new Date(Date.now() - 1000).toISOString() });
      t.equal(await b.services.announcements.announceDue(), 0, 'announced by the edit, nothing left for the sweep');
    }],
    ['a listed announcement is moved to a later start: it goes', 'announcement.withdrawn', async () => {
      moved = (await rest(b, admin, 'POST', '/admin/announcements', { title: 'Moved', body: 'x' })).id;
      await rest(a, admin, 'PATCH', `/admin/announcements/${moved}`, { startsAt: new Date(Date.now() + 3_600_000).toISOString() });
      t.equal(await b.services.announcements.announceDue(), 0, 'not announced before it starts');
    }],
    ['its new start comes: it is back', 'announcement', async () => {
      // Arranged: the start passes (the clock is not waited out).
      await b.db.execute(sql`update announcements set starts_at = now() - interval '1 second' where id = ${moved}`);
      t.equal(await b.services.announcements.announceDue(), 1, 'the sweep announces it again');
    }],
    ['the operator withdraws the first', 'announcement.withdrawn', () => rest(b, admin, 'DELETE', `/admin/announcements/${announcement}`)],
  ];

  let instance = 0;
  for (const [label, kind, change] of steps) {
    await change();
    const back = instance++ % 2 === 0 ? a : b;
    const fresh = comparableUser(await userSnapshot(a, alice));
    const frames = await comeBack(t, back, alice, positionsPhone);
    t.ok(frames.some((f) => f.type === kind), `${label}: a ${kind} came back`);
    t.same(comparableUser(positionsPhone.replica), fresh, `${label}: the rebuilt state equals a fresh snapshot (resume by stream positions)`);
    await comeBack(t, back === a ? b : a, alice, tokenPhone);
    t.same(comparableUser(tokenPhone.replica), fresh, `${label}: and so it does resuming by sync token`);
    const synced = await syncOver(back, alice, restPhone);
    t.ok(synced.some((item) => item.type === kind), `${label}: GET /sync has the ${kind}`);
    t.same(comparableUser(restPhone.replica), fresh, `${label}: and so it does over GET /sync`);
  }
  t.same(positionsPhone.replica.blocked, [], 'in the end she blocks nobody');
  t.notOk(Object.values(positionsPhone.replica.statuses).some((s) => s.authorId === carol.user.id), 'and sees nothing of the contact who blocked her');
  t.same(Object.keys(positionsPhone.replica.announcements).sort(), [scheduled, moved].sort(), 'two announcements are listed');

  // The blocked side's own log never says it was blocked.
  const carolSync = await getSync(a, carol, `since=${(await getSync(a, carol, '')).nextToken}`);
  t.same(carolSync.items, [], 'nothing new for the contact since a fresh token');
  const carolSocket = await openSocket(t, b, carol);
  const id = sendResume(carolSocket, { streams: { user: 0, announcements: 0 } });
  await resumeDone(carolSocket, id);
  const carolLog = carolSocket.frames.filter((f) => (f as { stream?: string }).stream === 'user').map((f) => [f.type, f.data.userId ?? f.data.authorId]);
  t.same(carolLog, [['status.created', carol.user.id], ['user.blocked', alice.user.id]], "the contact's log holds her own status and her own block, nothing of Alice's block and unblock of her");
});

t.test('live: stream events reach every device once, in seq order, on both instances; ready names the positions', async (t) => {
  const [alice, bob] = [await c.user('Alice'), await c.user('Bob')];
  await directChat(a, alice, bob);
  const onA = await openSocket(t, a, alice);
  const onB = await openSocket(t, b, alice);
  for (const socket of [onA, onB]) t.match(socket.ready.data.streams, { user: Number, announcements: Number }, 'ready has the stream positions');
  const status = await postStatus(b, bob, 'live one');
  await rest(a, alice, 'POST', `/users/${bob.user.id}/block`);
  await rest(b, alice, 'DELETE', `/users/${bob.user.id}/block`);
  const expected = ['status.created', 'user.blocked', 'status.deleted', 'user.unblocked', 'status.created'];
  // The block first, then what it does to statuses: one transaction, consecutive seqs.
  for (const socket of [onA, onB]) {
    const userFrames = () => socket.frames.filter((f) => (f as { stream?: string }).stream === 'user');
    await waitUntil('the user stream events', () => userFrames().length >= expected.length, () => JSON.stringify(userFrames().map((f) => f.type)));
    const frames = userFrames();
    t.same(frames.map((f) => f.type), expected, 'each change once, in order');
    const seqs = frames.map((f) => (f as unknown as { seq: number }).seq);
    t.same(seqs, [...seqs].sort((x, y) => x - y), 'seqs increase');
    t.ok(seqs[0]! > socket.ready.data.streams.user, 'and continue the position ready named');
    t.equal(frames[0]!.data.id, status.id, 'status.created is the Status resource, read from the log');
    t.equal(frames[0]!.data.body, 'live one', 'with its body');
  }
});

t.test('hostile resume streams are refused with a clear error, and a room socket takes none', async (t) => {
  const [alice, bob] = [await c.user('Alice'), await c.user('Bob')];
  const direct = await directChat(a, alice, bob);
  const socket = await openSocket(t, a, alice);
  for (const streams of [JSON.parse('{"__proto__": 1}'), { constructor: 1 }, { user: -1 }, { user: 2 ** 60 }, { users: 1 }, 'user']) {
    const reply = await socket.request('resume', { streams });
    t.equal(reply.type, 'error', `resume {streams: ${JSON.stringify(streams)}} is refused`);
    t.equal(reply.data.code, 'VALIDATION_FAILED', 'as invalid');
  }
  const room = await openSocket(t, a, alice, `/ws/chat/${direct.roomName}`);
  const reply = await room.request('resume', { streams: { user: 0 } });
  t.same([reply.type, reply.data.code], ['error', 'VALIDATION_FAILED'], 'a room socket has no streams to resume');
  t.equal((await socket.request('ping', null)).type, 'pong', 'the socket stays open');
});

t.test('a status posted while a block is set is never left with the blocked user (concurrent writes, any order)', async (t) => {
  const [alice, carol] = [await c.user('Alice'), await c.user('Carol')];
  await directChat(a, alice, carol);
  for (let round = 0; round < 6; round++) {
    const blocking = round % 2 === 0;
    await Promise.all([
      postStatus(round % 2 ? a : b, carol, `round ${round}`),
      rest(round % 2 ? b : a, alice, blocking ? 'POST' : 'DELETE', `/users/${carol.user.id}/block`),
    ]);
    const phone: Phone = { replica: { blocked: [], statuses: {}, announcements: {}, read: [] }, positions: { user: 0, announcements: 0 } };
    const socket = await openSocket(t, a, alice);
    const id = sendResume(socket, { streams: { user: 0 } });
    await resumeDone(socket, id);
    for (const frame of socket.frames) applyStreamEvent(phone.replica, phone.positions, frame);
    socket.close();
    const fresh = await userSnapshot(a, alice);
    t.same([phone.replica.blocked, phone.replica.statuses], [fresh.blocked, fresh.statuses], `round ${round} (${blocking ? 'block' : 'unblock'}): her log replayed from its start equals what she may see`);
  }
});

t.test('an account erased: its blockers\' logs drop the block, its statuses go from every log, its own log goes', async (t) => {
  const [alice, bob, carol] = [await c.user('Alice'), await c.user('Bob'), await c.user('Carol')];
  await directChat(a, alice, bob);
  await directChat(a, carol, bob);
  await rest(a, alice, 'POST', `/users/${bob.user.id}/block`);
  const status = await postStatus(b, bob, 'Bob, soon gone');
  const phones = new Map<Account, Phone>();
  for (const who of [alice, carol]) {
    const socket = await openSocket(t, a, who);
    phones.set(who, { replica: await userSnapshot(a, who), positions: { ...socket.ready.data.streams } });
    socket.close();
  }
  t.ok(phones.get(carol)!.replica.statuses[status.id], "Carol sees Bob's status");
  t.same(phones.get(alice)!.replica.blocked, [bob.user.id], 'Alice blocks Bob');
  // His reactions: two on one message of Carol's, one on another in a group.
  const carolDirect = await directChat(a, carol, bob);
  const group = await createGroup(a, carol, [bob]);
  const reacted = [await sendText(a, carol, carolDirect.id, 'react to me'), await sendText(a, carol, group.id, 'and me')];
  for (const [message, emojis] of [[reacted[0]!, ['👍', '🎉']], [reacted[1]!, ['❤️']]] as const) {
    for (const emoji of emojis) await rest(a, bob, 'PUT', `/message/${message.id}/reactions/${encodeURIComponent(emoji)}`);
  }
  const carolToken = (await getSync(a, carol, '')).nextToken;
  await rest(b, bob, 'DELETE', '/users/me', { password: bob.password });
  const reactions = (await getSync(a, carol, `since=${carolToken}&limit=500`)).items.filter((i) => i.type === 'reaction.updated');
  t.same(
    reactions.map((i) => [i.data.messageId, i.data.reactions]).sort(),
    reacted.map((m) => [m.id, []]).sort(),
    'every message he reacted to has its reaction.updated in the record, with his reactions gone',
  );
  for (const [who, phone] of phones) {
    await comeBack(t, who === alice ? b : a, who, phone);
    t.same(comparableUser(phone.replica), comparableUser(await userSnapshot(a, who)), `${who.user.displayName}: the rebuilt state equals a fresh snapshot`);
  }
  t.same(phones.get(alice)!.replica.blocked, [], 'the block is gone from her log as from her list');
  t.notOk(phones.get(carol)!.replica.statuses[status.id], 'the status is gone');
  const rows = (await a.db.execute(sql`select count(*)::int as n from user_changes where user_id = ${bob.user.id}`)) as unknown as { rows: Array<{ n: number }> };
  t.equal(rows.rows[0]!.n, 0, 'nothing is left of his own log');
});
