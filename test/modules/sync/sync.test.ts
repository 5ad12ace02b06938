import t from 'tap';
import { sql } from 'drizzle-orm';
import type { App } from '../../../src/app.js';
import { type Account, call, expectStatus } from '../../support/accounts.js';
import { buildChatApp, createGroup, directChat, sendText } from '../../support/chat.js';
import { expectProblem } from '../messages/fixtures.js';

/*
 * GET /sync: a snapshot without a token, then exactly what changed since a token, in seq order per
 * conversation, paged without repeats or holes, never something the caller may not see. The
 * offline-for-a-while scenarios of every change kind are in test/modules/realtime/offline-changes.test.ts.
 */

const h = await buildChatApp(t);
const { app } = h;

interface Item {
  type: string;
  conversationId: string;
  seq?: number;
  data: any;
}
interface Answer {
  items: Item[];
  conversations: Array<{ id: string; unreadCount: number; lastSeq: number }>;
  nextToken: string;
  more: boolean;
}

async function sync(app: App, account: Account, query = ''): Promise<Answer> {
  return expectStatus<Answer>(await call(app, 'GET', `/sync${query ? `?${query}` : ''}`, { token: account.accessToken }), 200, `GET /sync?${query}`);
}

/** Every item since `token`, page by page; the token at the end. */
async function drain(account: Account, token: string, limit: number): Promise<{ items: Item[]; token: string; pages: number }> {
  const items: Item[] = [];
  let pages = 0;
  for (let more = true; more; pages++) {
    const answer = await sync(app, account, `since=${token}&limit=${limit}`);
    t.ok(answer.items.filter((i) => i.seq !== undefined).length <= limit, `a page holds at most ${limit} events`);
    items.push(...answer.items);
    token = answer.nextToken;
    more = answer.more;
  }
  return { items, token, pages };
}

const seqsOf = (items: Item[], conversationId: string) => items.filter((i) => i.conversationId === conversationId && i.seq !== undefined).map((i) => i.seq!);

t.test('without a token: the inbox with unread counts, and a token that has nothing new yet', async (t) => {
  const [alice, bob] = [await h.user(), await h.user()];
  const chat = await directChat(app, alice, bob);
  for (const body of ['a', 'b', 'c']) await sendText(app, bob, chat.id, body);
  const first = await sync(app, alice);
  t.same(first.items, [], 'no items');
  t.same(
    first.conversations.map((c) => [c.id, c.unreadCount, c.lastSeq]),
    [[chat.id, 3, 3]],
    'the conversation, as GET /chat has it',
  );
  t.equal(first.more, false);
  const next = await sync(app, alice, `since=${first.nextToken}`);
  t.same([next.items, next.conversations, next.more], [[], [], false], 'nothing changed since');
});

t.test('paged: every change once, in seq order per conversation, across conversations, whatever the page size', async (t) => {
  const [alice, bob, carol] = [await h.user(), await h.user(), await h.user()];
  const { nextToken: start } = await sync(app, alice);
  const chat = await directChat(app, alice, bob);
  const group = await createGroup(app, carol, [alice, bob]);
  for (let i = 0; i < 7; i++) {
    const m = await sendText(app, i % 2 ? bob : carol, i % 2 ? chat.id : group.id, `m${i}`);
    if (i % 3 === 0) expectStatus(await call(app, 'PUT', `/message/${m.id}/reactions/${encodeURIComponent('👍')}`, { token: bob.accessToken }), 200, 'react');
  }
  expectStatus(await call(app, 'POST', `/chat/${group.id}/read`, { token: bob.accessToken, payload: { seq: 2 } }), 200, 'a receipt');
  const whole = await drain(alice, start, 500);
  t.equal(whole.pages, 1, 'one page of 500 holds it all');
  for (const limit of [1, 2, 5]) {
    const paged = await drain(alice, start, limit);
    t.ok(paged.pages > 1, `pages of ${limit}: ${paged.pages} pages`);
    t.same(paged.items, whole.items, `pages of ${limit}: the same items in the same order, none twice`);
  }
  for (const id of [chat.id, group.id]) {
    const seqs = seqsOf(whole.items, id);
    t.same(seqs, [...seqs].sort((x, y) => x - y), 'ascending per conversation');
    t.equal(new Set(seqs).size, seqs.length, 'no seq twice');
  }
  t.same(
    whole.items.filter((i) => i.type === 'conversation.joined').map((i) => [i.conversationId, i.data.id]).sort(),
    [[chat.id, chat.id], [group.id, group.id]].sort(),
    'each conversation new to her comes with its resource, before its events',
  );
  for (const id of [chat.id, group.id]) {
    const at = whole.items.findIndex((i) => i.conversationId === id);
    t.equal(whole.items[at]!.type, 'conversation.joined', 'first');
  }
  t.equal(whole.items.filter((i) => i.type === 'message.created').length, 7, 'the 7 messages');
  t.equal(whole.items.filter((i) => i.type === 'reaction.updated').length, 3, 'the latest reaction state of the 3 messages reacted to');
  t.ok(whole.items.some((i) => i.type === 'receipt.updated' && i.data.userId === bob.user.id), "Bob's receipt");
  t.same((await sync(app, alice, `since=${whole.token}`)).items, [], 'and then nothing');
});

t.test('a paged answer stops where it began: what commits meanwhile waits for the next round', async (t) => {
  const [alice, bob] = [await h.user(), await h.user()];
  const chat = await directChat(app, alice, bob);
  const { nextToken: start } = await sync(app, alice);
  for (let i = 0; i < 4; i++) await sendText(app, bob, chat.id, `before ${i}`);
  const first = await sync(app, alice, `since=${start}&limit=2`);
  t.equal(first.more, true);
  const late = await sendText(app, bob, chat.id, 'during the paging');
  const rest = await drain(alice, first.nextToken, 2);
  const round = [...first.items, ...rest.items];
  t.notOk(round.some((i) => i.data?.id === late.id), 'not in this round');
  t.equal(round.filter((i) => i.type === 'message.created').length, 4, 'the four from before');
  const next = await sync(app, alice, `since=${rest.token}`);
  t.same(next.items.map((i) => i.data.id), [late.id], 'the next round has it');
});

t.test('never what the caller may not see: after leaving, hidden by others, others\u2019 own settings', async (t) => {
  const [alice, bob, carol] = [await h.user(), await h.user(), await h.user()];
  const group = await createGroup(app, bob, [alice, carol]);
  const shared = await sendText(app, bob, group.id, 'shared');
  const { nextToken: start } = await sync(app, alice);
  expectStatus(await call(app, 'DELETE', `/message/${shared.id}?for=me`, { token: carol.accessToken }), 204, 'Carol hides it for herself');
  expectStatus(await call(app, 'PATCH', `/chat/${group.id}/settings`, { token: carol.accessToken, payload: { muted: true } }), 200, 'Carol mutes');
  expectStatus(await call(app, 'DELETE', `/chat/${group.id}/members/${alice.user.id}`, { token: alice.accessToken }), 204, 'Alice leaves');
  await sendText(app, bob, group.id, 'after Alice left');
  expectStatus(await call(app, 'PATCH', `/chat/${group.id}`, { token: bob.accessToken, payload: { title: 'Without Alice' } }), 200, 'renamed');
  const { items } = await drain(alice, start, 100);
  t.same(items.map((i) => i.type), ['member.left'], 'only her own leave');
  const carols = await drain(carol, start, 100);
  t.ok(carols.items.some((i) => i.type === 'message.hidden'), 'Carol gets her hide');
  t.ok(carols.items.some((i) => i.type === 'conversation.settings'), 'and her settings');
});

t.test('a token that is not ours is 400 SYNC_TOKEN_INVALID; an old or foreign one 410 SYNC_TOKEN_EXPIRED', async (t) => {
  const alice = await h.user();
  const { nextToken } = await sync(app, alice);
  const [signed, mac] = nextToken.split('.') as [string, string];
  const body = JSON.parse(Buffer.from(signed, 'base64url').toString()) as { s: string; t: number };
  // Well-formed bodies signed with a key that is not the server's, or carrying another token's signature.
  const encode = (value: unknown) => `${Buffer.from(JSON.stringify(value)).toString('base64url')}.${mac}`;
  for (const [token, label] of [
    ['x', 'garbage'],
    [encode({ v: 2, s: body.s, t: body.t }), 'another version'],
    [encode({ v: 1, s: 'constructor', t: body.t }), 'a prototype name for a snapshot'],
    [encode({ v: 1, s: `${body.s}\u0000`, t: body.t }), 'a NUL'],
    [encode({ v: 1, s: '1:99999999999999999999999:', t: body.t }), 'a number beyond xid8'],
    [encode({ v: 1, s: body.s, t: 1e400 }), 'an infinite time'],
    [encode({ v: 1, s: body.s, t: body.t, u: body.s, c: 'not-a-uuid', a: 1 }), 'a page token with a bad conversation'],
    [encode({ __proto__: { v: 1 }, s: body.s, t: body.t }), 'a version only on the prototype'],
    [encode([1, body.s]), 'an array'],
    [encode({ v: 1, s: '1:1:', t: Date.now() }), 'a forged snapshot from the beginning of time'],
    [signed, 'no signature'],
    [`${signed}.${'0'.repeat(32)}`, 'a wrong signature'],
    [`${signed}.${mac.toUpperCase()}`, 'a signature in other characters'],
  ] as const) {
    expectProblem(t, await call(app, 'GET', `/sync?since=${token}`, { token: alice.accessToken }), 400, 'SYNC_TOKEN_INVALID', label);
  }
  t.equal((await call(app, 'GET', `/sync?since=${nextToken}`, { token: alice.accessToken })).statusCode, 200, 'the token as issued works');
  expectProblem(t, await call(app, 'GET', `/sync?since=${'a'.repeat(9000)}`, { token: alice.accessToken }), 400, 'VALIDATION_FAILED', 'a token longer than any of ours');
  const old = await app.services.sync.encode({ since: body.s, issuedAt: Date.now() - 31 * 86_400_000 });
  expectProblem(t, await call(app, 'GET', `/sync?since=${old}`, { token: alice.accessToken }), 410, 'SYNC_TOKEN_EXPIRED', 'older than 30 days');
  const future = await app.services.sync.encode({ since: '999999999999:999999999999:', issuedAt: Date.now() });
  expectProblem(t, await call(app, 'GET', `/sync?since=${future}`, { token: alice.accessToken }), 410, 'SYNC_TOKEN_EXPIRED', 'from another database (ahead of this one)');
  expectProblem(t, await call(app, 'GET', '/sync?limit=0', { token: alice.accessToken }), 400, 'VALIDATION_FAILED', 'limit 0');
  expectProblem(t, await call(app, 'GET', '/sync'), 401, 'UNAUTHORIZED', 'without a token');
});

t.test('a later member never gets changes about messages from before they joined', async (t) => {
  const [bob, alice, dave] = [await h.user(), await h.user(), await h.user()];
  const group = await createGroup(app, bob, [alice]);
  const early = await sendText(app, bob, group.id, 'before Dave');
  const { nextToken: start } = await sync(app, dave);
  expectStatus(await call(app, 'POST', `/chat/${group.id}/members`, { token: bob.accessToken, payload: { userIds: [dave.user.id] } }), 201, 'Dave joins');
  const later = await sendText(app, bob, group.id, 'after Dave joined');
  expectStatus(await call(app, 'PATCH', `/message/${early.id}`, { token: bob.accessToken, payload: { body: 'before Dave, edited' } }), 200, 'an edit of the old one');
  expectStatus(await call(app, 'PUT', `/message/${early.id}/reactions/${encodeURIComponent('👍')}`, { token: alice.accessToken }), 200, 'a reaction to it');
  expectStatus(await call(app, 'POST', `/message/${early.id}/pin`, { token: bob.accessToken }), 204, 'a pin of it');
  expectStatus(await call(app, 'DELETE', `/message/${later.id}?for=me`, { token: dave.accessToken }), 204, 'Dave hides the new one');
  expectStatus(await call(app, 'PUT', `/message/${later.id}/reactions/${encodeURIComponent('🎉')}`, { token: alice.accessToken }), 200, 'a reaction to the hidden one');
  const { items } = await drain(dave, start, 100);
  const about = (id: string) => items.filter((i) => i.data?.id === id || i.data?.messageId === id).map((i) => i.type);
  t.same(about(early.id), [], 'nothing about the message from before his join');
  t.same(about(later.id), ['message.hidden', 'reaction.updated'], 'the one he hid: his hide, then what happened to it (he saw it)');
  t.ok(items.some((i) => i.type === 'member.joined' && i.data.userId === dave.user.id), 'his join');
  const alices = await drain(alice, start, 100);
  t.ok(alices.items.some((i) => i.type === 'message.updated' && i.data.id === early.id), 'Alice, who was there, gets the edit');
});

t.test('clearing the history on one device reaches the others, and hides only messages', async (t) => {
  const [alice, bob, carol] = [await h.user(), await h.user(), await h.user()];
  const group = await createGroup(app, bob, [alice]);
  const before = await sendText(app, bob, group.id, 'before the clear');
  const { nextToken: start } = await sync(app, alice);
  expectStatus(await call(app, 'PATCH', `/chat/${group.id}`, { token: bob.accessToken, payload: { title: 'Renamed' } }), 200, 'renamed');
  expectStatus(await call(app, 'POST', `/chat/${group.id}/members`, { token: bob.accessToken, payload: { userIds: [carol.user.id] } }), 201, 'Carol added');
  expectStatus(await call(app, 'POST', `/chat/${group.id}/clear`, { token: alice.accessToken }), 204, 'Alice clears on her phone');
  const after = await sendText(app, bob, group.id, 'after the clear');
  const { items } = await drain(alice, start, 100);
  t.same(
    items.map((i) => i.type),
    ['conversation.updated', 'member.joined', 'conversation.cleared', 'message.created'],
    'her other device gets the rename and the join made before the clear, the clear itself, and what came after',
  );
  const cleared = items.find((i) => i.type === 'conversation.cleared')!;
  t.ok(cleared.data.clearedSeq >= before.seq && cleared.data.clearedSeq < after.seq, 'up to the clear');
  t.notOk(items.some((i) => i.type === 'conversation.cleared' && i.conversationId !== group.id), 'only that conversation');
  t.same((await drain(bob, start, 100)).items.filter((i) => i.type === 'conversation.cleared'), [], 'nobody else sees her clear');
});

t.test('stream items page like the rest: the user log and announcements come first, each once, in seq order, whatever the page size', async (t) => {
  const [alice, bob, carol] = [await h.user('Alice'), await h.user('Bob'), await h.user('Carol')];
  await directChat(app, alice, bob);
  await directChat(app, carol, alice);
  const { nextToken } = await sync(app, alice);
  for (let i = 0; i < 4; i++) await call(app, 'POST', '/status', { token: bob.accessToken, payload: { type: 'text', body: `bob ${i}` } });
  await call(app, 'POST', `/users/${carol.user.id}/block`, { token: alice.accessToken });
  await sendText(app, bob, (await directChat(app, alice, bob)).id, 'and a message');
  const whole = await drain(alice, nextToken, 500);
  for (const limit of [1, 2, 3]) {
    const paged = await drain(alice, nextToken, limit);
    t.same(paged.items, whole.items, `pages of ${limit} hold the same items as one page`);
  }
  const streamItems = whole.items.filter((i) => (i as { stream?: string }).stream === 'user');
  t.same(streamItems.map((i) => i.type), ['status.created', 'status.created', 'status.created', 'status.created', 'user.blocked'], 'the user log, in order');
  t.equal(whole.items.findIndex((i) => (i as { stream?: string }).stream === undefined), streamItems.length, 'before the conversations');
});

t.test('retention: tombstones older than the token lifetime are swept; the rest of the log stays', async (t) => {
  const [alice, bob] = [await h.user('Alice'), await h.user('Bob')];
  await directChat(app, alice, bob);
  const status = (await call(app, 'POST', '/status', { token: bob.accessToken, payload: { type: 'text', body: 'soon gone' } })).json() as { id: string };
  await call(app, 'DELETE', `/status/${status.id}`, { token: bob.accessToken });
  await call(app, 'POST', `/users/${bob.user.id}/block`, { token: alice.accessToken });
  await call(app, 'DELETE', `/users/${bob.user.id}/block`, { token: alice.accessToken });
  await call(app, 'POST', `/users/${alice.user.id}/block`, { token: bob.accessToken });
  const logOf = async (userId: string) =>
    ((await app.db.execute(sql`select type from user_changes where user_id = ${userId} order by seq`)) as unknown as { rows: Array<{ type: string }> }).rows.map((r) => r.type);
  t.same(await logOf(alice.user.id), ['status.deleted', 'user.unblocked'], "Alice's log: the deleted status and the unblock, as tombstones");
  t.same(await app.services.sync.sweepTombstones(), 0, 'nothing is old enough yet');
  // Arranged: the rows are aged past the token lifetime (every valid token sees them).
  await app.db.execute(sql`update user_changes set changed_at = now() - interval '31 days' where user_id in (${alice.user.id}, ${bob.user.id})`);
  t.ok((await app.services.sync.sweepTombstones()) >= 2, 'the old tombstones are swept');
  t.same(await logOf(alice.user.id), [], 'Alice keeps nothing of them');
  t.same(await logOf(bob.user.id), ['user.blocked'], 'a standing block is not a tombstone and stays');
  const { nextToken } = await sync(app, alice);
  t.same((await sync(app, alice, `since=${nextToken}`)).items, [], 'and a token from now still has nothing new');
});

t.test("the last token of a paged answer ages from the answer's first page, where it stands: a tombstone swept by age is never missed", async (t) => {
  const [alice, bob] = [await h.user('Alice'), await h.user('Bob')];
  const direct = await directChat(app, alice, bob);
  await call(app, 'POST', `/users/${bob.user.id}/block`, { token: alice.accessToken });
  const DAY = 86_400_000;
  const snapshotNow = async () => String(((await app.db.execute(sql`select pg_current_snapshot()::text as s`)) as unknown as { rows: Array<{ s: string }> }).rows[0]!.s);
  // Arranged: a paged answer whose first page was asked 29.9 days ago (`until` then), with an unblock after it.
  const until = await snapshotNow();
  await call(app, 'DELETE', `/users/${bob.user.id}/block`, { token: alice.accessToken });
  const untilAt = Date.now() - 29.9 * DAY;
  const lastPage = await app.services.sync.encode({ since: until, issuedAt: untilAt, page: { until, untilAt, conversationId: direct.id, after: 1_000_000 } });
  const answer = await sync(app, alice, `since=${lastPage}`);
  t.equal(answer.more, false, 'the last page');
  const body = JSON.parse(Buffer.from(answer.nextToken.split('.')[0]!, 'base64url').toString()) as { s: string; t: number };
  t.same([body.s, body.t], [until, untilAt], 'its token stands at the first page and is dated then');
  // A day and a bit later the unblock is older than the token lifetime and swept; the token is too old as well.
  await app.db.execute(sql`update user_changes set changed_at = now() - interval '30.5 days' where user_id = ${alice.user.id}`);
  t.ok((await app.services.sync.sweepTombstones()) >= 1, 'the tombstone is swept');
  const later = await app.services.sync.encode({ since: body.s, issuedAt: body.t - 1.1 * DAY });
  expectProblem(t, await call(app, 'GET', `/sync?since=${later}`, { token: alice.accessToken }), 410, 'SYNC_TOKEN_EXPIRED');
});

t.test('a token names the database history it was taken on: after a failover or a restore (another timeline or system) it is 410, never a silent gap', async (t) => {
  const alice = await h.user('Alice');
  const { nextToken } = await sync(app, alice);
  const body = JSON.parse(Buffer.from(nextToken.split('.')[0]!, 'base64url').toString()) as { s: string; t: number; o: string };
  t.match(body.o, /^\d+:\d+$/, 'the token carries the system identifier and timeline');
  const [system, timeline] = body.o.split(':');
  // Arranged: what this database would say after a promotion (timeline + 1) or a restore into a new cluster.
  for (const [label, origin] of [['a promoted replica', `${system}:${Number(timeline) + 1}`], ['another cluster', `1${system}:${timeline}`]] as const) {
    const foreign = await app.services.sync.encode({ since: body.s, issuedAt: body.t, origin });
    expectProblem(t, await call(app, 'GET', `/sync?since=${foreign}`, { token: alice.accessToken }), 410, 'SYNC_TOKEN_EXPIRED', `a token from before ${label}`);
  }
  const older = await app.services.sync.encode({ since: body.s, issuedAt: body.t });
  t.equal((await call(app, 'GET', `/sync?since=${older}`, { token: alice.accessToken })).statusCode, 200, 'a token from before origins were carried is still accepted');
});
