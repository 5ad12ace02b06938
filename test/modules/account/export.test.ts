import t from 'tap';
import { call, expectStatus } from '../../support/accounts.js';
import { type MessageBody, buildChatApp, createGroup, directChat, sendText } from '../../support/chat.js';
import { fetchMedia, png, upload } from '../../support/media.js';
import { expectProblem } from '../messages/fixtures.js';

/*
 * GET /users/me/export: the profile, every conversation the user is or was in, the messages they sent
 * (nobody else's), and their uploads, as one JSON document whose media links work without a token.
 */

interface ExportBody {
  exportedAt: string;
  profile: { id: string; username: string; email: string | null };
  conversations: Array<{ id: string; kind: string; title: string | null; peerId: string | null; role: string; leftAt: string | null }>;
  messages: Array<{ id: string; conversationId: string; seq: number; body: string | null; attachments: Array<{ id: string; url: string }> }>;
  media: Array<{ id: string; url: string }>;
}

const h = await buildChatApp(t);
const { app } = h;

t.test('the export holds the profile, conversations with titles, own messages with working media links, and uploads', async (t) => {
  const [ann, ben, cat] = [await h.user('Ann'), await h.user('Ben'), await h.user('Cat')];
  const chat = await directChat(app, ann, ben);
  const mine = await sendText(app, ann, chat.id, 'from Ann');
  await sendText(app, ben, chat.id, 'from Ben, not exported for Ann');
  const group = await createGroup(app, ben, [ann, cat], { title: 'Hikers' });
  const inGroup = await sendText(app, ann, group.id, 'Ann in the group');
  const image = await upload(app, ann, await png(20, 20), 'pic.png');
  const withImage = expectStatus<MessageBody>(
    await call(app, 'POST', '/message', { token: ann.accessToken, payload: { conversationId: group.id, clientId: 'export-img', type: 'image', attachments: [image.id] } }),
    201,
    'image',
  );
  const deleted = await sendText(app, ann, chat.id, 'taken back');
  expectStatus(await call(app, 'DELETE', `/message/${deleted.id}?for=everyone`, { token: ann.accessToken }), 204, 'delete');
  expectStatus(await call(app, 'DELETE', `/chat/${group.id}/members/${ann.user.id}`, { token: ann.accessToken }), 204, 'leave');

  const response = await call(app, 'GET', '/users/me/export', { token: ann.accessToken });
  t.equal(response.statusCode, 200);
  t.match(String(response.headers['content-type']), /^application\/json/);
  t.match(String(response.headers['content-disposition']), /^attachment/);
  t.equal(response.headers['cache-control'], 'no-store');
  const body = response.json() as ExportBody;
  t.match(body.profile, { id: ann.user.id, username: ann.username, email: ann.email });
  t.ok(!Number.isNaN(Date.parse(body.exportedAt)));

  const byId = new Map(body.conversations.map((c) => [c.id, c]));
  t.match(byId.get(chat.id), { kind: 'direct', title: 'Ben', peerId: ben.user.id, leftAt: null }, 'a direct chat is titled by the other person');
  t.match(byId.get(group.id), { kind: 'group', title: 'Hikers', role: 'member' }, 'the group');
  t.ok(byId.get(group.id)?.leftAt, 'with the time she left');

  t.same(
    body.messages.map((m) => m.id).sort(),
    [mine.id, inGroup.id, withImage.id].sort(),
    'only her own messages, without the one she deleted for everyone',
  );
  const exportedImage = body.messages.find((m) => m.id === withImage.id)!;
  t.equal(exportedImage.attachments[0]?.id, image.id);
  t.equal((await fetchMedia(app, exportedImage.attachments[0]!.url)).statusCode, 200, 'the attachment link works without a token');
  t.same(body.media.map((m) => m.id), [image.id], 'her uploads');
  t.equal((await fetchMedia(app, body.media[0]!.url)).statusCode, 200);
});

t.test('an account with nothing yet exports empty lists; no token is 401', async (t) => {
  const fresh = await h.user();
  const body = expectStatus<ExportBody>(await call(app, 'GET', '/users/me/export', { token: fresh.accessToken }), 200, 'export');
  t.same([body.conversations, body.messages, body.media], [[], [], []]);
  expectProblem(t, await call(app, 'GET', '/users/me/export'), 401, 'UNAUTHORIZED');
});
