import { eq, sql } from 'drizzle-orm';
import t from 'tap';
import { media as mediaTable } from '../../../src/db/schema.js';
import { call, expectStatus } from '../../support/accounts.js';
import { type MessageBody, buildChatApp, directChat, sendText } from '../../support/chat.js';
import { png, upload } from '../../support/media.js';

/*
 * Media become "attached" (safe from the orphan sweep) in the statement that stores the message, not
 * before it: a send that stores nothing leaves its uploads orphans, and the sweep removes them.
 */

const h = await buildChatApp(t);
const { app } = h;
const attachedAt = async (id: string) => (await app.db.select({ at: mediaTable.attachedAt }).from(mediaTable).where(eq(mediaTable.id, id)))[0]?.at;
const rowExists = async (id: string) => (await app.db.select({ id: mediaTable.id }).from(mediaTable).where(eq(mediaTable.id, id))).length > 0;
/** Test setup: the upload happened two days ago (older than MEDIA_ORPHAN_TTL_SECONDS). */
const age = (id: string) => app.db.update(mediaTable).set({ createdAt: sql`now() - interval '2 days'` }).where(eq(mediaTable.id, id));

t.test('a send that stores nothing (a retried clientId) leaves its media an orphan, which the sweep removes', async (t) => {
  const [a, b] = [await h.user(), await h.user()];
  const chat = await directChat(app, a, b);
  const first = await sendText(app, a, chat.id, 'first', { clientId: 'same-client-id' });
  const image = await upload(app, a, await png(10, 10), 'late.png');
  const retried = expectStatus<MessageBody>(
    await call(app, 'POST', '/message', { token: a.accessToken, payload: { conversationId: chat.id, clientId: 'same-client-id', type: 'image', attachments: [image.id] } }),
    200,
    'a retried clientId answers the original',
  );
  t.equal(retried.id, first.id);
  t.equal(await attachedAt(image.id), null, 'the image was not attached to anything');
  await age(image.id);
  await app.services.media.sweepOrphans();
  t.notOk(await rowExists(image.id), 'so the sweep removes it');
});

t.test('a stored message marks its media attached, and the sweep keeps them', async (t) => {
  const [a, b] = [await h.user(), await h.user()];
  const chat = await directChat(app, a, b);
  const image = await upload(app, a, await png(10, 10), 'kept.png');
  expectStatus(await call(app, 'POST', '/message', { token: a.accessToken, payload: { conversationId: chat.id, clientId: `kept-${image.id}`, type: 'image', attachments: [image.id] } }), 201, 'send');
  t.ok(await attachedAt(image.id), 'attached');
  await age(image.id);
  await app.services.media.sweepOrphans();
  t.ok(await rowExists(image.id), 'kept');
});

t.test('the sweep keeps an unmarked upload that a status shows (a mark lost to a crash) and marks it', async (t) => {
  const a = await h.user();
  const image = await upload(app, a, await png(10, 10), 'status.png');
  expectStatus(await call(app, 'POST', '/status', { token: a.accessToken, payload: { type: 'image', mediaId: image.id } }), 201, 'status');
  await app.db.update(mediaTable).set({ attachedAt: null }).where(eq(mediaTable.id, image.id));
  await age(image.id);
  await app.services.media.sweepOrphans();
  t.ok(await rowExists(image.id), 'kept');
  t.ok(await attachedAt(image.id), 'and marked');
});
