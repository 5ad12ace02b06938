import { type KeyObject, generateKeyPairSync, randomBytes, randomInt, randomUUID, verify } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { type Http2Session, type IncomingHttpHeaders, type ServerHttp2Stream, constants, createSecureServer } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import type { Test } from 'tap';
import { LOOPBACK_TLS } from './loopback-tls.js';
import type { ApnsConfig } from '../../src/config.js';

/*
 * APNs on loopback, speaking what api.push.apple.com does
 * (https://developer.apple.com/documentation/usernotifications/handling-notification-responses-from-apns):
 * HTTP/2 over TLS (test/fixtures/push/loopback.crt, added to this process's trusted CAs), POST
 * /3/device/<token>, the provider token checked (ES256 with the test key's public half, its kid and
 * iss, at most an hour old), the apns-* headers checked, 200 with apns-id unless a test queues
 * another answer.
 */


/** A team's token-signing key, as Apple hands it out (.p8: PKCS#8 PEM) and as APNs knows it. */
export interface ApnsTestKey {
  /** The .p8 file, for APNS_KEY_FILE (removed when the test ends). */
  file: string;
  pem: string;
  publicKey: KeyObject;
  keyId: string;
  teamId: string;
}

const appleId = () => Array.from({ length: 10 }, () => 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'[randomInt(36)]).join('');

/** A new P-256 key with random 10-character key and team ids, written to a temporary .p8. */
export function createApnsKey(t: Test): ApnsTestKey {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  const dir = mkdtempSync(join(tmpdir(), 'apns-key-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'AuthKey.p8');
  writeFileSync(file, pem, { mode: 0o600 });
  return { file, pem, publicKey, keyId: appleId(), teamId: appleId() };
}

/** A device token as an iPhone's app gets it (32 bytes, hex). */
export const apnsDeviceToken = (): string => randomBytes(32).toString('hex');

/**
 * What to answer to the next valid request: a status (with Apple's usual reason), a status with a
 * reason and a Retry-After, `hang` (never answer), `drop` (cut the connection, no GOAWAY), `goaway`
 * (answer 200, then close the session gracefully: GOAWAY) or `refuse` (RST_STREAM REFUSED_STREAM:
 * not processed, as for a stream past a GOAWAY's last stream id).
 */
export type ApnsAnswer = number | { status: number; reason?: string; retryAfter?: string } | 'hang' | 'drop' | 'goaway' | 'refuse';

export interface ApnsRequest {
  path: string;
  /** The device token from the path. */
  deviceToken: string;
  headers: IncomingHttpHeaders;
  /** The provider token (JWT) the request carried. */
  jwt: string | undefined;
  /** Its claims, when it verified. */
  claims: { iss: string; iat: number } | undefined;
  /** The JSON body, parsed (undefined when it is not JSON). */
  body: Record<string, unknown> | undefined;
  /** What was answered; 0 for `hang`, `drop` and `refuse`. */
  status: number;
  reason: string | undefined;
  /** The client reset the stream (RST_STREAM) before it was answered, e.g. on its timeout. */
  cancelled: boolean;
  /** Which HTTP/2 session (connection) it came on: 1, 2, ... in order of connection. */
  session: number;
}

const DEFAULT_REASONS: Record<number, string> = {
  400: 'BadDeviceToken',
  403: 'InvalidProviderToken',
  404: 'BadPath',
  405: 'MethodNotAllowed',
  410: 'Unregistered',
  413: 'PayloadTooLarge',
  429: 'TooManyRequests',
  500: 'InternalServerError',
  503: 'ServiceUnavailable',
};

const PUSH_TYPES = new Set(['alert', 'background', 'location', 'voip', 'complication', 'fileprovider', 'mdm', 'liveactivity', 'pushtotalk', 'widgets', 'controls']);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Checks the provider token as APNs does; the reason to answer 403 with, or the claims. */
function checkProviderToken(authorization: string | undefined, key: ApnsTestKey): { reason: string } | { claims: { iss: string; iat: number } } {
  const match = /^bearer ([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)$/.exec(authorization ?? '');
  if (!authorization) return { reason: 'MissingProviderToken' };
  if (!match) return { reason: 'InvalidProviderToken' };
  const [, header, payload, signature] = match as unknown as [string, string, string, string];
  try {
    const h = JSON.parse(Buffer.from(header, 'base64url').toString()) as { alg?: unknown; kid?: unknown };
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as { iss?: unknown; iat?: unknown };
    if (h.alg !== 'ES256' || h.kid !== key.keyId || claims.iss !== key.teamId || typeof claims.iat !== 'number' || !Number.isInteger(claims.iat)) return { reason: 'InvalidProviderToken' };
    if (!verify('sha256', Buffer.from(`${header}.${payload}`), { key: key.publicKey, dsaEncoding: 'ieee-p1363' }, Buffer.from(signature, 'base64url'))) return { reason: 'InvalidProviderToken' };
    const now = Date.now() / 1000;
    if (claims.iat > now + 60) return { reason: 'InvalidProviderToken' };
    if (claims.iat < now - 3600) return { reason: 'ExpiredProviderToken' };
    return { claims: { iss: claims.iss, iat: claims.iat } };
  } catch {
    return { reason: 'InvalidProviderToken' };
  }
}

/** The 400 reason for bad apns-* headers or body, in the order APNs reports them; undefined when fine. */
function checkRequest(headers: IncomingHttpHeaders, deviceToken: string, body: Record<string, unknown> | undefined, size: number): string | undefined {
  if (!/^[0-9a-f]{64}$/i.test(deviceToken)) return 'BadDeviceToken';
  if (!headers['apns-topic']) return 'MissingTopic';
  if (!PUSH_TYPES.has(String(headers['apns-push-type']))) return 'InvalidPushType';
  if (headers['apns-id'] !== undefined && !UUID.test(String(headers['apns-id']))) return 'BadMessageId';
  if (headers['apns-priority'] !== undefined && !['1', '5', '10'].includes(String(headers['apns-priority']))) return 'BadPriority';
  if (headers['apns-expiration'] !== undefined && !/^\d+$/.test(String(headers['apns-expiration']))) return 'BadExpirationDate';
  if (headers['apns-collapse-id'] !== undefined && Buffer.byteLength(String(headers['apns-collapse-id'])) > 64) return 'BadCollapseId';
  if (size === 0) return 'PayloadEmpty';
  if (!body || typeof body.aps !== 'object' || body.aps === null) return 'BadPayload';
  return undefined;
}

/** APNs for `key` (a new one unless given) on 127.0.0.1, closed when the test ends. */
export async function startApnsServer(t: Test, key: ApnsTestKey = createApnsKey(t), topic = 'com.example.chat') {
  const requests: ApnsRequest[] = [];
  /** Answers to the next valid requests, in order (then 200). Invalid requests get their 4xx and take none. */
  const answers: ApnsAnswer[] = [];
  const sessions = new Map<Http2Session, number>();
  /** The TLS sockets by client port: `drop` cuts one under its session (which only offers a proxy that refuses destroy). */
  const sockets = new Map<number, TLSSocket>();
  let connections = 0;

  const server = createSecureServer({ ...LOOPBACK_TLS, allowHTTP1: false });
  server.on('secureConnection', (socket: TLSSocket) => {
    const port = socket.remotePort!;
    sockets.set(port, socket);
    socket.on('close', () => sockets.delete(port));
  });
  server.on('session', (session) => {
    sessions.set(session, ++connections);
    session.on('close', () => sessions.delete(session));
    session.on('error', () => {});
  });
  server.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => {
    const chunks: Buffer[] = [];
    stream.on('error', () => {});
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => respond(stream, headers, Buffer.concat(chunks)));
  });

  function respond(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, raw: Buffer): void {
    const path = String(headers[':path'] ?? '');
    const deviceToken = decodeURIComponent(/^\/3\/device\/([^/?]*)$/.exec(path)?.[1] ?? '');
    const jwt = /^bearer (.*)$/.exec(String(headers.authorization ?? ''))?.[1];
    let body: Record<string, unknown> | undefined;
    try {
      body = JSON.parse(raw.toString('utf8')) as Record<string, unknown>;
    } catch {
      body = undefined;
    }
    const record: ApnsRequest = { path, deviceToken, headers, jwt, claims: undefined, body, status: 0, reason: undefined, cancelled: false, session: sessions.get(stream.session!) ?? 0 };
    requests.push(record);
    stream.on('close', () => {
      if (record.status === 0 && stream.rstCode === constants.NGHTTP2_CANCEL) record.cancelled = true;
    });
    const answer = (status: number, reason?: string, extra: Record<string, string> = {}) => {
      record.status = status;
      record.reason = reason;
      const apnsId = typeof headers['apns-id'] === 'string' ? headers['apns-id'] : randomUUID();
      const payload = reason ? JSON.stringify(status === 410 ? { reason, timestamp: Date.now() } : { reason }) : '';
      stream.respond({ ':status': status, 'apns-id': apnsId, ...(payload ? { 'content-type': 'application/json' } : {}), ...extra });
      stream.end(payload);
    };
    if (headers[':method'] !== 'POST') return answer(405, 'MethodNotAllowed');
    if (!/^\/3\/device\/[^/]*$/.test(path)) return answer(404, 'BadPath');
    const auth = checkProviderToken(typeof headers.authorization === 'string' ? headers.authorization : undefined, key);
    if ('reason' in auth) return answer(403, auth.reason);
    record.claims = auth.claims;
    const bad = checkRequest(headers, deviceToken, body, raw.length);
    if (bad) return answer(400, bad);
    if (raw.length > 4096) return answer(413, 'PayloadTooLarge');
    const next = answers.shift() ?? 200;
    if (next === 'hang') return;
    if (next === 'drop') return void sockets.get(stream.session!.socket.remotePort!)?.destroy();
    if (next === 'refuse') return void stream.close(constants.NGHTTP2_REFUSED_STREAM);
    if (next === 'goaway') {
      answer(200);
      return void stream.session?.close();
    }
    const { status, reason, retryAfter } = typeof next === 'number' ? { status: next, reason: DEFAULT_REASONS[next], retryAfter: undefined } : next;
    answer(status, status === 200 ? undefined : reason, retryAfter !== undefined ? { 'retry-after': retryAfter } : {});
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(async () => {
    for (const session of sessions.keys()) session.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const baseUrl = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const config: ApnsConfig = { key: key.pem, keyId: key.keyId, teamId: key.teamId, topic, baseUrl };
  return {
    baseUrl,
    key,
    /** What the sender is configured with to push here. */
    config,
    /** The same, as environment variables for an app. */
    env: { APNS_KEY_FILE: key.file, APNS_KEY_ID: key.keyId, APNS_TEAM_ID: key.teamId, APNS_TOPIC: topic, APNS_BASE_URL: baseUrl },
    requests,
    answers,
    /** HTTP/2 sessions (connections) accepted so far. */
    get connections() {
      return connections;
    },
    /** Closes every open session gracefully (GOAWAY), as APNs does to idle or old connections; resolves when they are closed. */
    async goAway(): Promise<void> {
      await Promise.all([...sessions.keys()].map((session) => new Promise<void>((resolve) => session.close(resolve))));
    },
    /** The answered pushes to one device token. */
    received: (deviceToken: string) => requests.filter((r) => r.deviceToken === deviceToken && r.status === 200),
  };
}

export type ApnsServer = Awaited<ReturnType<typeof startApnsServer>>;

/** The decoded parts of a provider token (not verified: the server did that). */
export function decodeProviderToken(jwt: string): { header: { alg: string; kid: string }; claims: { iss: string; iat: number } } {
  const [header, claims] = jwt.split('.').slice(0, 2).map((part) => JSON.parse(Buffer.from(part, 'base64url').toString())) as [{ alg: string; kid: string }, { iss: string; iat: number }];
  return { header, claims };
}
