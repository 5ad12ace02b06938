import { count, eq } from 'drizzle-orm';
import t from 'tap';
import { media as mediaTable } from '../../../src/db/schema.js';
import { type Account, call, expectStatus } from '../../support/accounts.js';
import { type MessageBody, buildChatApp, createGroup, directChat, newClientId } from '../../support/chat.js';
import { DRIVERS, type MediaBody, fetchMedia, fixture, png, storageEnv, upload } from '../../support/media.js';
import { socketBase } from '../../support/ws-client.js';
import { deleteMessage, expectProblem, leave, postMessage } from '../messages/fixtures.js';
import { open } from '../realtime/gateway-helpers.js';

/*
 * Media in messages and avatars, on both storage drivers: who may attach what, who may then read it
 * (uploader, members of a conversation it was sent to; nobody else), forwards that reuse the stored
 * file, deletes for everyone that cut access, and the socket's message.send with attachments.
 */

for (const driver of DRIVERS) {
  t.test(`${driver} storage`, async (t) => {
    const h = await buildChatApp(t, await storageEnv(t, driver));
    const { app } = h;
    const readable = async (who: Account, item: MediaBody) => (await fetchMedia(app, `/media/${item.id}`, { token: who.accessToken })).statusCode;
    const sendMedia = async (from: Account, conversationId: string, type: string, attachments: string[], body?: string) =>
      expectStatus<MessageBody>(await postMessage(app, from, { conversationId, type, attachments, ...(body ? { body } : {}) }), 201, `send ${type}`);

    t.test('a sent image is readable by the members, not by anyone else', async (t) => {
      const [a, b, outsider] = [await h.user(), await h.user(), await h.user()];
      const chat = await directChat(app, a, b);
      const image = await upload(app, a, await png(120, 90), 'cat.png');
      t.equal(await readable(b, image), 404, 'before it is sent, only the uploader sees it');
      t.equal(await readable(a, image), 200);
      const message = await sendMedia(a, chat.id, 'image', [image.id], 'look at this');
      t.equal(message.body, 'look at this', 'the body is the caption');
      t.match(message.attachments, [{ id: image.id, kind: 'image', mime: 'image/png', width: 120, height: 90, size: image.size, sha256: image.sha256 }]);
      t.equal(await readable(b, image), 200, 'the other member reads it');
      t.equal((await fetchMedia(app, `/media/${image.id}/thumbnail`, { token: b.accessToken })).statusCode, 200, 'and its thumbnail');
      t.equal(await readable(outsider, image), 404, 'an outsider gets 404');
      t.equal((await fetchMedia(app, `/media/${image.id}/info`, { token: outsider.accessToken })).statusCode, 404, 'also for the metadata');
      const history = expectStatus<{ items: MessageBody[] }>(await call(app, 'GET', `/message/chat/${chat.id}`, { token: b.accessToken }), 200, 'history');
      t.same(history.items.at(-1)?.attachments, message.attachments, 'history carries the attachments');
    });

    t.test('group members read it; a member who joined later does not, one who left still does', async (t) => {
      const [a, b, c] = [await h.user(), await h.user(), await h.user()];
      const group = await createGroup(app, a, [b]);
      const clip = await upload(app, a, await fixture('clip.webm'));
      await sendMedia(a, group.id, 'video', [clip.id]);
      t.equal(await readable(b, clip), 200);
      expectStatus(await call(app, 'POST', `/chat/${group.id}/members`, { token: a.accessToken, payload: { userIds: [c.user.id] } }), 201, 'add c');
      t.equal(await readable(c, clip), 404, 'sent before c joined: outside their window');
      await leave(app, b, group.id);
      t.equal(await readable(b, clip), 200, 'b left but still reads what was sent while they were in');
    });

    t.test('attachments must be the sender\'s own uploads, of the message type, at most 10', async (t) => {
      const [a, b] = [await h.user(), await h.user()];
      const chat = await directChat(app, a, b);
      const bImage = await upload(app, b, await png());
      expectProblem(t, await postMessage(app, a, { conversationId: chat.id, type: 'image', attachments: [bImage.id] }), 404, 'MEDIA_NOT_FOUND', "someone else's media");
      expectProblem(t, await postMessage(app, a, { conversationId: chat.id, type: 'image', attachments: ['0192f0c1-7a00-7000-8000-0000000000ff'] }), 404, 'MEDIA_NOT_FOUND', 'an unknown id');
      const pdf = await upload(app, a, await fixture('doc.pdf'));
      const mp3 = await upload(app, a, await fixture('tone.mp3'));
      expectProblem(t, await postMessage(app, a, { conversationId: chat.id, type: 'image', attachments: [pdf.id] }), 400, 'INVALID_ATTACHMENTS', 'a PDF in an image message');
      expectProblem(t, await postMessage(app, a, { conversationId: chat.id, type: 'text', body: 'x', attachments: [pdf.id] }), 400, 'INVALID_ATTACHMENTS', 'a text message with media');
      expectProblem(t, await postMessage(app, a, { conversationId: chat.id, type: 'audio' }), 400, 'INVALID_ATTACHMENTS', 'an audio message without media');
      expectProblem(t, await postMessage(app, a, { conversationId: chat.id, type: 'file', attachments: [pdf.id, pdf.id] }), 400, 'INVALID_ATTACHMENTS', 'the same media twice');
      const eleven = Array.from({ length: 11 }, () => pdf.id);
      expectProblem(t, await postMessage(app, a, { conversationId: chat.id, type: 'file', attachments: eleven }), 400, 'VALIDATION_FAILED', 'eleven attachments');
      const mixed = await sendMedia(a, chat.id, 'file', [pdf.id, mp3.id]);
      t.same(mixed.attachments.map((x) => x.id), [pdf.id, mp3.id], 'a file message takes any kind, in order');
      t.equal(mixed.attachments[0]?.fileName, pdf.fileName);
      t.equal(await readable(b, bImage), 200, "b's own upload stays theirs");
    });

    t.test('forwarding reuses the stored file; deleting for everyone cuts access', async (t) => {
      const [a, b, c] = [await h.user(), await h.user(), await h.user()];
      const ab = await directChat(app, a, b);
      const bc = await directChat(app, b, c);
      const clip = await upload(app, a, await fixture('clip.mp4'));
      const original = await sendMedia(a, ab.id, 'video', [clip.id]);
      const rowsBefore = await mediaRows(app);
      const forwarded = expectStatus<MessageBody>(await postMessage(app, b, { conversationId: bc.id, type: 'video', forwardFromId: original.id }), 201, 'forward');
      t.equal(forwarded.forwarded, true);
      t.same(forwarded.attachments, original.attachments, 'the same media id, not a copy');
      t.equal(await mediaRows(app), rowsBefore, 'no new media row');
      t.equal(await readable(c, clip), 200, 'the forward recipient reads it');

      await deleteMessage(app, a, original.id, 'everyone');
      t.equal(await readable(b, clip), 200, 'b still reads it through the forward they sent');
      await deleteMessage(app, b, forwarded.id, 'everyone');
      t.equal(await readable(c, clip), 404, 'deleted for everyone: c no longer reads it');
      t.equal(await readable(b, clip), 404, 'nor does b');
      t.equal(await readable(a, clip), 200, 'the uploader still does');
    });

    t.test("the socket's message.send takes attachments too", async (t) => {
      const base = await socketBase(t, app);
      const [a, b] = [await h.user(), await h.user()];
      const chat = await directChat(app, a, b);
      const note = await upload(app, a, await fixture('tone.ogg'));
      const { client } = await open(t, base, a);
      const ack = await client.request('message.send', { conversationId: chat.id, clientId: newClientId(), type: 'audio', attachments: [note.id] });
      t.equal(ack.type, 'message.ack');
      t.match(ack.data.attachments, [{ id: note.id, kind: 'audio', mime: 'audio/ogg' }]);
      const wrong = await client.request('message.send', { conversationId: chat.id, clientId: newClientId(), type: 'image', attachments: [note.id] });
      t.match(wrong, { type: 'error', data: { code: 'INVALID_ATTACHMENTS' } });
      t.equal(await readable(b, note), 200);
    });

    t.test('avatars: PATCH /users/me and PATCH /chat/:id take an image media id', async (t) => {
      const [a, b, stranger] = [await h.user(), await h.user(), await h.user()];
      const photo = await upload(app, a, await png(200, 200));
      const me = expectStatus<{ avatarUrl: string }>(await call(app, 'PATCH', '/users/me', { token: a.accessToken, payload: { avatarMediaId: photo.id } }), 200, 'avatar');
      t.equal(me.avatarUrl, `/api/v1/media/${photo.id}`);
      t.equal(await readable(stranger, photo), 200, 'an avatar is readable by any signed-in user');
      const pdf = await upload(app, a, await fixture('doc.pdf'));
      expectProblem(t, await call(app, 'PATCH', '/users/me', { token: a.accessToken, payload: { avatarMediaId: pdf.id } }), 400, 'INVALID_ATTACHMENTS', 'a PDF avatar');
      const bPhoto = await upload(app, b, await png());
      expectProblem(t, await call(app, 'PATCH', '/users/me', { token: a.accessToken, payload: { avatarMediaId: bPhoto.id } }), 404, 'MEDIA_NOT_FOUND', "someone else's image");
      expectProblem(t, await call(app, 'PATCH', '/users/me', { token: a.accessToken, payload: { avatarMediaId: photo.id, avatarUrl: 'https://x.test/a.png' } }), 400, 'VALIDATION_FAILED', 'both forms');

      const group = await createGroup(app, a, [b]);
      const groupPhoto = await upload(app, a, await png(50, 50));
      const updated = expectStatus<{ avatarUrl: string }>(await call(app, 'PATCH', `/chat/${group.id}`, { token: a.accessToken, payload: { avatarMediaId: groupPhoto.id } }), 200, 'group avatar');
      t.equal(updated.avatarUrl, `/api/v1/media/${groupPhoto.id}`);
      const bGroupPhoto = await upload(app, b, await png(50, 50));
      expectProblem(t, await call(app, 'PATCH', `/chat/${group.id}`, { token: b.accessToken, payload: { avatarMediaId: bGroupPhoto.id } }), 403, 'NOT_GROUP_ADMIN', 'a plain member');
    });

    t.test('the sweeper removes orphans past MEDIA_ORPHAN_TTL_SECONDS, bytes included, and keeps used media', async (t) => {
      const [a, b] = [await h.user(), await h.user()];
      const chat = await directChat(app, a, b);
      const orphan = await upload(app, a, await fixture('doc.pdf'));
      const young = await upload(app, a, await fixture('doc.pdf'));
      const used = await upload(app, a, await fixture('doc.pdf'));
      await sendMedia(a, chat.id, 'file', [used.id]);
      await app.db.update(mediaTable).set({ createdAt: new Date(Date.now() - 2 * 86_400_000) }).where(eq(mediaTable.id, orphan.id));
      await app.db.update(mediaTable).set({ createdAt: new Date(Date.now() - 2 * 86_400_000) }).where(eq(mediaTable.id, used.id));
      t.ok((await app.services.media.sweepOrphans()) >= 1);
      t.equal(await readable(a, orphan), 404, 'the old orphan is gone');
      t.equal(await readable(a, young), 200, 'a recent upload stays');
      t.equal(await readable(b, used), 200, 'media sent in a message stays');
      await t.rejects(app.services.media.open({ storageKey: `${orphan.id.slice(-2)}/${orphan.id}.pdf` } as never, 'original'), { code: 'MEDIA_NOT_FOUND' }, 'its bytes are gone from storage');
    });
  });
}

async function mediaRows(app: import('../../../src/app.js').App): Promise<number> {
  const [row] = await app.db.select({ n: count() }).from(mediaTable);
  return Number(row?.n ?? 0);
}
