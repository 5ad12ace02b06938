import t, { type Test } from 'tap';
import type { App } from '../../../src/app.js';
import type { Account } from '../../support/accounts.js';
import { getSync, rest, syncAll } from '../../support/sync-client.js';
import { type MessageBody, conversation, createGroup, sendText } from '../../support/chat.js';
import { type ConversationReplica, applyEvent, comparable, snapshot } from '../../support/replica.js';
import type { Frame } from '../../support/ws-client.js';
import { TRANSPORT, buildCluster, openSocket, resumeDone, sendResume, waitUntil } from './cluster-support.js';

/*
 * Offline for a while (issue "Offline sync"): Alice's phone holds a conversation's state and the seq
 * of the last event it applied, and goes away. Meanwhile others change the conversation, over REST
 * and over sockets, through the other instance: every kind of change a member can see. The phone
 * comes back on either instance and applies what it is sent, three ways: `resume {after: positions}`,
 * `resume {since: token}` on the socket, and GET /sync in small pages. Each state must then equal what
 * a fresh device loads over REST, and no event may ever come twice or out of order (applyEvent throws
 * on that). Two instances on one database, over Redis when REDIS_URL is set.
 */

t.comment(`transport between the instances: ${TRANSPORT}`);

const c = await buildCluster(t);
const { a, b } = c;

/** Alice's phone: the replica it keeps, and the seq of the last event it applied (and the sync token it keeps, when it uses one). */
interface Phone {
  replica: ConversationReplica;
  position: { seq: number };
  token?: string;
}

/** Comes back on `app`, resumes after the phone's position, applies everything up to resume.done, then goes away again. */
async function comeBack(t: Test, app: App, account: Account, conversationId: string, phone: Phone): Promise<Frame[]> {
  const socket = await openSocket(t, app, account, '/ws?resume=1');
  const id = sendResume(socket, phone.token ? { since: phone.token } : { after: { [conversationId]: phone.position.seq } });
  const done = await resumeDone(socket, id);
  if (phone.token) phone.token = done.data.syncToken;
  const frames = socket.frames.filter((f) => f.conversationId === conversationId);
  for (const frame of frames) applyEvent(phone.replica, phone.position, frame);
  socket.close();
  await socket.closed();
  return frames;
}

/** Catches up over REST: GET /sync from the phone's token until nothing more waits. */
async function syncOver(app: App, account: Account, conversationId: string, phone: Phone, limit = 3): Promise<Frame[]> {
  const { applied, token } = await syncAll(app, account, phone.token!, limit, (item) => item.conversationId === conversationId && applyEvent(phone.replica, phone.position, item));
  phone.token = token;
  return applied;
}

t.test('every change made while a device was away comes back on resume, once each, in order, and rebuilds what a snapshot shows', async (t) => {
  const [alice, bob, carol, dave] = [await c.user('Alice'), await c.user('Bob'), await c.user('Carol'), await c.user('Dave')];
  const aliceTablet = await c.device(alice, 'tablet');
  const group = await createGroup(b, bob, [alice, carol]);
  const sent: MessageBody[] = [];
  for (const [who, body] of [[bob, 'one'], [carol, 'two'], [bob, 'three'], [carol, 'four']] as const) sent.push(await sendText(b, who, group.id, body));
  const [one, two, three, four] = sent as [MessageBody, MessageBody, MessageBody, MessageBody];
  const bobSocket = await openSocket(t, b, bob);

  // Three phones of Alice's, each holding the same state: one resumes by positions, one by a sync
  // token on the socket, one syncs over REST (in pages of 3).
  const start = async (): Promise<Phone> => ({ token: (await getSync(a, alice, '')).nextToken, replica: await snapshot(a, alice, group.id), position: { seq: (await conversation(a, alice, group.id)).lastSeq } });
  const phone: Phone = { ...(await start()), token: undefined };
  const tokenPhone = await start();
  const restPhone = await start();
  const overSocket = async (type: string, data: Record<string, unknown>) => {
    const reply = await bobSocket.request(type, data);
    if (reply.type === 'error') throw new Error(`${type}: ${JSON.stringify(reply.data)}`);
  };

  const steps: Array<[string, string, () => Promise<unknown>]> = [
    ['an edit (socket)', 'message.updated', () => overSocket('message.edit', { messageId: one.id, body: 'one, edited' })],
    ['a reaction (socket)', 'reaction.updated', () => overSocket('reaction.set', { messageId: two.id, emoji: '👍' })],
    ['a second reaction, then one taken back', 'reaction.updated', async () => {
      await rest(b, carol, 'PUT', `/message/${two.id}/reactions/${encodeURIComponent('🎉')}`);
      await rest(b, bob, 'DELETE', `/message/${two.id}/reactions/${encodeURIComponent('👍')}`);
    }],
    ['a pin', 'pin.updated', () => rest(b, bob, 'POST', `/message/${three.id}/pin`)],
    ['a pin, then an unpin', 'pin.updated', async () => {
      await rest(b, bob, 'POST', `/message/${four.id}/pin`);
      await rest(b, bob, 'DELETE', `/message/${three.id}/pin`);
    }],
    ['a delete for everyone of a pinned message', 'message.deleted', () => rest(b, carol, 'DELETE', `/message/${four.id}?for=everyone`)],
    ['a delete for me on her other device', 'message.hidden', () => rest(b, aliceTablet, 'DELETE', `/message/${one.id}?for=me`)],
    ['a new message, then receipts of another member for it', 'receipt.updated', async () => {
      const five = await sendText(a, bob, group.id, 'five');
      await rest(b, carol, 'POST', `/chat/${group.id}/delivered`, { seq: five.seq });
      await rest(a, carol, 'POST', `/chat/${group.id}/read`, { seq: five.seq });
    }],
    ['a member added', 'member.joined', () => rest(b, bob, 'POST', `/chat/${group.id}/members`, { userIds: [dave.user.id] })],
    ['a member made admin', 'member.updated', () => rest(b, bob, 'PATCH', `/chat/${group.id}/members/${dave.user.id}`, { role: 'admin' })],
    ['a member left', 'member.left', () => rest(b, carol, 'DELETE', `/chat/${group.id}/members/${carol.user.id}`)],
    ['the group renamed and described', 'conversation.updated', () => rest(b, dave, 'PATCH', `/chat/${group.id}`, { title: 'Renamed', description: 'now with a description' })],
    ['her own settings changed on her other device', 'conversation.settings', () => rest(b, aliceTablet, 'PATCH', `/chat/${group.id}/settings`, { muted: true, pinned: true })],
    ['new messages and an edit of one of them', 'message.created', async () => {
      const late = await sendText(b, dave, group.id, 'late');
      await sendText(a, bob, group.id, 'later');
      await rest(b, dave, 'PATCH', `/message/${late.id}`, { body: 'late, edited' });
    }],
    ['everything at once', 'message.updated', async () => {
      await rest(b, bob, 'PATCH', `/message/${three.id}`, { body: 'three, edited' });
      await rest(b, bob, 'PUT', `/message/${three.id}/reactions/${encodeURIComponent('❤️')}`);
      await rest(b, dave, 'POST', `/chat/${group.id}/members`, { userIds: [carol.user.id] });
      await rest(b, aliceTablet, 'PATCH', `/chat/${group.id}/settings`, { muted: false });
    }],
    ['she is removed from the group, and it goes on without her', 'member.left', async () => {
      await rest(b, bob, 'DELETE', `/chat/${group.id}/members/${alice.user.id}`);
      await sendText(b, bob, group.id, 'after Alice');
      await rest(b, bob, 'PATCH', `/chat/${group.id}`, { title: 'Without Alice' });
    }],
  ];

  let instance = 0;
  for (const [label, kind, change] of steps) {
    await change();
    const back = instance++ % 2 === 0 ? a : b;
    const fresh = comparable(await snapshot(a, alice, group.id));
    const frames = await comeBack(t, back, alice, group.id, phone);
    t.ok(frames.some((f) => f.type === kind), `${label}: a ${kind} came back`);
    t.same(comparable(phone.replica), fresh, `${label}: the rebuilt state equals a fresh snapshot (resume by positions)`);
    await comeBack(t, back === a ? b : a, alice, group.id, tokenPhone);
    t.same(comparable(tokenPhone.replica), fresh, `${label}: and so it does resuming by sync token`);
    const synced = await syncOver(back, alice, group.id, restPhone);
    t.ok(synced.some((item) => item.type === kind), `${label}: GET /sync has the ${kind}`);
    t.same(comparable(restPhone.replica), fresh, `${label}: and so it does over GET /sync`);
  }
  for (const each of [phone, tokenPhone, restPhone]) {
    t.equal(each.replica.left, true, 'in the end she is out');
    t.notOk(Object.values(each.replica.messages).some((m) => m.body === 'after Alice'), 'and saw nothing said after');
  }
});

t.test('a device that resumes with nothing missed gets nothing again', async (t) => {
  const [alice, bob] = [await c.user('Alice'), await c.user('Bob')];
  const group = await createGroup(a, bob, [alice]);
  await sendText(a, bob, group.id, 'hello');
  await rest(a, bob, 'PATCH', `/chat/${group.id}`, { title: 'Named' });
  const phone: Phone = { replica: await snapshot(a, alice, group.id), position: { seq: (await conversation(a, alice, group.id)).lastSeq } };
  const tokenPhone: Phone = { ...phone, replica: await snapshot(a, alice, group.id), position: { ...phone.position }, token: (await getSync(a, alice, '')).nextToken };
  const frames = await comeBack(t, b, alice, group.id, phone);
  t.same(frames.filter((f) => f.type !== 'resume.done').map((f) => f.type), [], 'no event (by positions)');
  const byToken = await comeBack(t, a, alice, group.id, tokenPhone);
  t.same(byToken.filter((f) => f.type !== 'resume.done').map((f) => f.type), [], 'no event (by token)');
  t.same((await getSync(b, alice, `since=${tokenPhone.token}`)).items, [], 'and GET /sync has nothing either');
});

t.test('removed and added back at once: a socket on the other instance delivers the leave, the join and what follows', async (t) => {
  const [alice, bob] = [await c.user('Alice'), await c.user('Bob')];
  const group = await createGroup(a, bob, [alice]);
  const socket = await openSocket(t, b, alice);
  const phone: Phone = { replica: await snapshot(a, alice, group.id), position: { seq: (await conversation(a, alice, group.id)).lastSeq } };
  await rest(a, bob, 'DELETE', `/chat/${group.id}/members/${alice.user.id}`);
  await rest(a, bob, 'POST', `/chat/${group.id}/members`, { userIds: [alice.user.id] });
  const back = await sendText(a, bob, group.id, 'welcome back');
  await waitUntil('the message after the rejoin', () => socket.frames.some((f) => f.type === 'message.created' && f.data.id === back.id));
  const later = await sendText(b, bob, group.id, 'and later');
  await waitUntil('a later one too', () => socket.frames.some((f) => f.type === 'message.created' && f.data.id === later.id));
  const types = socket.frames.filter((f) => f.conversationId === group.id && typeof (f as { seq?: unknown }).seq === 'number').map((f) => f.type);
  t.same(types, ['member.left', 'member.joined', 'message.created', 'message.created'], 'in order, once each');
  for (const frame of socket.frames.filter((f) => f.conversationId === group.id)) applyEvent(phone.replica, phone.position, frame);
  t.same([phone.replica.left, phone.replica.members[alice.user.id]], [false, 'member'], 'she is a member again');
});
