import t from 'tap';
import { call, expectStatus } from '../../support/accounts.js';
import { type MessageBody, buildChatApp, directChat } from '../../support/chat.js';
import { type MediaBody, fetchMedia, png, upload } from '../../support/media.js';
import { expectProblem } from '../messages/fixtures.js';

/*
 * A signed link stops working when what made the media readable is gone (the message deleted for
 * everyone), not only when it expires.
 */

const h = await buildChatApp(t);
const { app } = h;

t.test('a signed link stops working once its message is deleted for everyone', async (t) => {
  const [a, b] = [await h.user(), await h.user()];
  const chat = await directChat(app, a, b);
  const image = await upload(app, a, await png(12, 12), 'gone.png');
  t.equal((await fetchMedia(app, image.url)).statusCode, 200, 'the uploader’s link to a fresh upload works');
  const message = expectStatus<MessageBody>(
    await call(app, 'POST', '/message', { token: a.accessToken, payload: { conversationId: chat.id, clientId: `link-${image.id}`, type: 'image', attachments: [image.id] } }),
    201,
    'send',
  );
  const info = expectStatus<MediaBody>(await call(app, 'GET', `/media/${image.id}/info`, { token: b.accessToken }), 200, 'info');
  t.equal((await fetchMedia(app, info.url)).statusCode, 200, 'the member’s signed link works');
  t.equal((await fetchMedia(app, info.thumbnailUrl!)).statusCode, 200, 'and its thumbnail link');

  expectStatus(await call(app, 'DELETE', `/message/${message.id}?for=everyone`, { token: a.accessToken }), 204, 'delete for everyone');
  expectProblem(t, await fetchMedia(app, info.url), 404, 'MEDIA_NOT_FOUND', 'the link no longer serves the file');
  expectProblem(t, await fetchMedia(app, info.thumbnailUrl!), 404, 'MEDIA_NOT_FOUND', 'nor the thumbnail');
  t.equal((await fetchMedia(app, `/media/${image.id}`, { token: a.accessToken })).statusCode, 200, 'the uploader still reads it with a token');
});
