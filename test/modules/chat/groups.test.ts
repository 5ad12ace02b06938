import { randomUUID } from 'node:crypto';
import t from 'tap';
import { problemOf } from '../../helper.js';
import { type Account, call, expectStatus } from '../../support/accounts.js';
import { type ConversationBody, type MemberBody, block, buildChatApp, conversation, createGroup, eventually, inbox, listMembers, recordEvents } from '../../support/chat.js';

/*
 * Groups: creating one, editing it (owner and admins only), adding members (admins only, duplicates
 * ignored, blocked people refused), and the events each change publishes.
 */

const h = await buildChatApp(t);
const { app } = h;

const ids = (members: MemberBody[]) => members.map((m) => m.user.id).sort();
const users = async (n: number) => {
  const list: Account[] = [];
  for (let i = 0; i < n; i++) list.push(await h.user());
  return list;
};
const addMembers = (by: Account, id: string, userIds: string[]) => call(app, 'POST', `/chat/${id}/members`, { token: by.accessToken, payload: { userIds } });
const patch = (by: Account, id: string, payload: unknown) => call(app, 'PATCH', `/chat/${id}`, { token: by.accessToken, payload });
const setRole = (by: Account, id: string, userId: string, role: string) =>
  call(app, 'PATCH', `/chat/${id}/members/${userId}`, { token: by.accessToken, payload: { role } });

t.test('the creator owns the new group; counts and a preview of at most 5 members', async (t) => {
  const owner = await h.user('Group Owner');
  const members = await users(6);
  const group = await createGroup(app, owner, members, { title: 'Weekend trip', description: 'Bring boots' });
  t.equal(group.kind, 'group');
  t.equal(group.title, 'Weekend trip');
  t.equal(group.description, 'Bring boots');
  t.equal(group.role, 'owner', 'the creator is the owner');
  t.equal(group.memberCount, 7, 'six members and the owner');
  t.equal(group.peer, null, 'no peer in a group');
  t.equal(group.membersPreview.length, 5, 'the preview stops at 5');
  const everyone = [owner, ...members].map((a) => a.user.id);
  t.ok(group.membersPreview.every((u) => everyone.includes(u.id)), 'the preview shows members only');
  t.equal(new Set(group.membersPreview.map((u) => u.id)).size, 5, 'each once');

  const asMember = await conversation(app, members[0]!, group.id);
  t.equal(asMember.role, 'member', 'the others are members');
  t.equal(asMember.memberCount, 7);
  t.equal(asMember.title, 'Weekend trip');
  const listed = await listMembers(app, members[5]!, group.id);
  t.same(ids(listed), [...everyone].sort(), 'every member is listed');
  t.same(listed.filter((m) => m.role === 'owner').map((m) => m.user.id), [owner.user.id], 'one owner');
  const outsider = await h.user();
  const peek = await call(app, 'GET', `/chat/${group.id}`, { token: outsider.accessToken });
  t.equal(peek.statusCode, 404);
  t.equal(problemOf(t, peek).code, 'CONVERSATION_NOT_FOUND');
});

t.test('a group with someone unknown or blocked (either way), or a bad body, is not created', async (t) => {
  const owner = await h.user();
  const [friend, blockedByOwner, blockerOfOwner] = await users(3);
  await block(app, owner, blockedByOwner!);
  await block(app, blockerOfOwner!, owner);
  const create = (payload: Record<string, unknown>) => call(app, 'POST', '/chat/groups', { token: owner.accessToken, payload: { title: 'G', ...payload } });

  for (const [memberIds, label] of [
    [[friend!.user.id, randomUUID()], 'an unknown user'],
    [[friend!.user.id, blockedByOwner!.user.id], 'someone the owner blocked'],
    [[friend!.user.id, blockerOfOwner!.user.id], 'someone who blocked the owner'],
  ] as const) {
    const response = await create({ memberIds });
    t.equal(response.statusCode, 404, label);
    t.equal(problemOf(t, response).code, 'USER_NOT_FOUND');
  }
  for (const [payload, label] of [
    [{ memberIds: [friend!.user.id, friend!.user.id] }, 'the same member twice'],
    [{ memberIds: [], title: '' }, 'an empty title'],
    [{ memberIds: [], title: '   ' }, 'a blank title'],
    [{ memberIds: [], colour: 'red' }, 'an unknown field'],
    [{ memberIds: [], avatar: 'http://example.test/a.png' }, 'a non-https avatar'],
    [{ memberIds: ['nobody'] }, 'a malformed id'],
  ] as const) {
    const response = await create(payload);
    t.equal(response.statusCode, 400, label);
    t.equal(problemOf(t, response).code, 'VALIDATION_FAILED');
  }
  t.same((await inbox(app, owner)).items, [], 'nothing was created for the owner');
  t.same((await inbox(app, friend!)).items, [], 'nor for the friend');
});

t.test('only the owner and admins edit a group; a refused edit changes nothing', async (t) => {
  const owner = await h.user();
  const [admin, member] = await users(2);
  const group = await createGroup(app, owner, [admin!, member!], { title: 'Original' });
  const promoted = await setRole(owner, group.id, admin!.user.id, 'admin');
  t.equal(promoted.statusCode, 200);
  t.equal((promoted.json() as MemberBody).role, 'admin');

  const refused = await patch(member!, group.id, { title: 'Hijacked' });
  t.equal(refused.statusCode, 403, 'a plain member may not edit');
  t.equal(problemOf(t, refused).code, 'NOT_GROUP_ADMIN');
  t.equal((await conversation(app, owner, group.id)).title, 'Original', 'the title is unchanged');

  const edited = await patch(admin!, group.id, { title: 'Renamed', description: 'New rules', avatar: 'https://example.test/g.png' });
  t.equal(edited.statusCode, 200, 'an admin may');
  t.equal((edited.json() as ConversationBody).title, 'Renamed');
  const seen = await conversation(app, member!, group.id);
  t.equal(seen.title, 'Renamed', 'every member sees the change');
  t.equal(seen.description, 'New rules');
  t.equal(seen.avatarUrl, 'https://example.test/g.png');
  t.equal((await patch(owner, group.id, { description: null })).statusCode, 200, 'the owner may clear the description');
  t.equal((await patch(owner, group.id, { avatar: null })).statusCode, 200, 'and the avatar');
  const cleared = await conversation(app, member!, group.id);
  t.equal(cleared.description, null, 'the description is null again');
  t.equal(cleared.avatarUrl, null, 'so is the avatar');

  for (const [payload, label] of [
    [{}, 'an empty patch'],
    [{ title: '' }, 'an empty title'],
    [{ title: ' \t ' }, 'a blank title'],
    [{ kind: 'direct' }, 'an unknown field'],
  ] as const) {
    const response = await patch(owner, group.id, payload);
    t.equal(response.statusCode, 400, label);
    t.equal(problemOf(t, response).code, 'VALIDATION_FAILED');
  }
  t.equal((await conversation(app, owner, group.id)).title, 'Renamed', 'still the last good title');
  const outsider = await h.user();
  t.equal((await patch(outsider, group.id, { title: 'x' })).statusCode, 404, 'an outsider does not see the group');
});

t.test('admins add members: 201 with who was added; duplicates ignored; members may not add', async (t) => {
  const owner = await h.user();
  const [member, x, y, z] = await users(4);
  const group = await createGroup(app, owner, [member!]);

  const byMember = await addMembers(member!, group.id, [x!.user.id]);
  t.equal(byMember.statusCode, 403, 'a plain member may not add');
  t.equal(problemOf(t, byMember).code, 'NOT_GROUP_ADMIN');
  t.same(ids(await listMembers(app, owner, group.id)), [owner.user.id, member!.user.id].sort(), 'nobody was added');

  const first = await addMembers(owner, group.id, [x!.user.id, y!.user.id]);
  t.equal(first.statusCode, 201);
  const firstItems = (first.json() as { items: MemberBody[] }).items;
  t.same(ids(firstItems), [x!.user.id, y!.user.id].sort(), 'both are reported');
  t.ok(firstItems.every((m) => m.role === 'member'), 'as members');

  const second = await addMembers(owner, group.id, [x!.user.id, z!.user.id, member!.user.id]);
  t.equal(second.statusCode, 201);
  t.same(ids((second.json() as { items: MemberBody[] }).items), [z!.user.id], 'only the new one is reported');
  const third = await addMembers(owner, group.id, [x!.user.id]);
  t.equal(third.statusCode, 201);
  t.same((third.json() as { items: MemberBody[] }).items, [], 'nothing new');

  const now = await listMembers(app, owner, group.id);
  t.equal(now.length, 5, 'each member once');
  t.same(ids(now), [owner, member!, x!, y!, z!].map((a) => a.user.id).sort());
  t.equal((await conversation(app, owner, group.id)).memberCount, 5);
  t.equal((await conversation(app, z!, group.id)).role, 'member', 'the added member sees the group');
  t.ok((await inbox(app, z!)).items.some((c) => c.id === group.id), 'in their inbox');
});

t.test('blocked and unknown users are not added, and nothing else of the call is', async (t) => {
  const owner = await h.user();
  const [blockedByOwner, blockerOfOwner, innocent] = await users(3);
  const group = await createGroup(app, owner, []);
  await block(app, owner, blockedByOwner!);
  await block(app, blockerOfOwner!, owner);

  for (const [userId, label] of [
    [blockedByOwner!.user.id, 'someone the adder blocked'],
    [blockerOfOwner!.user.id, 'someone who blocked the adder'],
    [randomUUID(), 'an unknown user'],
  ] as const) {
    const response = await addMembers(owner, group.id, [innocent!.user.id, userId]);
    t.equal(response.statusCode, 404, label);
    t.equal(problemOf(t, response).code, 'USER_NOT_FOUND');
  }
  t.same(ids(await listMembers(app, owner, group.id)), [owner.user.id], 'nobody was added, not even the innocent one');
  t.equal((await conversation(app, owner, group.id)).memberCount, 1);
  t.equal((await call(app, 'GET', `/chat/${group.id}`, { token: blockedByOwner!.accessToken })).statusCode, 404);
  const empty = await addMembers(owner, group.id, []);
  t.equal(empty.statusCode, 400, 'an empty list');
  t.equal(problemOf(t, empty).code, 'VALIDATION_FAILED');
});

t.test('adding, leaving and editing publish member.joined, member.left and conversation.updated', async (t) => {
  const owner = await h.user();
  const [joiner] = await users(1);
  const group = await createGroup(app, owner, []);
  const events = await recordEvents(t, app, `conversation:${group.id}`);
  const joinerEvents = await recordEvents(t, app, `user:${joiner!.user.id}`);

  expectStatus(await addMembers(owner, group.id, [joiner!.user.id]), 201, 'add');
  await eventually(() => events.some((e) => e.type === 'member.joined' && e.data?.userId === joiner!.user.id));
  t.pass('member.joined on the conversation');
  await eventually(() => joinerEvents.some((e) => e.type === 'member.joined' && e.conversationId === group.id));
  t.pass("and on the new member's own channel");

  expectStatus(await patch(owner, group.id, { title: 'Evented' }), 200, 'patch');
  await eventually(() => events.some((e) => e.type === 'conversation.updated' && e.data?.title === 'Evented'));
  t.pass('conversation.updated with the new title');

  t.equal((await call(app, 'DELETE', `/chat/${group.id}/members/${joiner!.user.id}`, { token: joiner!.accessToken })).statusCode, 204);
  await eventually(() => events.some((e) => e.type === 'member.left' && e.data?.userId === joiner!.user.id));
  t.pass('member.left on the conversation');
  t.ok(events.every((e) => e.conversationId === group.id), 'every event names the conversation');
});
