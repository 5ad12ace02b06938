import { createHash } from 'node:crypto';
import t from 'tap';
import { buildChatApp } from '../../support/chat.js';
import { DRIVERS, fetchMedia, fixture, jpegWithGps, storageEnv, upload } from '../../support/media.js';
import { expectProblem } from '../messages/fixtures.js';

/*
 * GET /media/:id on both storage drivers: the headers a player or browser needs, single byte ranges
 * with the right bytes (video and audio seek), conditional requests, and signed expiring links.
 */

for (const driver of DRIVERS) {
  t.test(`${driver} storage`, async (t) => {
    const h = await buildChatApp(t, await storageEnv(t, driver));
    const { app } = h;
    const a = await h.user();
    const video = await fixture('clip.mp4');
    const media = await upload(app, a, video, 'clip.mp4');
    const path = `/media/${media.id}`;
    const get = (headers: Record<string, string> = {}) => fetchMedia(app, path, { token: a.accessToken, headers });

    t.test('the whole file: type, length, ETag, inline, ranges advertised', async (t) => {
      const response = await get();
      t.equal(response.statusCode, 200);
      t.equal(response.headers['content-type'], 'video/mp4');
      t.equal(Number(response.headers['content-length']), video.length);
      t.equal(response.headers.etag, `"${createHash('sha256').update(video).digest('hex')}"`);
      t.equal(response.headers['accept-ranges'], 'bytes');
      t.equal(response.headers['content-disposition'], 'inline', 'media plays inline');
      t.ok(response.rawPayload.equals(video));
    });

    t.test('byte ranges return exactly those bytes with 206 and Content-Range', async (t) => {
      const cases: Array<[string, number, number]> = [
        ['bytes=0-99', 0, 99],
        ['bytes=1000-1999', 1000, 1999],
        [`bytes=${video.length - 10}-`, video.length - 10, video.length - 1],
        ['bytes=-16', video.length - 16, video.length - 1],
        [`bytes=100-${video.length + 5000}`, 100, video.length - 1],
      ];
      for (const [header, start, end] of cases) {
        const response = await get({ range: header });
        t.equal(response.statusCode, 206, `${header}: 206`);
        t.equal(response.headers['content-range'], `bytes ${start}-${end}/${video.length}`, `${header}: Content-Range`);
        t.equal(Number(response.headers['content-length']), end - start + 1, `${header}: Content-Length`);
        t.ok(response.rawPayload.equals(video.subarray(start, end + 1)), `${header}: the right bytes`);
      }
      const past = await get({ range: `bytes=${video.length}-` });
      expectProblem(t, past, 416, 'RANGE_NOT_SATISFIABLE', 'a range starting past the end');
      t.equal(past.headers['content-range'], `bytes */${video.length}`);
      const several = await get({ range: 'bytes=0-1,5-6' });
      t.equal(several.statusCode, 200, 'several ranges: the whole file (allowed by RFC 9110)');
      t.equal(several.rawPayload.length, video.length);
      t.equal((await get({ range: 'items=0-5' })).statusCode, 200, 'another unit: the whole file');
    });

    t.test('If-None-Match with the ETag answers 304 without a body', async (t) => {
      const { etag } = (await get()).headers;
      const response = await get({ 'if-none-match': String(etag) });
      t.equal(response.statusCode, 304);
      t.equal(response.rawPayload.length, 0);
      t.equal((await get({ 'if-none-match': '"other"' })).statusCode, 200);
    });

    t.test('files are attachments with their (cleaned) name; audio streams with its type', async (t) => {
      const pdf = await upload(app, a, await fixture('doc.pdf'), '../Quarterly report ünïcode.PDF');
      const response = await fetchMedia(app, `/media/${pdf.id}`, { token: a.accessToken });
      t.equal(response.headers['content-type'], 'application/pdf');
      t.equal(response.headers['content-disposition'], `attachment; filename="Quarterly report _n_code.pdf"; filename*=UTF-8''${encodeURIComponent('Quarterly report ünïcode.pdf')}`);
      const ogg = await upload(app, a, await fixture('tone.ogg'), 'voice.ogg');
      const audio = await fetchMedia(app, `/media/${ogg.id}`, { token: a.accessToken, headers: { range: 'bytes=0-3' } });
      t.equal(audio.statusCode, 206);
      t.equal(audio.headers['content-type'], 'audio/ogg');
      t.equal(audio.rawPayload.toString('latin1'), 'OggS', 'the first bytes of the Ogg stream');
    });

    t.test('signed links: no token needed; a tampered, expired or other-variant link is 403', async (t) => {
      const response = await fetchMedia(app, media.url, { headers: { range: 'bytes=0-7' } });
      t.equal(response.statusCode, 206, 'the signed URL works without a token, ranges included');
      t.ok(response.rawPayload.equals(video.subarray(0, 8)));
      const url = new URL(media.url, 'http://x');
      const exp = url.searchParams.get('exp')!;
      const sig = url.searchParams.get('sig')!;
      t.ok(Number(exp) * 1000 > Date.now() + 3500 * 1000, 'valid for about MEDIA_URL_TTL_SECONDS (3600)');
      expectProblem(t, await fetchMedia(app, `${path}?exp=${exp}&sig=${sig.slice(0, -2)}xx`), 403, 'MEDIA_LINK_INVALID', 'a tampered signature');
      expectProblem(t, await fetchMedia(app, `${path}?exp=${Number(exp) + 60}&sig=${sig}`), 403, 'MEDIA_LINK_INVALID', 'a longer expiry with the old signature');
      expectProblem(t, await fetchMedia(app, `${path}?exp=${Math.floor(Date.now() / 1000) - 1}&sig=${sig}`), 403, 'MEDIA_LINK_INVALID', 'an expired link');
      expectProblem(t, await fetchMedia(app, `${path}/thumbnail?exp=${exp}&sig=${sig}`), 403, 'MEDIA_LINK_INVALID', 'the file link does not open the thumbnail');
      const other = await upload(app, a, await fixture('tone.mp3'));
      expectProblem(t, await fetchMedia(app, `/media/${other.id}?exp=${exp}&sig=${sig}`), 403, 'MEDIA_LINK_INVALID', 'nor another media');
      expectProblem(t, await fetchMedia(app, path), 401, 'UNAUTHORIZED', 'no token and no signature');
      const image = await upload(app, a, await jpegWithGps(100, 80));
      const info = await fetchMedia(app, `/media/${image.id}/info`, { token: a.accessToken });
      t.equal(info.statusCode, 200);
      t.match(info.json(), { id: image.id, width: 100, height: 80, url: /\?exp=\d+&sig=/, thumbnailUrl: /\/thumbnail\?exp=\d+&sig=/ }, 'GET /media/:id/info answers fresh links');
      t.equal((await fetchMedia(app, info.json().thumbnailUrl)).statusCode, 200);
    });

    t.test('unknown ids are 404 and bad ids 400', async (t) => {
      expectProblem(t, await fetchMedia(app, '/media/0192f0c1-7a00-7000-8000-0000000000ff', { token: a.accessToken }), 404, 'MEDIA_NOT_FOUND');
      expectProblem(t, await fetchMedia(app, '/media/not-an-id', { token: a.accessToken }), 400, 'VALIDATION_FAILED');
    });
  });
}
