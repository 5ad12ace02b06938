import { connect as tcpConnect, type AddressInfo } from 'node:net';
import t from 'tap';
import { problemOf } from '../../helper.js';
import { API, authHeader } from '../../support/accounts.js';
import { buildChatApp } from '../../support/chat.js';
import { filesUnder, multipartBody, png, pngHeaderPadded, upload } from '../../support/media.js';

/*
 * POST /media with bodies the multipart parser cannot read, or that are neither multipart nor JSON:
 * each is the client's error (400 MALFORMED_MULTIPART, 415 UNSUPPORTED_MEDIA_TYPE), never a 500, and
 * nothing is stored. Before, the parser's plain Errors and a text/plain body reached the handler: 500.
 */

const h = await buildChatApp(t);
const { app } = h;
const alice = await h.user();
const mediaDir = `${h.backend.env.DATA_DIR}/media`;

/** The multipart body of a 100 kB PNG, cut after `keep` bytes (inside the file). */
async function truncated(keep: number) {
  const body = multipartBody([{ field: 'file', fileName: 'cut.png', contentType: 'image/png', bytes: await pngHeaderPadded(100_000) }]);
  if (keep > body.payload.length - 100) throw new Error('the cut must fall inside the file');
  return { payload: body.payload.subarray(0, keep), contentType: body.contentType };
}

t.test('raw bodies through app.inject', async (t) => {
  const cut = await truncated(600);
  const cases: Array<{ what: string; contentType: string; payload: string | Buffer; status: number; code: string }> = [
    { what: 'multipart without a boundary', contentType: 'multipart/form-data', payload: 'abc', status: 400, code: 'MALFORMED_MULTIPART' },
    { what: 'multipart with an empty boundary', contentType: 'multipart/form-data; boundary=', payload: 'abc', status: 400, code: 'MALFORMED_MULTIPART' },
    { what: 'a body that never reaches its boundary', contentType: 'multipart/form-data; boundary=XX', payload: 'garbage', status: 400, code: 'MALFORMED_MULTIPART' },
    { what: 'a body cut inside the file', contentType: cut.contentType, payload: cut.payload, status: 400, code: 'MALFORMED_MULTIPART' },
    { what: 'text/plain', contentType: 'text/plain', payload: 'hello', status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' },
    { what: 'text/plain that looks like JSON', contentType: 'text/plain', payload: '{"fileName":"a.txt","dataBase64":"aGk="}', status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' },
  ];
  for (const { what, contentType, payload, status, code } of cases) {
    const response = await app.inject({ method: 'POST', url: `${API}/media`, headers: { ...authHeader(alice.accessToken), 'content-type': contentType }, payload });
    t.equal(response.statusCode, status, `${what}: ${status}`);
    t.equal(problemOf(t, response).code, code, `${what}: ${code}`);
  }
  t.same(await filesUnder(mediaDir), [], 'nothing was stored');
});

t.test('a body cut before its closing boundary, sent over a real socket', async (t) => {
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as AddressInfo;
  const cut = await truncated(40_000);
  const head = [
    `POST ${API}/media HTTP/1.1`,
    `Host: 127.0.0.1:${port}`,
    `Authorization: ${authHeader(alice.accessToken).authorization}`,
    `Content-Type: ${cut.contentType}`,
    `Content-Length: ${cut.payload.length}`,
    'Connection: close',
    '',
    '',
  ].join('\r\n');
  const raw = await new Promise<string>((resolve, reject) => {
    const socket = tcpConnect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    socket.on('error', reject);
    socket.write(head);
    // In pieces, as a slow client would send it.
    for (let offset = 0; offset < cut.payload.length; offset += 8192) socket.write(cut.payload.subarray(offset, offset + 8192));
  });
  const [statusLine, ...rest] = raw.split('\r\n');
  t.match(statusLine, /^HTTP\/1\.1 400 /, 'answered 400');
  t.match(rest.find((line) => /^content-type:/i.test(line)), /application\/problem\+json/i);
  t.match(raw.slice(raw.indexOf('\r\n\r\n')), /"code":"MALFORMED_MULTIPART"/);
  t.same(await filesUnder(mediaDir), [], 'nothing was stored');
  const after = await upload(app, alice, await png(), 'ok.png');
  t.equal(after.kind, 'image', 'the next upload works');
});
