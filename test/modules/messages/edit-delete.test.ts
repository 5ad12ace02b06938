import { randomUUID } from 'node:crypto';
import t from 'tap';
import { type Account, call, expectStatus } from '../../support/accounts.js';
import { type MessageBody, buildChatApp, createGroup, directChat, eventually, history, recordEvents, sendText } from '../../support/chat.js';
import { backdate, deleteMessage, expectProblem, getMessage, makeAdmin, satelliteRows, seqsOf, sleep } from './fixtures.js';

/*
 * PATCH /message/:id (sender only, within the edit window, versions kept), GET /message/:id/versions,
 * DELETE /message/:id for me or for everyone (tombstones), and their events.
 */

const h = await buildChatApp(t);
const { app } = h;

const edit = (actor: Account, id: string, payload: unknown) => call(app, 'PATCH', `/message/${id}`, { token: actor.accessToken, payload });
const versions = async (actor: Account, id: string) =>
  expectStatus<{ items: Array<{ version: number; body: string | null; createdAt: string }> }>(await call(app, 'GET', `/message/${id}/versions`, { token: actor.accessToken }), 200, 'versions');

t.test('the sender edits: new body, editedAt set, the earlier bodies kept as versions', async (t) => {
  const [a, b, outsider] = [await h.user(), await h.user(), await h.user()];
  const chat = await directChat(app, a, b);
  const sent = await sendText(app, a, chat.id, 'v1');
  t.strictSame((await versions(a, sent.id)).items, [], 'no versions before an edit');
  const events = await recordEvents(t, app, `conversation:${chat.id}`);

  const response = await edit(a, sent.id, { body: 'v2' });
  t.equal(response.statusCode, 200);
  const edited = response.json() as MessageBody;
  t.match(edited, { id: sent.id, seq: sent.seq, body: 'v2', createdAt: sent.createdAt, clientId: sent.clientId }, 'same message, new body');
  t.ok(edited.editedAt && Date.parse(edited.editedAt) >= Date.parse(sent.createdAt), 'editedAt set');
  t.strictSame(await getMessage(app, b, sent.id), edited, 'everyone reads the edited message');
  t.equal((await history(app, b, chat.id)).items[0]?.body, 'v2', 'history too');
  await eventually(() => events.some((e) => e.type === 'message.updated'));
  t.strictSame(events.find((e) => e.type === 'message.updated')!.data, edited, 'message.updated carries the edited message');

  await sleep(5);
  t.equal((await edit(a, sent.id, { body: 'v3' })).statusCode, 200);
  const list = (await versions(b, sent.id)).items;
  t.same(list.map((v) => v.body), ['v1', 'v2'], 'earlier bodies, oldest first (a member may read them)');
  t.ok(list[0]!.version < list[1]!.version, 'versions count up');
  t.ok(list.every((v) => Date.parse(v.createdAt) > 0), 'with their time');
  expectProblem(t, await call(app, 'GET', `/message/${sent.id}/versions`, { token: outsider.accessToken }), 404, 'MESSAGE_NOT_FOUND', 'versions for a non-member');
});

t.test('concurrent edits each keep the body they replaced', async (t) => {
  const [a, b] = [await h.user(), await h.user()];
  const chat = await directChat(app, a, b);
  const sent = await sendText(app, a, chat.id, 'v0');
  const bodies = ['v1', 'v2', 'v3', 'v4', 'v5'];
  const responses = await Promise.all(bodies.map((body) => edit(a, sent.id, { body })));
  t.same(responses.map((r) => r.statusCode), [200, 200, 200, 200, 200], 'every edit answered 200');
  const list = (await versions(a, sent.id)).items;
  const current = (await getMessage(app, b, sent.id)).body;
  t.same([...list.map((v) => v.body), current].sort(), ['v0', ...bodies], 'every body once: 5 versions and the current one');
  t.equal(list[0]!.body, 'v0', 'the original is the oldest version');
  t.equal(new Set(list.map((v) => v.version)).size, 5, 'distinct version numbers');
});

t.test('bad edits are refused and change nothing', async (t) => {
  const [a, b, outsider] = [await h.user(), await h.user(), await h.user()];
  const chat = await directChat(app, a, b);
  const sent = await sendText(app, a, chat.id, 'original');
  expectProblem(t, await edit(b, sent.id, { body: 'hijacked' }), 403, 'NOT_MESSAGE_SENDER', 'the other member');
  expectProblem(t, await edit(outsider, sent.id, { body: 'hijacked' }), 404, 'MESSAGE_NOT_FOUND', 'a non-member');
  expectProblem(t, await edit(a, randomUUID(), { body: 'x' }), 404, 'MESSAGE_NOT_FOUND', 'no such message');
  expectProblem(t, await edit(a, sent.id, { body: 'x'.repeat(4097) }), 400, 'MESSAGE_TOO_LONG', 'too long');
  t.equal((await edit(a, sent.id, { body: '   ' })).statusCode, 400, 'a blank body');
  const now = await getMessage(app, a, sent.id);
  t.equal(now.body, 'original', 'body unchanged');
  t.equal(now.editedAt, null, 'never edited');
  t.strictSame((await versions(a, sent.id)).items, [], 'no versions');
});

t.test('an edit with an unknown field is refused, not trimmed', async (t) => {
  const [a, b] = [await h.user(), await h.user()];
  const chat = await directChat(app, a, b);
  const sent = await sendText(app, a, chat.id, 'original');
  expectProblem(t, await edit(a, sent.id, { body: 'changed', pinned: true }), 400, 'VALIDATION_FAILED', 'an unknown field');
  t.match(await getMessage(app, a, sent.id), { body: 'original', editedAt: null }, 'unchanged');
});

t.test('after the edit window the sender can neither edit nor delete for everyone', async (t) => {
  const [a, b] = [await h.user(), await h.user()];
  const chat = await directChat(app, a, b);
  const sent = await sendText(app, a, chat.id, 'carved in stone');
  const fresh = await sendText(app, a, chat.id, 'still fresh');
  await backdate(app, sent.id, 901);
  await backdate(app, fresh.id, 880);
  expectProblem(t, await edit(a, sent.id, { body: 'too late' }), 403, 'EDIT_WINDOW_EXPIRED', 'edit after 901 s');
  t.equal((await deleteMessage(app, a, sent.id, 'everyone')).statusCode, 403, 'delete for everyone after 901 s');
  const now = await getMessage(app, a, sent.id);
  t.match(now, { body: 'carved in stone', editedAt: null, deletedAt: null }, 'unchanged');
  t.strictSame((await versions(a, sent.id)).items, [], 'no version written');
  t.equal((await edit(a, fresh.id, { body: 'edited in time' })).statusCode, 200, 'within 900 s editing works');
  t.equal((await deleteMessage(app, a, sent.id, 'me')).statusCode, 204, 'deleting for yourself has no window');
});

t.test('delete for everyone leaves a tombstone and removes reactions, pins and versions', async (t) => {
  const [a, b] = [await h.user(), await h.user()];
  const group = await createGroup(app, a, [b]);
  await sendText(app, a, group.id, 'one');
  const target = await sendText(app, a, group.id, 'two', { mentions: [b.user.id] });
  await sendText(app, b, group.id, 'three', { replyToId: target.id });
  expectStatus(await edit(a, target.id, { body: 'two, edited' }), 200, 'edit');
  t.match((await history(app, b, group.id)).items[2]!.replyTo, { id: target.id, body: 'two, edited', deleted: false }, 'a reply previews the message as it is now');
  expectStatus(await call(app, 'PUT', `/message/${target.id}/reactions/%F0%9F%91%8D`, { token: b.accessToken }), 200, 'react');
  expectStatus(await call(app, 'POST', `/message/${target.id}/pin`, { token: b.accessToken }), 204, 'pin');
  t.strictSame(await satelliteRows(app, target.id), { versions: 1, reactions: 1, pins: 1 }, 'arranged: a version, a reaction, a pin');
  const events = await recordEvents(t, app, `conversation:${group.id}`);

  t.equal((await deleteMessage(app, a, target.id, 'everyone')).statusCode, 204);
  for (const reader of [a, b]) {
    const page = await history(app, reader, group.id);
    t.same(seqsOf(page.items), [1, 2, 3], 'the seq stays in everyone\u2019s history: gaps stay detectable');
    const tomb = page.items[1]!;
    t.match(tomb, { id: target.id, seq: 2, body: null, mentions: [], reactions: [] }, 'a tombstone');
    t.ok(tomb.deletedAt && Date.parse(tomb.deletedAt) > 0, 'deletedAt set');
    t.equal(page.items[0]!.deletedAt, null, 'the neighbours are untouched');
    t.strictSame(page.items[2]!.replyTo, { id: target.id, seq: 2, senderId: a.user.id, type: 'text', body: null, deleted: true }, 'the reply previews a deleted message');
  }
  t.strictSame(await satelliteRows(app, target.id), { versions: 0, reactions: 0, pins: 0 }, 'versions, reactions and pins removed');
  t.strictSame(expectStatus<{ items: unknown[] }>(await call(app, 'GET', `/chat/${group.id}/pins`, { token: a.accessToken }), 200, 'pins').items, [], 'no pins listed');
  t.strictSame((await versions(a, target.id)).items, [], 'no versions listed');
  await eventually(() => events.some((e) => e.type === 'message.deleted'));
  t.match(events.find((e) => e.type === 'message.deleted')!.data, { id: target.id, seq: 2, body: null, mentions: [], reactions: [] }, 'message.deleted carries the tombstone');
  t.ok(events.find((e) => e.type === 'message.deleted')!.data.deletedAt, 'with deletedAt');

  expectProblem(t, await edit(a, target.id, { body: 'resurrect' }), 409, 'MESSAGE_DELETED', 'editing a deleted message');
  t.equal((await getMessage(app, b, target.id)).body, null, 'still a tombstone');
});

t.test('in a group only the sender, the owner or an admin deletes for everyone', async (t) => {
  const [owner, admin, x, y] = [await h.user(), await h.user(), await h.user(), await h.user()];
  const group = await createGroup(app, owner, [admin, x, y]);
  await makeAdmin(app, owner, group.id, admin.user.id);
  const [m1, m2, m3] = [await sendText(app, x, group.id, 'by x'), await sendText(app, y, group.id, 'by y'), await sendText(app, x, group.id, 'old, by x')];

  t.equal((await deleteMessage(app, y, m1.id, 'everyone')).statusCode, 403, 'another member is refused');
  t.equal((await getMessage(app, owner, m1.id)).deletedAt, null, 'not deleted');
  t.equal((await deleteMessage(app, admin, m1.id, 'everyone')).statusCode, 204, 'an admin');
  t.equal((await deleteMessage(app, owner, m2.id, 'everyone')).statusCode, 204, 'the owner');
  await backdate(app, m3.id, 86_400);
  t.equal((await deleteMessage(app, admin, m3.id, 'everyone')).statusCode, 204, 'an admin at any time');
  for (const m of [m1, m2, m3]) t.not((await getMessage(app, y, m.id)).deletedAt, null, `${m.body}: a tombstone`);
  expectProblem(t, await deleteMessage(app, await h.user(), m1.id, 'everyone'), 404, 'MESSAGE_NOT_FOUND', 'a non-member');
});

t.test('in a direct chat the other side cannot delete for everyone', async (t) => {
  const [a, b] = [await h.user(), await h.user()];
  const chat = await directChat(app, a, b);
  const sent = await sendText(app, a, chat.id, 'mine');
  t.equal((await deleteMessage(app, b, sent.id, 'everyone')).statusCode, 403, 'the peer is refused');
  t.equal((await getMessage(app, a, sent.id)).body, 'mine', 'unchanged');
  expectProblem(t, await call(app, 'DELETE', `/message/${sent.id}?for=nobody`, { token: a.accessToken }), 400, 'VALIDATION_FAILED', 'for=nobody');
  t.equal((await getMessage(app, b, sent.id)).deletedAt, null, 'still not deleted');
});
