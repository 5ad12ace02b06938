import { type KeyObject, createPrivateKey, sign } from 'node:crypto';
import { type ClientHttp2Session, type IncomingHttpHeaders, type OutgoingHttpHeaders, connect, constants } from 'node:http2';
import type { ApnsConfig } from '../../config.js';
import type { PushNotification, PushOutcome, PushSender, PushTarget } from './push-sender.js';

/*
 * Apple Push Notification service: HTTP/2 to `baseUrl`, token (.p8) authentication
 * (https://developer.apple.com/documentation/usernotifications/sending-notification-requests-to-apns).
 * Loaded with a dynamic import only when APNs is configured.
 */

/** Apple refuses tokens older than an hour and refreshes more often than every 20 minutes: renewed at 50. */
const TOKEN_LIFETIME_MS = 50 * 60_000;
/** APNs error bodies are a few dozen bytes (`{"reason": ...}`); more is not read. */
const MAX_ERROR_BODY = 4096;

/** What APNs answered to one request. */
interface Answer {
  status: number;
  reason: string | undefined;
  retryAfter: string | undefined;
}

/** The request never reached APNs (refused stream, session already going away): safe to send again at once. */
class UnsentError extends Error {}
class TimeoutError extends Error {}
/** The request cannot be made at all (e.g. a header value with characters HTTP/2 forbids): trying again will not help. */
class InvalidRequestError extends Error {}

/**
 * One HTTP/2 session to `baseUrl`, reused by every push and replaced when it goes away (GOAWAY,
 * error, close). The provider token is an ES256 JWT signed with the key, reused for 50 minutes.
 * Throws at creation when the key is not a P-256 private key (a .p8 from Apple); never from send.
 */
export function createApnsSender(options: ApnsConfig & { timeoutMs: number }): PushSender {
  const key = signingKey(options.key);
  const base = new URL(options.baseUrl);
  const pathPrefix = base.pathname.replace(/\/+$/, '');
  let session: ClientHttp2Session | undefined;
  let token: { jwt: string; issuedAt: number } | undefined;
  let closed = false;

  function providerToken(): string {
    const now = Date.now();
    if (!token || now - token.issuedAt >= TOKEN_LIFETIME_MS || now < token.issuedAt) {
      token = { jwt: signJwt(key, options.keyId, options.teamId, Math.floor(now / 1000)), issuedAt: now };
    }
    return token.jwt;
  }

  function currentSession(): ClientHttp2Session {
    if (session && !session.closed && !session.destroyed) return session;
    const fresh = connect(base.origin);
    const forget = () => {
      if (session === fresh) session = undefined;
    };
    // Errors also reach the streams in flight, which answer them; the next push connects anew.
    fresh.on('error', forget);
    fresh.on('goaway', forget);
    fresh.on('close', forget);
    session = fresh;
    return fresh;
  }

  /**
   * After a timeout: a session still connecting, or one that does not answer a PING in time, is
   * dead (e.g. a half-open connection) and is dropped, so the next push does not wait on it too.
   */
  function probe(s: ClientHttp2Session): void {
    if (s.destroyed || s.closed) return;
    if (s.connecting) return void s.destroy();
    const timer = setTimeout(() => s.destroy(), options.timeoutMs).unref();
    try {
      s.ping((error) => {
        clearTimeout(timer);
        if (error) s.destroy();
      });
    } catch {
      clearTimeout(timer);
      s.destroy();
    }
  }

  function exchange(headers: OutgoingHttpHeaders, body: string): Promise<Answer> {
    const s = currentSession();
    return new Promise<Answer>((resolve, reject) => {
      let stream: ReturnType<ClientHttp2Session['request']>;
      try {
        stream = s.request(headers);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
        // The session closed under us: nothing was sent.
        if (code === 'ERR_HTTP2_GOAWAY_SESSION' || code === 'ERR_HTTP2_INVALID_SESSION') return reject(new UnsentError(code));
        return reject(new InvalidRequestError(code));
      }
      let status = 0;
      let retryAfter: string | undefined;
      let failure: Error | undefined;
      const chunks: Buffer[] = [];
      let size = 0;
      const timer = setTimeout(() => {
        failure = new TimeoutError(`timeout after ${options.timeoutMs} ms`);
        stream.close(constants.NGHTTP2_CANCEL);
        probe(s);
      }, options.timeoutMs);
      stream.on('response', (h: IncomingHttpHeaders) => {
        status = Number(h[':status']);
        retryAfter = typeof h['retry-after'] === 'string' ? h['retry-after'] : undefined;
      });
      stream.on('data', (chunk: Buffer) => {
        if (size < MAX_ERROR_BODY) chunks.push(chunk);
        size += chunk.length;
      });
      stream.on('error', (error: Error) => {
        failure ??= error;
      });
      // 'close' comes last whatever happened: the one place the request is settled.
      stream.on('close', () => {
        clearTimeout(timer);
        if (!failure && status > 0) return resolve({ status, reason: reasonOf(Buffer.concat(chunks)), retryAfter });
        if (status === 0 && stream.rstCode === constants.NGHTTP2_REFUSED_STREAM) return reject(new UnsentError('refused stream'));
        reject(failure ?? new Error(`stream closed (${stream.rstCode})`));
      });
      stream.end(body);
    });
  }

  return {
    platform: 'apns',
    async send(target: PushTarget, notification: PushNotification): Promise<PushOutcome> {
      if (closed) return { ok: false, retry: true, invalidTarget: false, error: 'apns sender closed' };
      let jwt: string;
      try {
        jwt = providerToken();
      } catch (error) {
        return { ok: false, retry: false, invalidTarget: false, error: `apns token: ${(error as Error).message}` };
      }
      const headers: OutgoingHttpHeaders = {
        ':method': 'POST',
        ':path': `${pathPrefix}/3/device/${encodeURIComponent(target.token)}`,
        authorization: `bearer ${jwt}`,
        ...apnsHeaders(target.appId ?? options.topic, notification),
      };
      const body = JSON.stringify(apnsPayload(notification));
      let answer: Answer;
      try {
        try {
          answer = await exchange(headers, body);
        } catch (error) {
          // Not processed (a refused stream, a session going away): once more, on a new session if this one is gone.
          if (!(error instanceof UnsentError) || closed) throw error;
          answer = await exchange(headers, body);
        }
      } catch (error) {
        if (error instanceof TimeoutError) return { ok: false, retry: true, invalidTarget: false, error: `apns ${error.message}` };
        if (error instanceof InvalidRequestError) return { ok: false, retry: false, invalidTarget: false, error: `apns request not sent: ${error.message}` };
        // A session that fails (refused, TLS, reset) cancels its streams with the reason as the cause.
        const cause = ((error as Error).cause ?? error) as NodeJS.ErrnoException;
        return { ok: false, retry: true, invalidTarget: false, error: `network: ${cause.code ?? cause.message}` };
      }
      // Only the token this request carried is renewed: concurrent 403s make one new token, not many
      // (Apple answers TooManyProviderTokenUpdates to renewals within 20 minutes).
      if (answer.status === 403 && answer.reason === 'ExpiredProviderToken' && token?.jwt === jwt) token = undefined;
      return outcomeOf(answer);
    },
    async close(): Promise<void> {
      closed = true;
      const s = session;
      session = undefined;
      if (!s || s.destroyed) return;
      await new Promise<void>((resolve) => s.close(resolve));
    },
  };
}

/** The .p8 key; throws (without its contents) when it is not a P-256 private key. */
function signingKey(pem: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch {
    throw new Error('APNs key is not a PEM private key (.p8)');
  }
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') throw new Error('APNs key is not a P-256 (ES256) key');
  return key;
}

const base64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** The provider token: ES256 JWT {alg, kid} . {iss: team, iat: seconds}. */
function signJwt(key: KeyObject, keyId: string, teamId: string, iat: number): string {
  const unsigned = `${base64url({ alg: 'ES256', kid: keyId })}.${base64url({ iss: teamId, iat })}`;
  const signature = sign('sha256', Buffer.from(unsigned), { key, dsaEncoding: 'ieee-p1363' });
  return `${unsigned}.${signature.toString('base64url')}`;
}

/** The request headers besides method, path and authorization. */
function apnsHeaders(topic: string, n: PushNotification): OutgoingHttpHeaders {
  const alert = n.kind === 'message';
  return {
    'apns-topic': topic,
    'apns-push-type': alert ? 'alert' : 'background',
    // Apple throttles background pushes sent with priority 10, and requires 5 for them.
    'apns-priority': alert ? '10' : '5',
    // 0: deliver now or never (APNs stores nothing).
    'apns-expiration': String(n.ttlSeconds > 0 ? Math.floor(Date.now() / 1000) + n.ttlSeconds : 0),
    'apns-collapse-id': n.collapseKey,
    'apns-id': n.id,
  };
}

/**
 * The JSON body: the data at the top level, where the app reads it, beside `aps`. A message is an
 * alert (`mutable-content` lets the notification service extension adjust it); a retraction is a
 * silent background push the app answers by removing the shown notification.
 */
export function apnsPayload(n: PushNotification): Record<string, unknown> {
  const { aps: _reserved, ...data } = n.data;
  if (n.kind === 'retract') return { aps: { 'content-available': 1 }, ...data };
  const alert = n.alert ? { title: n.alert.title, ...(n.alert.body !== null ? { body: n.alert.body } : {}) } : undefined;
  const threadId = n.data.conversationId;
  return {
    aps: {
      ...(alert ? { alert } : {}),
      ...(n.badge !== null ? { badge: n.badge } : {}),
      sound: 'default',
      ...(threadId !== null && threadId !== undefined ? { 'thread-id': String(threadId) } : {}),
      'mutable-content': 1,
    },
    ...data,
  };
}

function reasonOf(body: Buffer): string | undefined {
  if (body.length === 0) return undefined;
  try {
    const reason = (JSON.parse(body.toString('utf8')) as { reason?: unknown }).reason;
    return typeof reason === 'string' ? reason.slice(0, 100) : undefined;
  } catch {
    return undefined;
  }
}

/** Seconds or an HTTP date, in milliseconds from now; undefined when absent or not in the future. */
function retryAfterMs(value: string | undefined): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const seconds = Number(value);
  const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(value) - Date.now();
  return Number.isFinite(ms) && ms > 0 ? ms : undefined;
}

/**
 * 410 (Unregistered, ExpiredToken) and 400 BadDeviceToken / DeviceTokenNotForTopic: the device is
 * gone. 429, 5xx and 403 ExpiredProviderToken (renewed by the caller above): try again.
 */
function outcomeOf(answer: Answer): PushOutcome {
  const { status, reason } = answer;
  if (status === 200) return { ok: true };
  const invalidTarget = status === 410 || (status === 400 && (reason === 'BadDeviceToken' || reason === 'DeviceTokenNotForTopic'));
  const retry = !invalidTarget && (status === 429 || status >= 500 || (status === 403 && reason === 'ExpiredProviderToken'));
  const after = retry ? retryAfterMs(answer.retryAfter) : undefined;
  return {
    ok: false,
    retry,
    invalidTarget,
    error: `apns answered ${status}${reason ? ` ${reason}` : ''}`,
    ...(after !== undefined ? { retryAfterMs: after } : {}),
  };
}
