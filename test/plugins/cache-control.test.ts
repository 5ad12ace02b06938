import t from 'tap';
import { call } from '../support/accounts.js';
import { buildChatApp, directChat } from '../support/chat.js';
import { fetchMedia, png, upload } from '../support/media.js';

/*
 * Tokens and private data must not be kept by a browser or a shared cache: every answer is
 * Cache-Control: no-store unless its route sets a policy of its own (media files: private).
 */

const harness = await buildChatApp(t);
const { app } = harness;

t.test('answers carrying tokens or private data are no-store', async (t) => {
  const [alice, bob] = [await harness.user(), await harness.user()];
  const chat = await directChat(app, alice, bob);
  const answers = {
    'POST /auth/login (tokens)': await call(app, 'POST', '/auth/login', { payload: { identifier: alice.username, password: alice.password } }),
    'POST /auth/refresh (tokens)': await call(app, 'POST', '/auth/refresh', { payload: { refreshToken: alice.refreshToken } }),
    'GET /users/me (contacts)': await call(app, 'GET', '/users/me', { token: alice.accessToken }),
    'GET /auth/sessions': await call(app, 'GET', '/auth/sessions', { token: alice.accessToken }),
    'GET /message/chat/:id (messages)': await call(app, 'GET', `/message/chat/${chat.id}`, { token: alice.accessToken }),
    'a 401 problem': await call(app, 'GET', '/users/me'),
  };
  for (const [what, response] of Object.entries(answers)) {
    t.ok(response.statusCode < 500, `${what}: answered ${response.statusCode}`);
    t.equal(response.headers['cache-control'], 'no-store', what);
  }
});

t.test('a route with its own cache policy keeps it', async (t) => {
  const alice = await harness.user();
  const media = await upload(app, alice, await png(), 'p.png');
  const file = await fetchMedia(app, `/media/${media.id}`, { token: alice.accessToken });
  t.equal(file.statusCode, 200);
  t.equal(file.headers['cache-control'], 'private, max-age=3600');
});
