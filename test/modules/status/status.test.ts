import { eq } from 'drizzle-orm';
import t from 'tap';
import { statuses } from '../../../src/db/schema.js';
import { type Account, call, expectStatus } from '../../support/accounts.js';
import { block, buildChatApp, directChat } from '../../support/chat.js';
import { DRIVERS, fetchMedia, fixture, png, storageEnv, upload } from '../../support/media.js';
import { socketBase } from '../../support/ws-client.js';
import { expectProblem } from '../messages/fixtures.js';
import { framesOf, open, sleep, waitFrame } from '../realtime/gateway-helpers.js';

/*
 * Status updates on both storage drivers: who sees them (contacts = a shared 1:1 chat, minus blocks,
 * narrowed by the audience), seen marks and viewers, expiry that hides at once and a sweep that
 * removes rows and media, deletes, and the status.created / status.deleted socket events.
 */

interface StatusBody {
  id: string;
  authorId: string;
  type: string;
  body: string | null;
  media: { id: string; url: string } | null;
  backgroundColor: string | null;
  expiresAt: string;
}
interface FeedBody {
  items: Array<{ user: { id: string }; statuses: Array<StatusBody & { seen: boolean }>; allSeen: boolean }>;
}

for (const driver of DRIVERS) {
  t.test(`${driver} storage`, async (t) => {
    const h = await buildChatApp(t, { ...(await storageEnv(t, driver)), STATUS_MAX_LIVE: '4' });
    const { app } = h;
    const post = (who: Account, payload: Record<string, unknown>) => call(app, 'POST', '/status', { token: who.accessToken, payload });
    const postOk = async (who: Account, payload: Record<string, unknown>) => expectStatus<StatusBody>(await post(who, payload), 201, 'post status');
    const feed = async (who: Account) => expectStatus<FeedBody>(await call(app, 'GET', '/status', { token: who.accessToken }), 200, 'feed');
    const seesStatus = async (who: Account, id: string) => (await feed(who)).items.some((entry) => entry.statuses.some((s) => s.id === id));

    t.test('contacts see a status; strangers and blocked users do not', async (t) => {
      const [a, b, stranger, blocked] = [await h.user(), await h.user(), await h.user(), await h.user()];
      await directChat(app, a, b);
      await directChat(app, a, blocked);
      await block(app, a, blocked);
      const status = await postOk(a, { type: 'text', body: 'Hello world', backgroundColor: '#128C7E' });
      t.match(status, { authorId: a.user.id, type: 'text', body: 'Hello world', backgroundColor: '#128C7E', media: null });
      t.ok(Math.abs(Date.parse(status.expiresAt) - Date.now() - 86_400_000) < 60_000, 'expires in 24 h');
      const bFeed = await feed(b);
      t.equal(bFeed.items.length, 1);
      t.equal(bFeed.items[0]?.user.id, a.user.id);
      t.match(bFeed.items[0]?.statuses, [{ id: status.id, seen: false }]);
      t.notOk(await seesStatus(stranger, status.id), 'no shared chat: not a contact');
      t.notOk(await seesStatus(blocked, status.id), 'blocked: not shown');
      expectProblem(t, await call(app, 'POST', `/status/${status.id}/view`, { token: stranger.accessToken }), 404, 'STATUS_NOT_FOUND', 'a stranger cannot view it');
      t.same((await feed(a)).items, [], 'your own statuses are not in your feed');
    });

    t.test('audience: only and except', async (t) => {
      const [a, b, c] = [await h.user(), await h.user(), await h.user()];
      await directChat(app, a, b);
      await directChat(app, a, c);
      const only = await postOk(a, { type: 'text', body: 'for b', audience: { only: [b.user.id] } });
      const except = await postOk(a, { type: 'text', body: 'not for b', audience: { except: [b.user.id] } });
      t.ok(await seesStatus(b, only.id));
      t.notOk(await seesStatus(c, only.id), 'only: c is left out');
      t.notOk(await seesStatus(b, except.id), 'except: b is left out');
      t.ok(await seesStatus(c, except.id));
    });

    t.test('views: seen marks, view counts, viewers for the author only', async (t) => {
      const [a, b, c] = [await h.user(), await h.user(), await h.user()];
      await directChat(app, a, b);
      await directChat(app, a, c);
      const status = await postOk(a, { type: 'text', body: 'count me' });
      for (let i = 0; i < 2; i++) expectStatus(await call(app, 'POST', `/status/${status.id}/view`, { token: b.accessToken }), 204, 'view');
      expectStatus(await call(app, 'POST', `/status/${status.id}/view`, { token: a.accessToken }), 204, 'own view');
      const bFeed = await feed(b);
      t.match(bFeed.items[0], { allSeen: true, statuses: [{ id: status.id, seen: true }] });
      t.match((await feed(c)).items[0], { allSeen: false });
      const mine = expectStatus<{ items: Array<{ id: string; viewCount: number }> }>(await call(app, 'GET', '/status/me', { token: a.accessToken }), 200, 'me');
      t.match(mine.items, [{ id: status.id, viewCount: 1 }], 'repeated and own views do not count');
      const viewers = expectStatus<{ items: Array<{ user: { id: string } }> }>(await call(app, 'GET', `/status/${status.id}/viewers`, { token: a.accessToken }), 200, 'viewers');
      t.same(viewers.items.map((v) => v.user.id), [b.user.id]);
      expectProblem(t, await call(app, 'GET', `/status/${status.id}/viewers`, { token: b.accessToken }), 404, 'STATUS_NOT_FOUND', 'viewers are for the author only');
    });

    t.test('image statuses: the media is readable by the audience only', async (t) => {
      const [a, b, stranger] = [await h.user(), await h.user(), await h.user()];
      await directChat(app, a, b);
      const photo = await upload(app, a, await png(300, 200));
      const status = await postOk(a, { type: 'image', mediaId: photo.id, body: 'sunset' });
      t.match(status.media, { id: photo.id, kind: 'image', width: 300, height: 200 });
      t.equal((await fetchMedia(app, `/media/${photo.id}`, { token: b.accessToken })).statusCode, 200, 'a contact reads it');
      t.equal((await fetchMedia(app, status.media!.url)).statusCode, 200, 'through the signed link too');
      t.equal((await fetchMedia(app, `/media/${photo.id}`, { token: stranger.accessToken })).statusCode, 404, 'a stranger does not');
      const clip = await upload(app, a, await fixture('clip.webm'));
      t.match(await postOk(a, { type: 'video', mediaId: clip.id }), { type: 'video', media: { mime: 'video/webm' } });
    });

    t.test('bad statuses are refused', async (t) => {
      const a = await h.user();
      expectProblem(t, await post(a, { type: 'text', body: '   ' }), 400, 'VALIDATION_FAILED', 'blank text');
      expectProblem(t, await post(a, { type: 'image' }), 400, 'VALIDATION_FAILED', 'image without media');
      expectProblem(t, await post(a, { type: 'text', body: 'x', backgroundColor: 'red' }), 400, 'VALIDATION_FAILED', 'a colour that is not #RRGGBB');
      const pdf = await upload(app, a, await fixture('doc.pdf'));
      expectProblem(t, await post(a, { type: 'image', mediaId: pdf.id }), 400, 'INVALID_ATTACHMENTS', 'a PDF as an image');
      const other = await upload(app, await h.user(), await png());
      expectProblem(t, await post(a, { type: 'image', mediaId: other.id }), 404, 'MEDIA_NOT_FOUND', "someone else's image");
      for (let i = 0; i < 4; i++) await postOk(a, { type: 'text', body: `n${i}` });
      expectProblem(t, await post(a, { type: 'text', body: 'fifth' }), 409, 'STATUS_LIMIT_REACHED', 'over STATUS_MAX_LIVE');
    });

    t.test('expired statuses vanish at once; the sweep removes them and their media', async (t) => {
      const [a, b] = [await h.user(), await h.user()];
      await directChat(app, a, b);
      const photo = await upload(app, a, await png());
      const status = await postOk(a, { type: 'image', mediaId: photo.id });
      await app.db.update(statuses).set({ expiresAt: new Date(Date.now() - 1000) }).where(eq(statuses.id, status.id));
      t.notOk(await seesStatus(b, status.id), 'gone from the feed');
      t.same(expectStatus<{ items: unknown[] }>(await call(app, 'GET', '/status/me', { token: a.accessToken }), 200, 'me').items, []);
      expectProblem(t, await call(app, 'POST', `/status/${status.id}/view`, { token: b.accessToken }), 404, 'STATUS_NOT_FOUND');
      t.equal((await fetchMedia(app, `/media/${photo.id}`, { token: b.accessToken })).statusCode, 404, 'its media is no longer the viewer\'s');
      t.ok((await app.services.status.sweepExpired()) >= 1);
      t.equal((await app.db.select().from(statuses).where(eq(statuses.id, status.id))).length, 0, 'the row is gone');
      t.equal((await fetchMedia(app, `/media/${photo.id}`, { token: a.accessToken })).statusCode, 404, 'and the media with it');
    });

    t.test('delete: the author only; status.created and status.deleted reach the audience\'s sockets', async (t) => {
      const base = await socketBase(t, app);
      const [a, b, stranger] = [await h.user(), await h.user(), await h.user()];
      await directChat(app, a, b);
      const bSocket = (await open(t, base, b)).client;
      const strangerSocket = (await open(t, base, stranger)).client;
      const status = await postOk(a, { type: 'text', body: 'live' });
      const created = await waitFrame(bSocket, (f) => f.type === 'status.created');
      t.match(created.data, { id: status.id, authorId: a.user.id, body: 'live' });
      expectProblem(t, await call(app, 'DELETE', `/status/${status.id}`, { token: b.accessToken }), 404, 'STATUS_NOT_FOUND', 'not the author');
      expectStatus(await call(app, 'DELETE', `/status/${status.id}`, { token: a.accessToken }), 204, 'delete');
      const deleted = await waitFrame(bSocket, (f) => f.type === 'status.deleted');
      t.same(deleted.data, { id: status.id, authorId: a.user.id });
      t.notOk(await seesStatus(b, status.id));
      await sleep(300);
      t.equal(framesOf(strangerSocket, 'status.created').length + framesOf(strangerSocket, 'status.deleted').length, 0, 'a stranger gets no status events');
    });
  });
}
