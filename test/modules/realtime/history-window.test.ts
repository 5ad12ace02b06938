import t from 'tap';
import { createGroup, sendText } from '../../support/chat.js';
import { rest } from '../../support/sync-client.js';
import type { Frame } from '../../support/ws-client.js';
import { TRANSPORT, buildCluster, openSocket, waitUntil } from './cluster-support.js';

/*
 * A member's history of a conversation starts where they joined (or cleared it): changes about older
 * messages (an edit, a reaction, a pin, a delete for everyone) are not theirs, live or replayed. A
 * member added later must not read an old message's new text off the socket.
 */

t.comment(`transport between the instances: ${TRANSPORT}`);
const c = await buildCluster(t);
const { a, b } = c;

/** The changes about older messages a writer makes, then a new message that marks the end. */
async function touchOld(messageId: string, writer: Parameters<typeof rest>[1], conversationId: string) {
  await rest(a, writer, 'PATCH', `/message/${messageId}`, { body: 'secret, edited' });
  await rest(b, writer, 'PUT', `/message/${messageId}/reactions/${encodeURIComponent('👍')}`);
  await rest(a, writer, 'POST', `/message/${messageId}/pin`);
  await rest(b, writer, 'DELETE', `/message/${messageId}?for=everyone`);
  return sendText(a, writer, conversationId, 'after');
}

const aboutMessage = (frames: Frame[], messageId: string) => frames.filter((f) => f.data?.id === messageId || f.data?.messageId === messageId).map((f) => f.type);

t.test('a member added later gets no change about messages from before, on /ws and on a room socket, on either instance', async (t) => {
  const [alice, carol] = [await c.user('Alice'), await c.user('Carol')];
  const group = await createGroup(a, alice, []);
  const old = await sendText(a, alice, group.id, 'secret before Carol');
  await rest(a, alice, 'POST', `/chat/${group.id}/members`, { userIds: [carol.user.id] });
  const device = await openSocket(t, b, carol);
  const room = await openSocket(t, a, carol, `/ws/chat/${group.roomName}`);
  const after = await touchOld(old.id, alice, group.id);
  for (const [name, socket] of [['/ws', device], ['room', room]] as const) {
    await waitUntil(`${name} gets the new message`, () => socket.frames.some((f) => f.type === 'message.created' && f.data.id === after.id));
    t.same(aboutMessage(socket.frames, old.id), [], `${name}: nothing about the old message`);
    t.notOk(JSON.stringify(socket.frames).includes('secret'), `${name}: its text never reaches her`);
  }
});

t.test('a member who joins while connected: changes about older messages stay out; about newer ones come', async (t) => {
  const [alice, carol] = [await c.user('Alice'), await c.user('Carol')];
  const group = await createGroup(a, alice, []);
  const old = await sendText(a, alice, group.id, 'secret before Carol');
  const socket = await openSocket(t, b, carol);
  await rest(a, alice, 'POST', `/chat/${group.id}/members`, { userIds: [carol.user.id] });
  await waitUntil('she follows the group', () => socket.frames.some((f) => f.type === 'member.joined'));
  const fresh = await sendText(b, alice, group.id, 'hello Carol');
  await rest(a, alice, 'PATCH', `/message/${fresh.id}`, { body: 'hello Carol, edited' });
  const after = await touchOld(old.id, alice, group.id);
  await waitUntil('the last message', () => socket.frames.some((f) => f.type === 'message.created' && f.data.id === after.id));
  t.same(aboutMessage(socket.frames, old.id), [], 'nothing about the message from before she joined');
  t.same(aboutMessage(socket.frames, fresh.id), ['message.created', 'message.updated'], 'the one sent after, and its edit');
});

t.test('after clearing the history on another device, changes about the cleared messages stay out', async (t) => {
  const [alice, bob] = [await c.user('Alice'), await c.user('Bob')];
  const tablet = await c.device(alice, 'tablet');
  const group = await createGroup(a, bob, [alice]);
  const old = await sendText(a, bob, group.id, 'before the clear');
  const phone = await openSocket(t, b, alice);
  await rest(a, tablet, 'POST', `/chat/${group.id}/clear`);
  await waitUntil('the clear reaches the phone', () => phone.frames.some((f) => f.type === 'conversation.cleared'));
  const after = await touchOld(old.id, bob, group.id);
  await waitUntil('the last message', () => phone.frames.some((f) => f.type === 'message.created' && f.data.id === after.id));
  t.same(aboutMessage(phone.frames, old.id), [], 'nothing about the cleared message');
});
