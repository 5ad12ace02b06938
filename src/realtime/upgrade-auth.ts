import type { FastifyRequest } from 'fastify';
import { AppError } from '../errors.js';
import type { Actor } from '../modules/auth/tokens.js';
import { bearerToken } from '../plugins/auth.js';
import type { Services } from '../plugins/services.js';

export interface SocketIdentity {
  actor: Actor;
  /** When the credential stops being valid (the access token's exp); the socket closes 4408 then. */
  expiresAt: number;
}

/** The exp claim (ms) of a JWT already verified by AuthService.authenticate. */
export function tokenExpiry(token: string): number {
  const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as { exp?: number };
  return (payload.exp ?? 0) * 1000;
}

function queryValue(request: FastifyRequest, name: string): string | undefined {
  const value = (request.query as Record<string, unknown> | undefined)?.[name];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** A bearer offered as the subprotocol pair `bearer, <token>` (browsers cannot set headers). */
function protocolToken(request: FastifyRequest): string | undefined {
  const offered = String(request.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim());
  const index = offered.indexOf('bearer');
  return index >= 0 ? offered[index + 1] || undefined : undefined;
}

/**
 * Authenticates a socket before the upgrade, from (in this order) a single-use `?ticket=`, the
 * Authorization header, the `bearer` subprotocol, or `?Authorization=` / `?token=` (kept for existing
 * clients; the socket URL's query string is never logged). A browser Origin must be allowed by
 * CORS_ORIGINS. Throws AppErrors, which answer the upgrade request as problem+json.
 */
export async function authenticateUpgrade(
  request: FastifyRequest,
  deps: { services: Services; corsOrigins: readonly string[] | '*'; ticketLifetimeMs: number },
): Promise<SocketIdentity> {
  const origin = request.headers.origin;
  if (origin !== undefined && deps.corsOrigins !== '*' && !deps.corsOrigins.includes(origin)) {
    throw new AppError('FORBIDDEN', 'This origin may not open sockets');
  }
  const ticket = queryValue(request, 'ticket');
  if (ticket) return { actor: await deps.services.auth.consumeWsTicket(ticket), expiresAt: Date.now() + deps.ticketLifetimeMs };
  const fromQuery = queryValue(request, 'Authorization') ?? queryValue(request, 'token');
  const token = bearerToken(request.headers.authorization) ?? protocolToken(request) ?? (fromQuery ? (bearerToken(fromQuery) ?? fromQuery) : undefined);
  if (!token) throw new AppError('UNAUTHORIZED', 'Authenticate with a bearer token or a ticket');
  return { actor: await deps.services.auth.authenticate(token), expiresAt: tokenExpiry(token) };
}
