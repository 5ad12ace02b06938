import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { FastifyServerOptions } from 'fastify';
import type { DestinationStream } from 'pino';

const CENSOR = '[REDACTED]';

/** Body/object keys whose values never reach the log, at any of the first three levels. */
const SECRET_KEYS = ['password', 'currentPassword', 'newPassword', 'token', 'accessToken', 'refreshToken', 'ticket', 'code', 'secret', 'authorization'];

const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["sec-websocket-protocol"]',
  'req.headers["x-api-key"]',
  'res.headers["set-cookie"]',
  ...SECRET_KEYS.flatMap((key) => [key, `*.${key}`, `*.*.${key}`]),
];

/** Query parameters that may carry credentials or codes. */
const SECRET_QUERY_PARAMS = new Set(['token', 'access_token', 'accesstoken', 'authorization', 'ticket', 'code', 'password', 'refreshtoken', 'refresh_token']);

/**
 * The URL as it may be logged: socket URLs lose their whole query string (clients put tokens there),
 * other URLs keep their query with credential-like values replaced.
 */
export function redactUrl(url: string): string {
  const queryStart = url.indexOf('?');
  if (queryStart === -1) return url;
  const path = url.slice(0, queryStart);
  if (path === '/ws' || path.startsWith('/ws/')) return `${path}?${CENSOR}`;
  const params = new URLSearchParams(url.slice(queryStart + 1));
  const redacted = [...params].map(([key, value]) =>
    `${encodeURIComponent(key)}=${SECRET_QUERY_PARAMS.has(key.toLowerCase()) ? CENSOR : encodeURIComponent(value)}`,
  );
  return `${path}?${redacted.join('&')}`;
}

const REQUEST_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

/** Honors a well-formed incoming x-request-id (from a proxy), otherwise generates one. */
export function genReqId(request: IncomingMessage): string {
  const incoming = request.headers['x-request-id'];
  return typeof incoming === 'string' && REQUEST_ID_PATTERN.test(incoming) ? incoming : randomUUID();
}

export function loggerOptions(level: string, stream?: DestinationStream): NonNullable<FastifyServerOptions['logger']> {
  return {
    level,
    redact: { paths: REDACT_PATHS, censor: CENSOR },
    serializers: {
      req(request: { method: string; url: string; hostname?: string; ip?: string; socket?: { remotePort?: number } }) {
        return { method: request.method, url: redactUrl(request.url), hostname: request.hostname, remoteAddress: request.ip };
      },
    },
    ...(stream ? { stream } : {}),
  };
}
