import { type KeyObject, generateKeyPair, randomBytes, randomUUID, verify } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Test } from 'tap';
import { LOOPBACK_TLS } from './loopback-tls.js';

/*
 * FCM HTTP v1 and Google's OAuth2 token endpoint on loopback, over TLS (the fixture certificate,
 * test/fixtures/push/loopback.crt, is added to this process's trusted CAs). The token endpoint
 * grants access tokens for RFC 7523 JWT-bearer assertions signed by a service account made here
 * (serviceAccount()); messages:send accepts only the tokens it granted, checks the message as FCM
 * does (the parts this backend uses), and answers what a test queued, else 200.
 */


const SCOPE = 'https://www.googleapis.com/auth/firebase.messaging';
const GRANT_TYPE = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const FCM_ERROR = 'type.googleapis.com/google.firebase.fcm.v1.FcmError';
const GOOGLE_STATUS: Record<number, string> = { 400: 'INVALID_ARGUMENT', 401: 'UNAUTHENTICATED', 403: 'PERMISSION_DENIED', 404: 'NOT_FOUND', 429: 'RESOURCE_EXHAUSTED', 500: 'INTERNAL', 503: 'UNAVAILABLE' };

/** What messages:send answers next: a status, an FCM error (with a field violation, a Retry-After), or no answer at all. */
export type FcmAnswer = number | { status: number; errorCode?: string; field?: string; retryAfter?: string } | 'hang';

export interface FcmRequest {
  project: string;
  headers: IncomingHttpHeaders;
  /** The parsed JSON body. */
  body: { message?: Record<string, unknown> } & Record<string, unknown>;
  /** What was answered; 0 when the request was left hanging. */
  status: number;
}

export interface TokenRequest {
  /** The assertion's claims, when it parsed. */
  claims: Record<string, unknown> | undefined;
  status: number;
  /** The access token granted (200). */
  accessToken?: string;
}

/** A service account key file (what the Firebase console downloads), and its parts as FcmConfig. */
export interface ServiceAccount {
  file: string;
  json: { type: 'service_account'; project_id: string; private_key_id: string; private_key: string; client_email: string; client_id: string; token_uri: string };
}

interface Claims {
  iss?: unknown;
  scope?: unknown;
  aud?: unknown;
  iat?: unknown;
  exp?: unknown;
}

export async function startFcmServer(t: Test) {
  const requests: FcmRequest[] = [];
  const tokenRequests: TokenRequest[] = [];
  /** messages:send answers, in order (then 200). */
  const answers: FcmAnswer[] = [];
  /** Token endpoint answers, in order (then a grant when the assertion is good). */
  const tokenAnswers: Array<number | 'hang'> = [];
  /** Service accounts by client_email. */
  const accounts = new Map<string, { project: string; publicKey: KeyObject }>();
  /** Granted access tokens and the account they act for. */
  const granted = new Map<string, { email: string; project: string }>();

  const server = createServer(LOOPBACK_TLS, (request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const path = request.url ?? '';
      const send = /^\/v1\/projects\/([^/]+)\/messages:send$/.exec(path);
      if (request.method === 'POST' && path === '/token') return token(request.headers, body, response);
      if (request.method === 'POST' && send) return message(decodeURIComponent(send[1]!), request.headers, body, response);
      json(response, 404, googleError(404, 'Not found'));
    });
  });

  function token(headers: IncomingHttpHeaders, body: string, response: ServerResponse): void {
    const form = new URLSearchParams(body);
    const record: TokenRequest = { claims: undefined, status: 0 };
    tokenRequests.push(record);
    const refuse = (status: number, error: string, description: string) => {
      record.status = status;
      json(response, status, { error, error_description: description });
    };
    const queued = tokenAnswers.shift();
    if (queued === 'hang') return;
    if (queued !== undefined) return refuse(queued, queued >= 500 ? 'internal_failure' : 'invalid_request', 'queued by the test');
    if (!headers['content-type']?.startsWith('application/x-www-form-urlencoded')) return refuse(400, 'invalid_request', 'not a form');
    if (form.get('grant_type') !== GRANT_TYPE) return refuse(400, 'unsupported_grant_type', `grant_type ${form.get('grant_type')}`);
    const [header, payload, signature] = (form.get('assertion') ?? '').split('.');
    let claims: Claims;
    try {
      if (JSON.parse(Buffer.from(header!, 'base64url').toString()).alg !== 'RS256') return refuse(400, 'invalid_grant', 'not RS256');
      claims = JSON.parse(Buffer.from(payload!, 'base64url').toString()) as Claims;
    } catch {
      return refuse(400, 'invalid_grant', 'not a JWT');
    }
    record.claims = claims as Record<string, unknown>;
    const account = typeof claims.iss === 'string' ? accounts.get(claims.iss) : undefined;
    if (!account) return refuse(400, 'invalid_grant', `unknown iss ${String(claims.iss)}`);
    if (!verify('RSA-SHA256', Buffer.from(`${header}.${payload}`), account.publicKey, Buffer.from(signature ?? '', 'base64url'))) return refuse(400, 'invalid_grant', 'Invalid JWT Signature.');
    if (claims.aud !== tokenUri) return refuse(400, 'invalid_grant', `aud ${String(claims.aud)} is not ${tokenUri}`);
    if (typeof claims.scope !== 'string' || !claims.scope.split(' ').includes(SCOPE)) return refuse(400, 'invalid_scope', `scope ${String(claims.scope)}`);
    const now = Date.now() / 1000;
    if (typeof claims.iat !== 'number' || typeof claims.exp !== 'number' || Math.abs(claims.iat - now) > 300 || claims.exp <= now || claims.exp - claims.iat > 3600) {
      return refuse(400, 'invalid_grant', 'Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.');
    }
    const accessToken = `ya29.${randomBytes(24).toString('base64url')}`;
    granted.set(accessToken, { email: claims.iss as string, project: account.project });
    record.status = 200;
    record.accessToken = accessToken;
    json(response, 200, { access_token: accessToken, expires_in: 3599, token_type: 'Bearer' });
  }

  function message(project: string, headers: IncomingHttpHeaders, raw: string, response: ServerResponse): void {
    let body: FcmRequest['body'];
    try {
      body = JSON.parse(raw) as FcmRequest['body'];
    } catch {
      body = {};
    }
    const record: FcmRequest = { project, headers, body, status: 0 };
    requests.push(record);
    const answer = (status: number, payload: unknown, extra: Record<string, string> = {}) => {
      record.status = status;
      json(response, status, payload, extra);
    };
    const bearer = /^Bearer (\S+)$/.exec(headers.authorization ?? '')?.[1];
    const grant = bearer ? granted.get(bearer) : undefined;
    if (!grant) return answer(401, googleError(401, 'Request had invalid authentication credentials. Expected OAuth 2 access token.'), { 'www-authenticate': 'Bearer realm="https://accounts.google.com/"' });
    if (grant.project !== project) return answer(403, googleError(403, `Permission 'cloudmessaging.messages.create' denied on resource '//cloudresourcemanager.googleapis.com/projects/${project}'`));
    const problem = messageProblem(body);
    if (problem) return answer(400, googleError(400, problem.description, 'INVALID_ARGUMENT', problem.field));
    const queued = answers.shift();
    if (queued === 'hang') return;
    if (queued === undefined) return answer(200, { name: `projects/${project}/messages/${randomUUID()}` });
    const spec = typeof queued === 'number' ? { status: queued } : queued;
    answer(spec.status, googleError(spec.status, 'queued by the test', spec.errorCode, spec.field), spec.retryAfter ? { 'retry-after': spec.retryAfter } : {});
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(async () => {
    server.closeAllConnections();
    server.close();
    await once(server, 'close');
  });
  const base = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const tokenUri = `${base}/token`;

  return {
    base,
    tokenUri,
    requests,
    tokenRequests,
    answers,
    tokenAnswers,
    /** Forgets every access token granted (as if revoked): the next send with one is answered 401. */
    revokeTokens: () => granted.clear(),
    /** Whether this server granted the access token. */
    granted: (accessToken: string) => granted.has(accessToken),
    /**
     * A new service account of `project` known to the token endpoint, its key file (with
     * token_uri pointing here) written to a temp dir that is removed when the test ends.
     */
    async serviceAccount(project = 'chat-test'): Promise<ServiceAccount> {
      const { publicKey, privateKey } = await promisify(generateKeyPair)('rsa', { modulusLength: 2048 });
      const clientEmail = `push-${randomBytes(4).toString('hex')}@${project}.iam.gserviceaccount.com`;
      accounts.set(clientEmail, { project, publicKey });
      const json: ServiceAccount['json'] = {
        type: 'service_account',
        project_id: project,
        private_key_id: randomBytes(20).toString('hex'),
        private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
        client_email: clientEmail,
        client_id: String(BigInt(`0x${randomBytes(8).toString('hex')}`)),
        token_uri: tokenUri,
      };
      const dir = await mkdtemp(join(tmpdir(), 'fcm-account-'));
      t.teardown(() => rm(dir, { recursive: true, force: true }));
      const file = join(dir, 'service-account.json');
      await writeFile(file, JSON.stringify(json, null, 2), { mode: 0o600 });
      return { file, json };
    },
  };
}

function json(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  response.writeHead(status, { 'content-type': 'application/json; charset=UTF-8', ...headers }).end(JSON.stringify(body));
}

/** A Google API error body; an FCM error code and a field violation go in `details`, as FCM sends them. */
function googleError(status: number, message: string, errorCode?: string, field?: string) {
  const details: unknown[] = [];
  if (errorCode) details.push({ '@type': FCM_ERROR, errorCode });
  if (field) details.push({ '@type': 'type.googleapis.com/google.rpc.BadRequest', fieldViolations: [{ field, description: message }] });
  return { error: { code: status, message, status: GOOGLE_STATUS[status] ?? 'UNKNOWN', ...(details.length ? { details } : {}) } };
}

const MESSAGE_FIELDS = new Set(['name', 'data', 'notification', 'android', 'webpush', 'apns', 'fcm_options', 'token', 'topic', 'condition']);
const ANDROID_FIELDS = new Set(['collapse_key', 'priority', 'ttl', 'restricted_package_name', 'data', 'notification', 'fcm_options', 'direct_boot_ok']);
const ANDROID_NOTIFICATION_FIELDS = new Set(['title', 'body', 'icon', 'color', 'sound', 'tag', 'click_action', 'channel_id', 'notification_count', 'notification_priority', 'visibility', 'image']);
const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const stringMap = (value: unknown) => isObject(value) && Object.values(value).every((v) => typeof v === 'string');

/** What FCM would refuse with 400 INVALID_ARGUMENT (for the fields this backend sends). */
function messageProblem(body: FcmRequest['body']): { field: string; description: string } | undefined {
  const unknownIn = (object: Record<string, unknown>, known: Set<string>) => Object.keys(object).find((key) => !known.has(key));
  const m = body.message;
  if (!isObject(m)) return { field: 'message', description: 'Invalid JSON payload received. Missing "message".' };
  const extra = unknownIn(m, MESSAGE_FIELDS);
  if (extra) return { field: `message.${extra}`, description: `Invalid JSON payload received. Unknown name "${extra}"` };
  if (typeof m.token !== 'string' || m.token === '') return { field: 'message', description: 'Recipient of the message is not set.' };
  if (m.data !== undefined) {
    if (!stringMap(m.data)) return { field: 'message.data', description: 'Invalid value: data values must be strings' };
    const reserved = Object.keys(m.data as object).find((key) => ['from', 'notification', 'message_type'].includes(key) || /^(google|gcm)/.test(key));
    if (reserved) return { field: 'message.data', description: `Invalid data payload key: ${reserved}` };
  }
  if (m.android !== undefined) {
    if (!isObject(m.android)) return { field: 'message.android', description: 'not an object' };
    const a = m.android;
    const extraAndroid = unknownIn(a, ANDROID_FIELDS);
    if (extraAndroid) return { field: `message.android.${extraAndroid}`, description: `Unknown name "${extraAndroid}"` };
    if (a.priority !== undefined && a.priority !== 'NORMAL' && a.priority !== 'HIGH') return { field: 'message.android.priority', description: `Invalid value ${String(a.priority)}` };
    if (a.ttl !== undefined && (typeof a.ttl !== 'string' || !/^\d+(\.\d{1,9})?s$/.test(a.ttl))) return { field: 'message.android.ttl', description: 'Invalid duration' };
    if (a.notification !== undefined) {
      if (!isObject(a.notification)) return { field: 'message.android.notification', description: 'not an object' };
      const extraNotification = unknownIn(a.notification, ANDROID_NOTIFICATION_FIELDS);
      if (extraNotification) return { field: `message.android.notification.${extraNotification}`, description: `Unknown name "${extraNotification}"` };
      const count = a.notification.notification_count;
      if (count !== undefined && !Number.isInteger(count)) return { field: 'message.android.notification.notification_count', description: 'Invalid value' };
    }
  }
  if (m.apns !== undefined) {
    if (!isObject(m.apns) || (m.apns.headers !== undefined && !stringMap(m.apns.headers))) return { field: 'message.apns.headers', description: 'header values must be strings' };
    if (m.apns.payload !== undefined && !isObject((m.apns.payload as Record<string, unknown> | undefined)?.aps)) return { field: 'message.apns.payload', description: 'payload without aps' };
  }
  if (m.webpush !== undefined) {
    if (!isObject(m.webpush) || (m.webpush.headers !== undefined && !stringMap(m.webpush.headers))) return { field: 'message.webpush.headers', description: 'header values must be strings' };
  }
  return undefined;
}
