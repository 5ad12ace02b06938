import { createHash } from 'node:crypto';
import { join } from 'node:path';
import sharp from 'sharp';
import t from 'tap';
import { API, authHeader, call } from '../../support/accounts.js';
import { buildChatApp } from '../../support/chat.js';
import { DRIVERS, type MediaBody, fetchMedia, filesUnder, fixture, jpegWithGps, png, pngHeaderPadded, storageEnv, upload, uploadRaw } from '../../support/media.js';
import { expectProblem } from '../messages/fixtures.js';

/*
 * POST /media on both storage drivers: the type comes from the bytes, per-type caps and the quota are
 * enforced while streaming (413, nothing left behind), images lose their EXIF and get a thumbnail,
 * JSON uploads follow the same rules.
 */

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

for (const driver of DRIVERS) {
  t.test(`${driver} storage`, async (t) => {
    const env = { ...(await storageEnv(t, driver)), MEDIA_MAX_IMAGE_BYTES: '200000', MEDIA_MAX_AUDIO_BYTES: '100000', MEDIA_QUOTA_BYTES: '600000' };
    const h = await buildChatApp(t, env);
    const { app } = h;
    const dataDir = h.backend.env.DATA_DIR!;
    const tempDir = join(dataDir, 'tmp');

    t.test('real files of each kind are typed by their bytes, whatever their name and header claim', async (t) => {
      const a = await h.user();
      const cases: Array<[string, string, string, MediaBody['kind']]> = [
        ['clip.mp4', 'movie.txt', 'video/mp4', 'video'],
        ['clip.webm', 'clip.webm', 'video/webm', 'video'],
        ['tone.mp3', 'song.wav', 'audio/mpeg', 'audio'],
        ['tone.ogg', 'voice.ogg', 'audio/ogg', 'audio'],
        ['doc.pdf', 'report.pdf', 'application/pdf', 'file'],
      ];
      for (const [name, claimed, mime, kind] of cases) {
        const bytes = await fixture(name);
        const media = await upload(app, a, bytes, claimed);
        t.match(media, { mime, kind, size: bytes.length, sha256: sha256(bytes), width: null, height: null, thumbnailUrl: null }, `${name}: ${mime}`);
        t.match(media.url, new RegExp(`^/api/v1/media/${media.id}\\?exp=\\d+&sig=`), `${name}: a signed url`);
        const back = await fetchMedia(app, `/media/${media.id}`, { token: a.accessToken });
        t.equal(back.statusCode, 200);
        t.ok(back.rawPayload.equals(bytes), `${name}: stored bytes are the uploaded bytes`);
      }
      const pdfAsPng = await upload(app, a, await fixture('doc.pdf'), 'holiday.png');
      t.match(pdfAsPng, { mime: 'application/pdf', kind: 'file', fileName: 'holiday.pdf' }, 'a PDF named .png is a PDF file, renamed to its real extension');
    });

    t.test('files that lie about their type, or have none, are refused with 415', async (t) => {
      const a = await h.user();
      const exe = await uploadRaw(app, a, await fixture('setup-exe.png'), 'cat.png', 'image/png');
      expectProblem(t, exe, 415, 'MEDIA_TYPE_NOT_ALLOWED', 'an executable named .png');
      t.match(exe.json().detail, /application\/x-msdownload/);
      expectProblem(t, await uploadRaw(app, a, await fixture('notes-text.jpg'), 'notes.jpg', 'image/jpeg'), 415, 'MEDIA_TYPE_NOT_ALLOWED', 'text named .jpg');
      expectProblem(t, await uploadRaw(app, a, await pngHeaderPadded(5000), 'broken.png', 'image/png'), 400, 'MEDIA_UNREADABLE', 'a PNG header over garbage');
      expectProblem(t, await uploadRaw(app, a, Buffer.alloc(0), 'empty.png'), 400, 'VALIDATION_FAILED', 'an empty file');
      t.same(await filesUnder(tempDir), [], 'no temporary file is left');
    });

    t.test('images: EXIF (GPS) is stripped, dimensions measured, a thumbnail made', async (t) => {
      const a = await h.user();
      const original = await jpegWithGps(800, 600);
      t.ok((await sharp(original).metadata()).exif, 'the fixture does carry EXIF');
      const media = await upload(app, a, original, 'IMG_0001.JPG');
      t.match(media, { kind: 'image', mime: 'image/jpeg', width: 800, height: 600, fileName: null });
      const stored = (await fetchMedia(app, `/media/${media.id}`, { token: a.accessToken })).rawPayload;
      t.equal(stored.length, media.size, 'size is of the stored bytes');
      t.equal(sha256(stored), media.sha256, 'sha256 is of the stored bytes');
      const meta = await sharp(stored).metadata();
      t.equal(meta.exif, undefined, 'no EXIF in the stored image');
      t.notOk(stored.includes(Buffer.from('TestCam')), 'no camera make anywhere in the file');
      t.match(meta, { width: 800, height: 600, format: 'jpeg' });

      const thumb = await fetchMedia(app, media.thumbnailUrl!);
      t.equal(thumb.statusCode, 200, 'the signed thumbnail url needs no token');
      t.equal(thumb.headers['content-type'], 'image/jpeg');
      const thumbMeta = await sharp(thumb.rawPayload).metadata();
      t.match(thumbMeta, { width: 320, height: 240, format: 'jpeg' }, 'at most 320 px, aspect kept');
      t.equal(Number(thumb.headers['content-length']), thumb.rawPayload.length);

      const small = await upload(app, a, await png(64, 48), 'dot.png');
      t.match(small, { mime: 'image/png', width: 64, height: 48 });
      const smallThumb = await fetchMedia(app, `/media/${small.id}/thumbnail`, { token: a.accessToken });
      t.match(await sharp(smallThumb.rawPayload).metadata(), { width: 64, height: 48 }, 'small images are not enlarged');
      expectProblem(t, await fetchMedia(app, `/media/${(await upload(app, a, await fixture('doc.pdf'))).id}/thumbnail`, { token: a.accessToken }), 404, 'MEDIA_NOT_FOUND', 'no thumbnail of a PDF');
    });

    t.test('over the type cap: 413 while streaming, nothing stored, nothing counted', async (t) => {
      const a = await h.user();
      const before = await filesUnder(join(dataDir, 'media'));
      const tooBigImage = await pngHeaderPadded(200_001);
      const response = await uploadRaw(app, a, tooBigImage, 'big.png');
      expectProblem(t, response, 413, 'MEDIA_TOO_LARGE', 'an image over MEDIA_MAX_IMAGE_BYTES');
      t.match(response.json(), { maxBytes: 200000, kind: 'image' });
      const mp3 = await fixture('tone.mp3');
      const bigAudio = Buffer.concat([mp3, Buffer.alloc(100_001 - mp3.length, 0)]);
      expectProblem(t, await uploadRaw(app, a, bigAudio, 'long.mp3'), 413, 'MEDIA_TOO_LARGE', 'audio over MEDIA_MAX_AUDIO_BYTES');
      const atCap = Buffer.concat([mp3, Buffer.alloc(100_000 - mp3.length, 0)]);
      t.equal((await uploadRaw(app, a, atCap, 'exact.mp3')).statusCode, 201, 'exactly the cap is accepted');
      t.same(await filesUnder(tempDir), [], 'no partial upload is left in the temp dir');
      const after = await filesUnder(join(dataDir, 'media'));
      t.equal(after.length - before.length, driver === 'disk' ? 1 : 0, 'only the accepted file reached storage');
    });

    t.test('the per-user quota: 413 MEDIA_QUOTA_EXCEEDED, and other users are unaffected', async (t) => {
      const [a, b] = [await h.user(), await h.user()];
      const mp3 = await fixture('tone.mp3');
      const chunk = Buffer.concat([mp3, Buffer.alloc(95_000 - mp3.length, 0)]);
      for (let i = 0; i < 6; i++) await upload(app, a, chunk, `part${i}.mp3`);
      const over = await uploadRaw(app, a, chunk, 'one-more.mp3');
      expectProblem(t, over, 413, 'MEDIA_QUOTA_EXCEEDED', 'the seventh 95 kB file passes 600 kB');
      t.equal((await uploadRaw(app, a, mp3, 'small.mp3')).statusCode, 201, 'a file that still fits is accepted');
      t.equal((await uploadRaw(app, b, chunk, 'b.mp3')).statusCode, 201, 'the quota is per user');
      t.same(await filesUnder(tempDir), []);
    });

    t.test('JSON uploads {fileName, dataBase64} follow the same rules', async (t) => {
      const a = await h.user();
      const pdf = await fixture('doc.pdf');
      const ok = await call(app, 'POST', '/media', { token: a.accessToken, payload: { fileName: 'scan.pdf', dataBase64: pdf.toString('base64') } });
      t.equal(ok.statusCode, 201, ok.body);
      t.match(ok.json(), { mime: 'application/pdf', size: pdf.length, fileName: 'scan.pdf' });
      const lie = await call(app, 'POST', '/media', { token: a.accessToken, payload: { fileName: 'x.png', dataBase64: (await fixture('setup-exe.png')).toString('base64') } });
      expectProblem(t, lie, 415, 'MEDIA_TYPE_NOT_ALLOWED');
      const big = await call(app, 'POST', '/media', { token: a.accessToken, payload: { fileName: 'big.png', dataBase64: (await pngHeaderPadded(200_001)).toString('base64') } });
      expectProblem(t, big, 413, 'MEDIA_TOO_LARGE', 'the image cap applies');
      expectProblem(t, await call(app, 'POST', '/media', { token: a.accessToken, payload: { fileName: 'x.pdf' } }), 400, 'VALIDATION_FAILED', 'dataBase64 missing');
      expectProblem(t, await call(app, 'POST', '/media', { token: a.accessToken, payload: { fileName: 'x.pdf', dataBase64: 'not base64!' } }), 400, 'VALIDATION_FAILED', 'not base64');
    });

    t.test('uploads need a token and the field "file"', async (t) => {
      const a = await h.user();
      expectProblem(t, await app.inject({ method: 'POST', url: `${API}/media`, payload: { fileName: 'a.pdf', dataBase64: 'JVBERg==' } }), 401, 'UNAUTHORIZED');
      const { multipartBody } = await import('../../support/media.js');
      const wrongField = multipartBody([{ field: 'upload', fileName: 'a.pdf', bytes: await fixture('doc.pdf') }]);
      const response = await app.inject({ method: 'POST', url: `${API}/media`, headers: { ...authHeader(a.accessToken), 'content-type': wrongField.contentType }, payload: wrongField.payload });
      expectProblem(t, response, 400, 'VALIDATION_FAILED', 'a file in another field');
    });
  });
}
