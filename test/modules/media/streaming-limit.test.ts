import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import t from 'tap';
import { buildChatApp } from '../../support/chat.js';
import { filesUnder, fixture, png } from '../../support/media.js';

/*
 * The size cap over a real socket: a client streaming a far larger upload than allowed gets its 413
 * long before it has sent everything, and nothing of it stays on disk. Memory stays flat because the
 * server never holds more than a chunk of the upload.
 */

const h = await buildChatApp(t, { MEDIA_MAX_VIDEO_BYTES: '1048576' });
const { app } = h;
await app.listen({ port: 0, host: '127.0.0.1' });
const { port } = app.server.address() as AddressInfo;
const dataDir = h.backend.env.DATA_DIR!;

const openConnections = () => new Promise<number>((resolve, reject) => app.server.getConnections((error, n) => (error ? reject(error) : resolve(n))));

/** Streams a multipart upload of `head` followed by zeros up to `total` bytes; resolves with the answer and how much was sent by then. */
function streamUpload(token: string, head: Buffer, total: number) {
  const boundary = '----streamtest';
  let sent = 0;
  let answered = false;
  async function* body() {
    yield Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="huge.mp4"\r\nContent-Type: video/mp4\r\n\r\n`);
    yield head;
    sent = head.length;
    const chunk = Buffer.alloc(64 * 1024);
    while (sent < total && !answered) {
      sent += chunk.length;
      yield chunk;
      await new Promise((resolve) => setImmediate(resolve));
    }
    yield Buffer.from(`\r\n--${boundary}--\r\n`);
  }
  return new Promise<{ status: number; body: string; sentWhenAnswered: number }>((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, method: 'POST', path: '/api/v1/media', headers: { authorization: `Bearer ${token}`, 'content-type': `multipart/form-data; boundary=${boundary}`, 'transfer-encoding': 'chunked' } },
      (res) => {
        const sentWhenAnswered = sent;
        answered = true;
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          // Like a client that stops at the answer: the server must notice and let the socket go.
          req.destroy();
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), sentWhenAnswered });
        });
        res.on('error', reject);
      },
    );
    req.on('error', (error: NodeJS.ErrnoException) => {
      if (!answered) reject(error);
    });
    Readable.from(body()).pipe(req);
  });
}

t.test('a 200 MiB video against a 1 MiB cap is refused with 413 after about 1 MiB', async (t) => {
  const a = await h.user();
  const total = 200 * 1_048_576;
  const answer = await streamUpload(a.accessToken, await fixture('clip.mp4'), total);
  t.equal(answer.status, 413);
  t.equal(JSON.parse(answer.body).code, 'MEDIA_TOO_LARGE');
  t.ok(answer.sentWhenAnswered < 16 * 1_048_576, `answered after ${answer.sentWhenAnswered} of ${total} bytes`);
  t.same(await filesUnder(join(dataDir, 'tmp')), [], 'nothing left in the temp dir');
  t.same(await filesUnder(join(dataDir, 'media')), [], 'nothing stored');
  const start = Date.now();
  while ((await openConnections()) > 0 && Date.now() - start < 5000) await new Promise((resolve) => setTimeout(resolve, 50));
  t.equal(await openConnections(), 0, 'the server lets the abandoned connection go (it is not left paused until a timeout)');

  const form = new FormData();
  form.append('file', new Blob([await png(32, 32)]), 'dot.png');
  const after = await fetch(`http://127.0.0.1:${port}/api/v1/media`, { method: 'POST', headers: { authorization: `Bearer ${a.accessToken}` }, body: form });
  t.equal(after.status, 201, 'the server takes the next upload normally');
});
