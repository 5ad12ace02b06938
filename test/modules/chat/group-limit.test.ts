import t from 'tap';
import { problemOf } from '../../helper.js';
import { type Account, call, expectStatus } from '../../support/accounts.js';
import { buildChatApp, conversation, createGroup, inbox, listMembers } from '../../support/chat.js';

/*
 * MAX_GROUP_MEMBERS counts everyone in a group, the owner included, and the recipients of a broadcast
 * list. A call that would go over it is refused whole: 409 MEMBER_LIMIT_REACHED, nobody added.
 */

const h = await buildChatApp(t, { MAX_GROUP_MEMBERS: '3' });
const { app } = h;

const users = async (n: number) => {
  const list: Account[] = [];
  for (let i = 0; i < n; i++) list.push(await h.user());
  return list;
};
const memberIds = async (reader: Account, id: string) => (await listMembers(app, reader, id)).map((m) => m.user.id).sort();
const addMembers = (by: Account, id: string, who: Account[]) =>
  call(app, 'POST', `/chat/${id}/members`, { token: by.accessToken, payload: { userIds: who.map((a) => a.user.id) } });

t.test('a group of the owner and two is allowed; one more is refused and nothing is created', async (t) => {
  const owner = await h.user();
  const [a, b, c] = await users(3);
  const full = await createGroup(app, owner, [a!, b!]);
  t.equal(full.memberCount, 3, 'exactly at the limit');

  const over = await call(app, 'POST', '/chat/groups', { token: owner.accessToken, payload: { title: 'Too big', memberIds: [a!, b!, c!].map((x) => x.user.id) } });
  t.equal(over.statusCode, 409);
  t.equal(problemOf(t, over).code, 'MEMBER_LIMIT_REACHED');
  t.same((await inbox(app, owner)).items.map((x) => x.id), [full.id], 'only the first group exists');
  t.same((await inbox(app, c!)).items, [], 'the third member is in nothing');
});

t.test('adding to a full group is refused whole and adds nobody', async (t) => {
  const owner = await h.user();
  const [a, b, c, d] = await users(4);
  const full = await createGroup(app, owner, [a!, b!]);
  const intoFull = await addMembers(owner, full.id, [c!]);
  t.equal(intoFull.statusCode, 409);
  t.equal(problemOf(t, intoFull).code, 'MEMBER_LIMIT_REACHED');
  t.same(await memberIds(owner, full.id), [owner, a!, b!].map((x) => x.user.id).sort(), 'nobody added');
  t.equal((await conversation(app, owner, full.id)).memberCount, 3);

  const roomForOne = await createGroup(app, owner, [a!]);
  const twoMore = await addMembers(owner, roomForOne.id, [c!, d!]);
  t.equal(twoMore.statusCode, 409, 'two more where one fits');
  t.equal(problemOf(t, twoMore).code, 'MEMBER_LIMIT_REACHED');
  t.same(await memberIds(owner, roomForOne.id), [owner, a!].map((x) => x.user.id).sort(), 'not even the first of them');
  t.equal((await call(app, 'GET', `/chat/${roomForOne.id}`, { token: c!.accessToken })).statusCode, 404);

  const already = await addMembers(owner, full.id, [a!]);
  t.equal(already.statusCode, 201, 'an existing member does not count twice');
  t.same((already.json() as { items: unknown[] }).items, []);

  t.equal((await call(app, 'DELETE', `/chat/${full.id}/members/${b!.user.id}`, { token: b!.accessToken })).statusCode, 204, 'someone leaves');
  const afterLeave = await addMembers(owner, full.id, [c!]);
  t.equal(afterLeave.statusCode, 201, 'a seat is free again');
  t.same(await memberIds(owner, full.id), [owner, a!, c!].map((x) => x.user.id).sort());
});

t.test('a broadcast list takes at most MAX_GROUP_MEMBERS recipients', async (t) => {
  const owner = await h.user();
  const recipients = await users(4);
  const create = (who: Account[]) =>
    call(app, 'POST', '/chat/broadcasts', { token: owner.accessToken, payload: { title: 'News', recipientIds: who.map((a) => a.user.id) } });
  const over = await create(recipients);
  t.equal(over.statusCode, 409);
  t.equal(problemOf(t, over).code, 'MEMBER_LIMIT_REACHED');
  t.same((await inbox(app, owner)).items, [], 'no list was made');
  const list = expectStatus<{ id: string; memberCount: number }>(await create(recipients.slice(0, 3)), 201, 'three recipients');
  t.equal(list.memberCount, 3);
  const more = await addMembers(owner, list.id, [recipients[3]!]);
  t.equal(more.statusCode, 409, 'no fourth recipient');
  t.equal(problemOf(t, more).code, 'MEMBER_LIMIT_REACHED');
  t.equal((await conversation(app, owner, list.id)).memberCount, 3);
});
