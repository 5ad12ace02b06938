import type { JWT } from 'google-auth-library';
import type { FcmConfig } from '../../config.js';
import type { PushNotification, PushOutcome, PushSender, PushTarget } from './push-sender.js';

const SCOPE = 'https://www.googleapis.com/auth/firebase.messaging';
/** Where google-auth-library's token fetcher (gtoken) always posts, and its default assertion `aud`. */
const GOOGLE_TOKEN_URL = 'https://oauth2.googleapis.com/token';
const FCM_ERROR = 'type.googleapis.com/google.firebase.fcm.v1.FcmError';
const BAD_REQUEST = 'type.googleapis.com/google.rpc.BadRequest';

/**
 * FCM HTTP v1 (projects.messages.send) with a service account: the access token comes from
 * google-auth-library's JWT client (RFC 7523 JWT-bearer grant at the key file's token_uri), cached
 * by it until five minutes before expiry. The library is imported on the first send, so importing
 * this module costs nothing. Errors carry statuses and error codes only, never a token or key.
 */
export function createFcmSender(options: FcmConfig & { timeoutMs: number }): PushSender {
  const url = `${options.baseUrl}/v1/projects/${encodeURIComponent(options.projectId)}/messages:send`;
  let auth: Promise<JWT> | undefined;
  const authClient = (): Promise<JWT> =>
    (auth ??= createAuthClient(options).catch((error: unknown) => {
      auth = undefined;
      throw error;
    }));

  return {
    platform: 'fcm',
    async send(target: PushTarget, notification: PushNotification): Promise<PushOutcome> {
      const client = authClient();
      let accessToken: string;
      try {
        const { token } = await (await client).getAccessToken();
        if (!token) throw new Error('no access token');
        accessToken = token;
      } catch (error) {
        return { ok: false, retry: true, invalidTarget: false, error: tokenFailure(error) };
      }

      let status: number;
      let retryAfter: string | null;
      let body: string;
      try {
        const signal = AbortSignal.timeout(options.timeoutMs);
        const response = await fetch(url, {
          method: 'POST',
          headers: { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json; charset=utf-8' },
          body: JSON.stringify({ message: fcmMessage(target, notification) }),
          signal,
        });
        status = response.status;
        retryAfter = response.headers.get('retry-after');
        body = await response.text();
      } catch (error) {
        return { ok: false, retry: true, invalidTarget: false, error: networkFailure(error) };
      }
      if (status >= 200 && status < 300) return { ok: true };

      const answer = fcmError(body);
      const failure = (retry: boolean, invalidTarget = false): PushOutcome => {
        const retryAfterMs = retry ? parseRetryAfter(retryAfter) : undefined;
        return { ok: false, retry, invalidTarget, error: `fcm answered ${status}${answer.code ? ` ${answer.code}` : ''}`, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) };
      };
      // The token is gone or belongs to another Firebase project: the device is deleted.
      if (answer.code === 'UNREGISTERED' || answer.code === 'SENDER_ID_MISMATCH' || (status === 400 && answer.invalidToken)) return failure(false, true);
      // The project's APNs certificate or Web Push key is missing or wrong: fixed by the operator, not by retrying.
      if (status === 401 && answer.code === 'THIRD_PARTY_AUTH_ERROR') return failure(false);
      if (status === 401) {
        // The access token was refused (revoked, or the key rotated): the next try fetches a new one.
        if (auth === client) auth = undefined;
        return failure(true);
      }
      return failure(status === 429 || status >= 500);
    },
  };
}

/** The JWT client, its token request sent to `tokenUri` (the library hard-codes Google's). */
async function createAuthClient(options: FcmConfig & { timeoutMs: number }): Promise<JWT> {
  const { JWT } = await import('google-auth-library');
  const client = new JWT({
    email: options.clientEmail,
    key: options.privateKey,
    scopes: [SCOPE],
    // The assertion's audience is the token endpoint it is sent to (RFC 7523 §3); gtoken spreads
    // additionalClaims over its defaults. The same URL as before for a Google key file.
    additionalClaims: { aud: options.tokenUri },
    // Without the default interceptors: their debug log (GOOGLE_SDK_NODE_LOGGING) prints the token response.
    useAuthRequestParameters: false,
    // One try per send, bounded like the send itself; the push queue retries with its own backoff.
    transporterOptions: { timeout: options.timeoutMs, retryConfig: { retry: 0 } },
  });
  const tokenUrl = new URL(options.tokenUri);
  client.transporter.interceptors.request.add({
    resolved: async (config) => {
      if (config.url.href === GOOGLE_TOKEN_URL) config.url = tokenUrl;
      return config;
    },
  });
  return client;
}

/** The FCM v1 `message` for one device (https://firebase.google.com/docs/reference/fcm/rest/v1/projects.messages). */
export function fcmMessage(target: PushTarget, n: PushNotification): Record<string, unknown> {
  const data: Record<string, string> = {};
  for (const [key, value] of Object.entries(n.data)) if (value !== null) data[key] = String(value);
  const ttl = String(n.ttlSeconds);
  const apnsExpiration = String(Math.floor(Date.now() / 1000) + n.ttlSeconds);
  const android = { collapse_key: n.collapseKey, priority: 'HIGH', ttl: `${ttl}s` };

  if (!n.alert) {
    // Data only: the app takes the shown notification back by its tag (Android) or thread (iOS).
    return {
      token: target.token,
      data,
      android,
      apns: {
        headers: { 'apns-push-type': 'background', 'apns-priority': '5', 'apns-collapse-id': n.collapseKey, 'apns-expiration': apnsExpiration },
        payload: { aps: { 'content-available': 1 } },
      },
      webpush: { headers: { Topic: n.collapseKey, TTL: ttl, Urgency: 'high' } },
    };
  }

  const { title, body } = n.alert;
  data.title = title;
  if (body !== null) data.body = body;
  if (n.badge !== null) data.badge = String(n.badge);
  const threadId = n.data.conversationId;
  return {
    token: target.token,
    data,
    android: { ...android, notification: omitNull({ title, body, tag: n.collapseKey, notification_count: n.badge }) },
    apns: {
      headers: { 'apns-push-type': 'alert', 'apns-priority': '10', 'apns-collapse-id': n.collapseKey, 'apns-expiration': apnsExpiration },
      payload: { aps: omitNull({ alert: omitNull({ title, body }), badge: n.badge, 'thread-id': threadId == null ? null : String(threadId), sound: 'default' }) },
    },
    webpush: { headers: { Topic: n.collapseKey, TTL: ttl, Urgency: 'high' }, notification: omitNull({ title, body, tag: n.collapseKey }) },
  };
}

const omitNull = (object: Record<string, unknown>): Record<string, unknown> => Object.fromEntries(Object.entries(object).filter(([, value]) => value !== null && value !== undefined));

/**
 * Reads a Google API error body: the FcmError code (else the status, e.g. UNAUTHENTICATED), and
 * whether a field violation names the registration token (a 400 for a malformed or foreign token).
 */
function fcmError(body: string): { code: string | undefined; invalidToken: boolean } {
  let error: { status?: unknown; details?: unknown } | undefined;
  try {
    error = (JSON.parse(body) as { error?: typeof error }).error;
  } catch {
    return { code: undefined, invalidToken: false };
  }
  const details = Array.isArray(error?.details) ? (error.details as Array<Record<string, unknown>>) : [];
  const fcmCode = details.find((d) => d?.['@type'] === FCM_ERROR)?.errorCode;
  const invalidToken = details.some(
    (d) => d?.['@type'] === BAD_REQUEST && Array.isArray(d.fieldViolations) && (d.fieldViolations as Array<{ field?: unknown }>).some((v) => v?.field === 'message.token'),
  );
  const code = typeof fcmCode === 'string' ? fcmCode : typeof error?.status === 'string' ? error.status : undefined;
  return { code: code && /^[A-Z_]{1,64}$/.test(code) ? code : undefined, invalidToken };
}

/** `Retry-After` as delay-seconds or an HTTP date, in milliseconds; undefined when absent or past. */
function parseRetryAfter(value: string | null): number | undefined {
  if (!value) return undefined;
  const ms = /^\d+$/.test(value.trim()) ? Number(value) * 1000 : Date.parse(value) - Date.now();
  return Number.isFinite(ms) && ms > 0 ? ms : undefined;
}

/** A failed token request, by status, OAuth error code or network code (the library's message may quote the response). */
function tokenFailure(error: unknown): string {
  const e = error as { status?: unknown; code?: unknown; name?: unknown; response?: { data?: { error?: unknown } } };
  if (typeof e.status === 'number') {
    const oauthError = e.response?.data?.error;
    return `token endpoint answered ${e.status}${typeof oauthError === 'string' && /^[a-z_]{1,64}$/.test(oauthError) ? ` ${oauthError}` : ''}`;
  }
  return `token endpoint: ${networkCode(error)}`;
}

function networkFailure(error: unknown): string {
  return `network: ${networkCode(error)}`;
}

/** `timeout`, a system error code (ECONNREFUSED…), or the error's name. */
function networkCode(error: unknown): string {
  const e = error as { name?: unknown; code?: unknown; cause?: { code?: unknown; name?: unknown } } | null;
  if (e?.name === 'TimeoutError' || e?.code === 'TimeoutError' || e?.cause?.name === 'TimeoutError') return 'timeout';
  const code = typeof e?.cause?.code === 'string' ? e.cause.code : typeof e?.code === 'string' ? e.code : undefined;
  return code ?? (typeof e?.name === 'string' ? e.name : 'error');
}
