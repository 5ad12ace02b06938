import { createECDH, createHmac, createDecipheriv, createPublicKey, randomBytes, verify } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Test } from 'tap';
import { LOOPBACK_TLS } from './loopback-tls.js';

/*
 * A Web Push service on loopback, speaking the protocol a browser's push service does (RFC 8030):
 * TLS (its certificate, test/fixtures/push/loopback.crt, is added to this process's trusted CAs),
 * POST to the subscription's endpoint, answers 201 unless told otherwise. What it receives is read
 * as a browser would: the payload decrypted with the subscription's private key (RFC 8291,
 * aes128gcm) and the VAPID header verified (RFC 8292).
 */


export interface PushRequest {
  path: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
  status: number;
}

/** A browser's side of one subscription: its keys, and what PushSubscription.toJSON() gives the app. */
export interface BrowserSubscription {
  json: { endpoint: string; keys: { p256dh: string; auth: string } };
  decrypt(body: Buffer): unknown;
}

const hmac = (key: Buffer, data: Buffer) => createHmac('sha256', key).update(data).digest();

/** RFC 8291 decryption of one aes128gcm record with the user agent's keys. */
function decrypt(body: Buffer, ua: { ecdh: ReturnType<typeof createECDH>; auth: Buffer }): unknown {
  const salt = body.subarray(0, 16);
  const idlen = body[20]!;
  const asPublic = body.subarray(21, 21 + idlen);
  const record = body.subarray(21 + idlen);
  const ecdhSecret = ua.ecdh.computeSecret(asPublic);
  const keyInfo = Buffer.concat([Buffer.from('WebPush: info\0'), ua.ecdh.getPublicKey(), asPublic, Buffer.from([1])]);
  const ikm = hmac(hmac(ua.auth, ecdhSecret), keyInfo);
  const prk = hmac(salt, ikm);
  const cek = hmac(prk, Buffer.from('Content-Encoding: aes128gcm\0\x01', 'binary')).subarray(0, 16);
  const nonce = hmac(prk, Buffer.from('Content-Encoding: nonce\0\x01', 'binary')).subarray(0, 12);
  const decipher = createDecipheriv('aes-128-gcm', cek, nonce);
  decipher.setAuthTag(record.subarray(record.length - 16));
  const plain = Buffer.concat([decipher.update(record.subarray(0, record.length - 16)), decipher.final()]);
  let end = plain.length - 1;
  while (end >= 0 && plain[end] === 0) end--;
  if (plain[end] !== 2) throw new Error('no last-record delimiter');
  return JSON.parse(plain.subarray(0, end).toString('utf8'));
}

/** Verifies `Authorization: vapid t=<jwt>, k=<key>` for `endpoint`; answers the key and the claims. */
export function verifyVapid(authorization: string | undefined, endpoint: string): { key: string; claims: { aud: string; exp: number; sub: string } } {
  const match = /^vapid t=([^,\s]+),\s*k=([A-Za-z0-9_-]+)$/.exec(authorization ?? '');
  if (!match) throw new Error(`not a VAPID header: ${authorization}`);
  const [header, payload, signature] = match[1]!.split('.') as [string, string, string];
  const raw = Buffer.from(match[2]!, 'base64url');
  const key = createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: raw.subarray(1, 33).toString('base64url'), y: raw.subarray(33, 65).toString('base64url') }, format: 'jwk' });
  if (JSON.parse(Buffer.from(header, 'base64url').toString()).alg !== 'ES256') throw new Error('not ES256');
  if (!verify('sha256', Buffer.from(`${header}.${payload}`), { key, dsaEncoding: 'ieee-p1363' }, Buffer.from(signature, 'base64url'))) throw new Error('bad VAPID signature');
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as { aud: string; exp: number; sub: string };
  if (claims.aud !== new URL(endpoint).origin) throw new Error(`aud ${claims.aud} is not ${new URL(endpoint).origin}`);
  const now = Date.now() / 1000;
  if (!(claims.exp > now && claims.exp <= now + 24 * 3600)) throw new Error(`exp ${claims.exp} out of range`);
  return { key: match[2]!, claims };
}

export async function startWebPushEndpoint(t: Test) {
  const requests: PushRequest[] = [];
  /** Statuses to answer next, in order (then 201); `hang` never answers (recorded with status 0). */
  const answers: Array<number | 'hang'> = [];
  const server = createServer(LOOPBACK_TLS, (request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const answer = answers.shift() ?? 201;
      const status = answer === 'hang' ? 0 : answer;
      requests.push({ path: request.url ?? '', headers: request.headers, body: Buffer.concat(chunks), status });
      if (answer !== 'hang') response.writeHead(status, status === 503 ? { 'retry-after': '1' } : {}).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => {
    server.closeAllConnections(); // hung requests too
    server.close(() => resolve());
  }));
  server.unref();
  const base = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    base,
    requests,
    answers,
    /** A new browser subscription on this service. */
    subscribe(): BrowserSubscription {
      const ecdh = createECDH('prime256v1');
      ecdh.generateKeys();
      const auth = randomBytes(16);
      const endpoint = `${base}/push/${randomBytes(8).toString('hex')}`;
      return {
        json: { endpoint, keys: { p256dh: ecdh.getPublicKey().toString('base64url'), auth: auth.toString('base64url') } },
        decrypt: (body) => decrypt(body, { ecdh, auth }),
      };
    },
    /** The successful pushes to one subscription. */
    received: (subscription: BrowserSubscription) => requests.filter((r) => `${base}${r.path}` === subscription.json.endpoint && r.status >= 200 && r.status < 300),
  };
}
