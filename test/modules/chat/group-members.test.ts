import t from 'tap';
import { problemOf } from '../../helper.js';
import { type Account, call, expectStatus } from '../../support/accounts.js';
import { type MemberBody, buildChatApp, conversation, createGroup, directChat, history, listMembers, newClientId, sendText } from '../../support/chat.js';

/*
 * Group membership after creation: removing and leaving (a former member keeps what was said while
 * they were in, and nothing after), handing ownership on, roles, and the members list.
 */

const h = await buildChatApp(t);
const { app } = h;

const users = async (n: number) => {
  const list: Account[] = [];
  for (let i = 0; i < n; i++) list.push(await h.user());
  return list;
};
const remove = (by: Account, id: string, userId: string) => call(app, 'DELETE', `/chat/${id}/members/${userId}`, { token: by.accessToken });
const add = async (by: Account, id: string, who: Account) =>
  expectStatus(await call(app, 'POST', `/chat/${id}/members`, { token: by.accessToken, payload: { userIds: [who.user.id] } }), 201, 'add member');
const setRole = (by: Account, id: string, userId: string, role: string) =>
  call(app, 'PATCH', `/chat/${id}/members/${userId}`, { token: by.accessToken, payload: { role } });
const roles = async (reader: Account, id: string) =>
  Object.fromEntries((await listMembers(app, reader, id)).map((m) => [m.user.id, m.role] as const));
const bodies = async (reader: Account, id: string) => (await history(app, reader, id)).items.map((m) => m.body);

/** A group whose members join one call after another, so "earliest" is well defined. */
async function groupInOrder(owner: Account, members: Account[]) {
  const group = await createGroup(app, owner, []);
  for (const member of members) await add(owner, group.id, member);
  return group;
}

t.test('admins remove members, never the owner; members remove nobody but themselves', async (t) => {
  const owner = await h.user();
  const [admin, m1, m2] = await users(3);
  const group = await createGroup(app, owner, [admin!, m1!, m2!]);
  expectStatus(await setRole(owner, group.id, admin!.user.id, 'admin'), 200, 'promote');

  const byMember = await remove(m1!, group.id, m2!.user.id);
  t.equal(byMember.statusCode, 403, 'a member cannot remove another');
  t.equal(problemOf(t, byMember).code, 'NOT_GROUP_ADMIN');
  t.equal((await remove(admin!, group.id, owner.user.id)).statusCode, 403, 'an admin cannot remove the owner');
  t.equal(Object.keys(await roles(owner, group.id)).length, 4, 'nobody was removed');

  t.equal((await remove(admin!, group.id, m2!.user.id)).statusCode, 204, 'an admin removes a member');
  const after = await roles(owner, group.id);
  t.notOk(m2!.user.id in after, 'no longer listed');
  t.equal((await conversation(app, owner, group.id)).memberCount, 3);
  const removed = await conversation(app, m2!, group.id);
  t.equal(removed.left, true, 'the removed member sees they are out');
  const send = await call(app, 'POST', '/message', { token: m2!.accessToken, payload: { conversationId: group.id, clientId: newClientId(), type: 'text', body: 'hi' } });
  t.equal(send.statusCode, 403);
  t.equal(problemOf(t, send).code, 'NOT_A_MEMBER');
});

t.test('a member who leaves keeps the history up to the leave, sees nothing later and cannot send', async (t) => {
  const owner = await h.user();
  const [leaver] = await users(1);
  const group = await createGroup(app, owner, [leaver!]);
  await sendText(app, owner, group.id, 'before');

  t.equal((await remove(leaver!, group.id, leaver!.user.id)).statusCode, 204, 'leaving is removing yourself');
  await sendText(app, owner, group.id, 'after');

  const view = await conversation(app, leaver!, group.id);
  t.equal(view.left, true);
  t.ok(view.leftAt && Date.parse(view.leftAt) > 0, 'with the time of leaving');
  t.equal(view.unreadCount, 1, 'unread stops at the leave');
  t.equal(view.lastMessage?.body, 'before', 'the last message they can see');
  t.same(await bodies(leaver!, group.id), ['before'], 'history up to the leave only');
  t.same(await bodies(owner, group.id), ['before', 'after'], 'the others see everything');
  const send = await call(app, 'POST', '/message', { token: leaver!.accessToken, payload: { conversationId: group.id, clientId: newClientId(), type: 'text', body: 'let me in' } });
  t.equal(send.statusCode, 403);
  t.equal(problemOf(t, send).code, 'NOT_A_MEMBER');
  t.same(await bodies(owner, group.id), ['before', 'after'], 'nothing was written');
  t.equal((await conversation(app, owner, group.id)).memberCount, 1);

  await add(owner, group.id, leaver!);
  await sendText(app, owner, group.id, 'welcome back');
  const back = await conversation(app, leaver!, group.id);
  t.equal(back.left, false, 'a member again');
  const seen = await bodies(leaver!, group.id);
  t.notOk(seen.includes('after'), 'what was said while away stays hidden');
  t.ok(seen.includes('welcome back'), 'what is said after the rejoin is seen');
});

t.test('when the owner leaves, the earliest admin becomes owner', async (t) => {
  const owner = await h.user();
  const [member, firstAdmin, secondAdmin] = await users(3);
  const group = await groupInOrder(owner, [member!, firstAdmin!, secondAdmin!]);
  expectStatus(await setRole(owner, group.id, secondAdmin!.user.id, 'admin'), 200, 'promote second');
  expectStatus(await setRole(owner, group.id, firstAdmin!.user.id, 'admin'), 200, 'promote first');

  t.equal((await remove(owner, group.id, owner.user.id)).statusCode, 204);
  const now = await roles(member!, group.id);
  t.same(now, { [member!.user.id]: 'member', [firstAdmin!.user.id]: 'owner', [secondAdmin!.user.id]: 'admin' }, 'the admin who joined first owns it');
  t.equal((await conversation(app, firstAdmin!, group.id)).role, 'owner');
  t.equal((await conversation(app, owner, group.id)).left, true);
});

t.test('when the owner leaves and there is no admin, the earliest member becomes owner', async (t) => {
  const owner = await h.user();
  const [first, second] = await users(2);
  const group = await groupInOrder(owner, [first!, second!]);
  t.equal((await remove(owner, group.id, owner.user.id)).statusCode, 204);
  t.same(await roles(second!, group.id), { [first!.user.id]: 'owner', [second!.user.id]: 'member' });
  t.equal((await call(app, 'PATCH', `/chat/${group.id}`, { token: first!.accessToken, payload: { title: 'Mine now' } })).statusCode, 200, 'the new owner may edit');
});

t.test('the owner and admins set roles; the owner keeps theirs; members set none', async (t) => {
  const owner = await h.user();
  const [a, b, m] = await users(3);
  const group = await createGroup(app, owner, [a!, b!, m!]);

  const promoted = await setRole(owner, group.id, a!.user.id, 'admin');
  t.equal(promoted.statusCode, 200);
  const body = promoted.json() as MemberBody;
  t.equal(body.user.id, a!.user.id, 'the member is answered');
  t.equal(body.role, 'admin');
  t.equal((await setRole(a!, group.id, b!.user.id, 'admin')).statusCode, 200, 'an admin promotes');
  t.equal((await setRole(a!, group.id, b!.user.id, 'member')).statusCode, 200, 'and demotes');

  const byMember = await setRole(m!, group.id, a!.user.id, 'member');
  t.equal(byMember.statusCode, 403, 'a member may not');
  t.equal(problemOf(t, byMember).code, 'NOT_GROUP_ADMIN');
  const ownerByAdmin = await setRole(a!, group.id, owner.user.id, 'member');
  t.equal(ownerByAdmin.statusCode, 403, "an admin cannot change the owner's role");
  t.equal((await setRole(owner, group.id, owner.user.id, 'admin')).statusCode, 403, 'nor the owner their own');
  const asOwner = await setRole(owner, group.id, b!.user.id, 'owner');
  t.equal(asOwner.statusCode, 400, 'owner is not a role one can give');
  t.equal(problemOf(t, asOwner).code, 'VALIDATION_FAILED');

  t.same(await roles(owner, group.id), { [owner.user.id]: 'owner', [a!.user.id]: 'admin', [b!.user.id]: 'member', [m!.user.id]: 'member' }, 'only the allowed changes happened');
  t.equal((await conversation(app, a!, group.id)).role, 'admin', 'the conversation shows your role');
});

t.test('the members list pages earliest first; bad limits and cursors are refused', async (t) => {
  const owner = await h.user();
  const members = await users(6);
  const group = await groupInOrder(owner, members);
  const expected = [owner, ...members].map((a) => a.user.id);

  const seen: string[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const query: string = `limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const page = expectStatus<{ items: MemberBody[]; nextCursor: string | null }>(
      await call(app, 'GET', `/chat/${group.id}/members?${query}`, { token: members[2]!.accessToken }),
      200,
      'members page',
    );
    t.ok(page.items.length <= 2, 'at most limit items');
    seen.push(...page.items.map((m) => m.user.id));
    cursor = page.nextCursor;
    pages += 1;
  } while (cursor && pages < 10);
  t.same(seen, expected, 'every member once, earliest joined first');
  t.equal(pages, 4, '7 members in pages of 2');
  t.same((await conversation(app, members[0]!, group.id)).membersPreview.map((u) => u.id), expected.slice(0, 5), 'the preview: the first five to join');

  const tooMany = await call(app, 'GET', `/chat/${group.id}/members?limit=101`, { token: owner.accessToken });
  t.equal(tooMany.statusCode, 400);
  t.equal(problemOf(t, tooMany).code, 'VALIDATION_FAILED');
  const badCursor = await call(app, 'GET', `/chat/${group.id}/members?cursor=bm90LWpzb24`, { token: owner.accessToken });
  t.equal(badCursor.statusCode, 400);
  t.equal(problemOf(t, badCursor).code, 'INVALID_CURSOR');
  const outsider = await h.user();
  const peek = await call(app, 'GET', `/chat/${group.id}/members`, { token: outsider.accessToken });
  t.equal(peek.statusCode, 404);
  t.equal(problemOf(t, peek).code, 'CONVERSATION_NOT_FOUND');
});

t.test('a direct chat has no membership to change: 400 NOT_A_GROUP', async (t) => {
  const one = await h.user();
  const two = await h.user();
  const third = await h.user();
  const chat = await directChat(app, one, two);

  const leave = await remove(one, chat.id, one.user.id);
  t.equal(leave.statusCode, 400, 'no leaving a direct chat');
  t.equal(problemOf(t, leave).code, 'NOT_A_GROUP');
  const kick = await remove(one, chat.id, two.user.id);
  t.equal(kick.statusCode, 400);
  t.equal(problemOf(t, kick).code, 'NOT_A_GROUP');
  const grow = await call(app, 'POST', `/chat/${chat.id}/members`, { token: one.accessToken, payload: { userIds: [third.user.id] } });
  t.equal(grow.statusCode, 400, 'no adding to a direct chat');
  t.equal(problemOf(t, grow).code, 'NOT_A_GROUP');
  const rename = await call(app, 'PATCH', `/chat/${chat.id}`, { token: one.accessToken, payload: { title: 'Us' } });
  t.equal(rename.statusCode, 400, 'a direct chat takes retention only');

  const view = await conversation(app, one, chat.id);
  t.equal(view.left, false, 'still in it');
  t.equal(view.memberCount, 2);
  t.equal(view.title, two.user.displayName, 'the title is still the peer');
  t.equal((await call(app, 'GET', `/chat/${chat.id}`, { token: third.accessToken })).statusCode, 404, 'the third person was not added');
});
