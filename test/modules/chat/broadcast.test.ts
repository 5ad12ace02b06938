import { randomUUID } from 'node:crypto';
import t from 'tap';
import { problemOf } from '../../helper.js';
import { type Account, call, expectStatus } from '../../support/accounts.js';
import { type ConversationBody, block, buildChatApp, conversation, directChat, history, inbox, listMembers, newClientId, sendText } from '../../support/chat.js';

/*
 * Broadcast lists: visible to their owner only; a send to one lands as a copy in each recipient's
 * 1:1 chat with the sender (made when missing, skipped when blocked); replies stay in the 1:1.
 */

const h = await buildChatApp(t);
const { app } = h;

const createList = (owner: Account, recipients: Account[], title = 'News') =>
  call(app, 'POST', '/chat/broadcasts', { token: owner.accessToken, payload: { title, recipientIds: recipients.map((r) => r.user.id) } });
const list = async (owner: Account, recipients: Account[]) => expectStatus<ConversationBody>(await createList(owner, recipients), 201, 'broadcast list');
/** The recipient's direct chat with `peer`, if there is one. */
const directWith = async (who: Account, peer: Account) => (await inbox(app, who)).items.find((c) => c.kind === 'direct' && c.peer?.id === peer.user.id);
const bodies = async (who: Account, id: string) => (await history(app, who, id)).items.map((m) => m.body);

t.test('a broadcast list is seen by its owner only', async (t) => {
  const owner = await h.user();
  const [r1, r2] = [await h.user(), await h.user()];
  const created = await list(owner, [r1, r2]);
  t.equal(created.kind, 'broadcast');
  t.equal(created.title, 'News');
  t.equal(created.role, 'owner');
  t.equal(created.memberCount, 2, 'the recipient count');
  t.ok((await inbox(app, owner)).items.some((c) => c.id === created.id), "in the owner's inbox");
  t.same((await listMembers(app, owner, created.id)).map((m) => m.user.id).sort(), [r1.user.id, r2.user.id].sort(), 'the owner lists the recipients');

  for (const recipient of [r1, r2]) {
    const peek = await call(app, 'GET', `/chat/${created.id}`, { token: recipient.accessToken });
    t.equal(peek.statusCode, 404, 'a recipient does not see the list');
    t.equal(problemOf(t, peek).code, 'CONVERSATION_NOT_FOUND');
    t.notOk((await inbox(app, recipient)).items.some((c) => c.id === created.id), 'nor has it in their inbox');
    t.equal((await call(app, 'GET', `/chat/${created.id}/members`, { token: recipient.accessToken })).statusCode, 404, 'nor its recipients');
  }
});

t.test('a list with nobody, someone unknown or someone blocked is refused', async (t) => {
  const owner = await h.user();
  const [ok, blocker] = [await h.user(), await h.user()];
  await block(app, blocker, owner);
  const empty = await createList(owner, []);
  t.equal(empty.statusCode, 400, 'no recipients');
  t.equal(problemOf(t, empty).code, 'VALIDATION_FAILED');
  const unknown = await call(app, 'POST', '/chat/broadcasts', { token: owner.accessToken, payload: { title: 'x', recipientIds: [ok.user.id, randomUUID()] } });
  t.equal(unknown.statusCode, 404);
  t.equal(problemOf(t, unknown).code, 'USER_NOT_FOUND');
  const blocked = await createList(owner, [ok, blocker]);
  t.equal(blocked.statusCode, 404, 'someone who blocked the owner');
  t.equal(problemOf(t, blocked).code, 'USER_NOT_FOUND');
  t.same((await inbox(app, owner)).items, [], 'no list was made');
});

t.test('a send reaches each recipient in their 1:1 chat with the sender, once', async (t) => {
  const owner = await h.user();
  const [known, stranger] = [await h.user(), await h.user()];
  const existing = await directChat(app, known, owner);
  const news = await list(owner, [known, stranger]);
  t.equal(await directWith(stranger, owner), undefined, 'no chat with the stranger yet');

  const sent = await sendText(app, owner, news.id, 'Big news');
  t.equal(sent.conversationId, news.id, 'the 201 is the list message');
  t.same(await bodies(owner, news.id), ['Big news'], 'the list shows it once');

  t.same(await bodies(known, existing.id), ['Big news'], 'a copy in the existing 1:1');
  const copy = (await history(app, known, existing.id)).items[0];
  t.equal(copy?.senderId, owner.user.id, 'from the sender');
  t.not(copy?.id, sent.id, 'a message of its own');
  t.equal((await conversation(app, known, existing.id)).unreadCount, 1, 'unread for the recipient');

  const made = await directWith(stranger, owner);
  t.ok(made, 'a 1:1 chat was made for the stranger');
  t.same(await bodies(stranger, made!.id), ['Big news'], 'with the copy in it');
  t.same(await bodies(owner, made!.id), ['Big news'], 'which the sender sees there too');

  const reply = await sendText(app, stranger, made!.id, 'Thanks');
  t.equal(reply.conversationId, made!.id);
  t.same(await bodies(owner, made!.id), ['Big news', 'Thanks'], 'the reply lands in the 1:1');
  t.same(await bodies(owner, news.id), ['Big news'], 'and not in the list');
});

t.test('a recipient who blocked the sender gets nothing', async (t) => {
  const owner = await h.user();
  const [fan, blocker, hermit] = [await h.user(), await h.user(), await h.user()];
  const oldChat = await directChat(app, blocker, owner);
  const news = await list(owner, [fan, blocker, hermit]);
  await block(app, blocker, owner);
  await block(app, hermit, owner);

  const sent = await sendText(app, owner, news.id, 'Hello all');
  t.equal(sent.body, 'Hello all', 'the send itself succeeds');
  t.same(await bodies(fan, (await directWith(fan, owner))!.id), ['Hello all'], 'the others get it');
  t.same(await bodies(blocker, oldChat.id), [], 'nothing in the existing chat of the one who blocked');
  t.equal(await directWith(hermit, owner), undefined, 'no chat made for a blocker without one');
});

t.test('only the owner sends to a list or adds recipients', async (t) => {
  const owner = await h.user();
  const [recipient, extra] = [await h.user(), await h.user()];
  const news = await list(owner, [recipient]);
  const send = await call(app, 'POST', '/message', { token: recipient.accessToken, payload: { conversationId: news.id, clientId: newClientId(), type: 'text', body: 'me too' } });
  t.equal(send.statusCode, 404, 'a recipient cannot send to the list');
  t.equal(problemOf(t, send).code, 'CONVERSATION_NOT_FOUND');
  t.same(await bodies(owner, news.id), [], 'nothing was sent');
  t.equal(await directWith(owner, recipient), undefined, 'and nothing fanned out');

  const byRecipient = await call(app, 'POST', `/chat/${news.id}/members`, { token: recipient.accessToken, payload: { userIds: [extra.user.id] } });
  t.equal(byRecipient.statusCode, 404, 'a recipient cannot add to the list');
  const added = await call(app, 'POST', `/chat/${news.id}/members`, { token: owner.accessToken, payload: { userIds: [extra.user.id] } });
  t.equal(added.statusCode, 201, 'the owner can');
  t.equal((await conversation(app, owner, news.id)).memberCount, 2);
  await sendText(app, owner, news.id, 'welcome');
  t.same(await bodies(extra, (await directWith(extra, owner))!.id), ['welcome'], 'the new recipient gets the next send');
});
