import { sql } from 'drizzle-orm';
import t, { type Test } from 'tap';
import { UNREAD_COUNT_CAP } from '../../../src/schemas/chat.js';
import type { Account } from '../../support/accounts.js';
import { call, expectStatus } from '../../support/accounts.js';
import { type ConversationBody, block, buildChatApp, conversation, createGroup, directChat, inbox, sendText } from '../../support/chat.js';
import { socketBase } from '../../support/ws-client.js';
import { open } from '../realtime/gateway-helpers.js';

/*
 * The unread count and receipt positions a client reads agree in every view: the conversation
 * (GET /chat/:id), the inbox (GET /chat), the socket's `ready`, and a receipt answer. And they count
 * what is really unread: a delete for everyone or a hide of an unread message takes it off, a former
 * member counts only up to where they left, a rejoined member only from the rejoin, a block changes
 * nothing already counted.
 */

const h = await buildChatApp(t);
const { app } = h;
const base = await socketBase(t, app);

interface Positions {
  unreadCount: number;
  readSeq: number;
  deliveredSeq: number;
}

const positionsOf = (view: Positions | undefined): Positions | undefined =>
  view && { unreadCount: view.unreadCount, readSeq: view.readSeq, deliveredSeq: view.deliveredSeq };

/** Every view of `who`'s position in the conversation equals `expected` (views that list it). */
async function agree(t: Test, who: Account, conversationId: string, expected: Positions, step: string, options: { current?: boolean } = {}) {
  const current = options.current ?? true;
  const one = await conversation(app, who, conversationId);
  t.same(positionsOf(one), expected, `${step}: GET /chat/:id`);

  const listed = (await inbox(app, who, 'limit=100')).items.find((c: ConversationBody) => c.id === conversationId);
  t.same(positionsOf(listed), expected, `${step}: GET /chat`);

  const { client, ready } = await open(t, base, who);
  const followed = (ready.data.conversations as Array<Positions & { id: string }>).find((c) => c.id === conversationId);
  if (current) t.same(positionsOf(followed), expected, `${step}: ready`);
  else t.equal(followed, undefined, `${step}: ready follows only conversations you are in`);
  client.socket.close();

  if (expected.deliveredSeq > 0) {
    // Acknowledging what is already delivered changes nothing and answers the positions.
    const receipt = expectStatus<Positions>(await call(app, 'POST', `/chat/${conversationId}/delivered`, { token: who.accessToken, payload: { seq: expected.deliveredSeq } }), 200, 'delivered');
    t.same(positionsOf(receipt), expected, `${step}: receipt answer`);
  }
}

const deleteMessage = async (who: Account, id: string, scope: 'me' | 'everyone') =>
  expectStatus(await call(app, 'DELETE', `/message/${id}?for=${scope}`, { token: who.accessToken }), 204, `delete for ${scope}`);
const read = async (who: Account, conversationId: string, seq: number) =>
  expectStatus(await call(app, 'POST', `/chat/${conversationId}/read`, { token: who.accessToken, payload: { seq } }), 200, `read ${seq}`);

t.test('deletes for everyone and hides of unread messages take them off the count, in every view', async (t) => {
  const [owner, member] = [await h.user(), await h.user()];
  const group = await createGroup(app, owner, [member]);
  const sent = [];
  for (const body of ['one', 'two', 'three', 'four']) sent.push(await sendText(app, owner, group.id, body));
  await agree(t, member, group.id, { unreadCount: 4, readSeq: 0, deliveredSeq: 0 }, 'four unread');
  await agree(t, owner, group.id, { unreadCount: 0, readSeq: 4, deliveredSeq: 4 }, "the sender's own messages are read");

  await deleteMessage(owner, sent[1]!.id, 'everyone');
  await agree(t, member, group.id, { unreadCount: 3, readSeq: 0, deliveredSeq: 0 }, 'one deleted for everyone');

  await deleteMessage(member, sent[2]!.id, 'me');
  await agree(t, member, group.id, { unreadCount: 2, readSeq: 0, deliveredSeq: 0 }, 'one hidden by the reader');

  await read(member, group.id, 1);
  await agree(t, member, group.id, { unreadCount: 1, readSeq: 1, deliveredSeq: 1 }, 'read up to the first');
  await read(member, group.id, 4);
  await agree(t, member, group.id, { unreadCount: 0, readSeq: 4, deliveredSeq: 4 }, 'read to the end');
});

t.test('a former member counts up to where they left; a rejoined one from the rejoin', async (t) => {
  const [owner, member] = [await h.user(), await h.user()];
  const group = await createGroup(app, owner, [member]);
  await sendText(app, owner, group.id, 'before leaving');
  await sendText(app, owner, group.id, 'still before');
  await read(member, group.id, 1);
  expectStatus(await call(app, 'DELETE', `/chat/${group.id}/members/${member.user.id}`, { token: member.accessToken }), 204, 'leave');
  await sendText(app, owner, group.id, 'said after the leave');
  await agree(t, member, group.id, { unreadCount: 1, readSeq: 1, deliveredSeq: 1 }, 'after leaving', { current: false });

  expectStatus(await call(app, 'POST', `/chat/${group.id}/members`, { token: owner.accessToken, payload: { userIds: [member.user.id] } }), 201, 're-add');
  const rejoined = await conversation(app, member, group.id);
  t.equal(rejoined.unreadCount, 0, 'nothing said while away counts');
  await sendText(app, owner, group.id, 'welcome back');
  const after = await conversation(app, member, group.id);
  await agree(t, member, group.id, { unreadCount: 1, readSeq: after.readSeq, deliveredSeq: after.deliveredSeq }, 'one message since the rejoin');
});

t.test('a block leaves what is already counted as it is, in every view', async (t) => {
  const [alice, bob] = [await h.user(), await h.user()];
  const direct = await directChat(app, bob, alice);
  await sendText(app, bob, direct.id, 'hi');
  await sendText(app, bob, direct.id, 'are you there?');
  await agree(t, alice, direct.id, { unreadCount: 2, readSeq: 0, deliveredSeq: 0 }, 'two unread');
  await block(app, alice, bob);
  const refused = await call(app, 'POST', '/message', { token: bob.accessToken, payload: { conversationId: direct.id, clientId: 'after-block', type: 'text', body: 'hello?' } });
  t.equal(refused.statusCode, 403, 'the blocked user cannot add to it');
  await agree(t, alice, direct.id, { unreadCount: 2, readSeq: 0, deliveredSeq: 0 }, 'after the block');
});

t.test('a backlog past the cap answers the cap, in every view', async (t) => {
  const [owner, member] = [await h.user(), await h.user()];
  const group = await createGroup(app, owner, [member]);
  // A backlog larger than any test should send one by one: rows as the send path stores them.
  const backlog = UNREAD_COUNT_CAP + 5;
  await app.db.execute(sql`
    with bumped as (update conversations set last_seq = last_seq + ${backlog}, last_message_seq = last_seq + ${backlog} where id = ${group.id} returning last_seq)
    insert into messages (id, conversation_id, seq, sender_id, client_id, type, body)
    select gen_random_uuid(), ${group.id}, bumped.last_seq - ${backlog} + n, ${owner.user.id}, 'backlog-' || n, 'text', 'm' || n
    from bumped, generate_series(1, ${backlog}) n`);
  await agree(t, member, group.id, { unreadCount: UNREAD_COUNT_CAP, readSeq: 0, deliveredSeq: 0 }, `${backlog} unread`);
  await read(member, group.id, 3);
  t.equal((await conversation(app, member, group.id)).unreadCount, UNREAD_COUNT_CAP, `still capped with ${backlog - 3} unread`);
  await read(member, group.id, backlog - UNREAD_COUNT_CAP + 1);
  t.equal((await conversation(app, member, group.id)).unreadCount, UNREAD_COUNT_CAP - 1, 'exact again below the cap');
});
