import jwt from '@fastify/jwt';
import 'fastify';
import fp from 'fastify-plugin';
import type { Config } from '../config.js';
import { AppError } from '../errors.js';
import { getOrCreateSecret } from '../lib/app-secrets.js';
import { userRoles } from '../db/schema.js';
import { hmac } from '../lib/crypto.js';
import { isId } from '../lib/ids.js';
import type { AccessTokenClaims, AccessTokens, Actor } from '../modules/auth/tokens.js';

declare module 'fastify' {
  interface FastifyInstance {
    accessTokens: AccessTokens;
    /** Derived from the JWT secret; keys one-time-code hashes. */
    otpSecret: string;
    /** preHandler: requires a valid access token of a live session; sets request.actor. */
    authenticate: (request: FastifyRequest, reply: FastifyReply) => Promise<void>;
  }
  interface FastifyRequest {
    actor: Actor | null;
  }
}

/** The claims a valid access token carries, of the right shapes (the signature says who wrote them, not that they are sane). */
function isWellFormed(claims: { sub?: unknown; sid?: unknown; role?: unknown; exp?: unknown }): claims is AccessTokenClaims & { exp: number } {
  return (
    typeof claims.sub === 'string' &&
    isId(claims.sub) &&
    typeof claims.sid === 'string' &&
    isId(claims.sid) &&
    (userRoles as readonly unknown[]).includes(claims.role) &&
    typeof claims.exp === 'number' &&
    Number.isFinite(claims.exp)
  );
}

const BEARER = /^Bearer\s+(\S+)$/i;

export function bearerToken(header: string | undefined): string | undefined {
  return header ? BEARER.exec(header)?.[1] : undefined;
}

/**
 * JWT HS256 access tokens (iss, aud, sub, sid, exp; `alg` pinned, so `none` and others are refused).
 * The secret is JWT_SECRET, or one generated once and shared through the database.
 * `authenticate` is wired by the services plugin, which owns the session check.
 */
export const authPlugin = fp<{ config: Config['auth'] }>(
  async (app, { config }) => {
    const secret = config.jwtSecret ?? (await getOrCreateSecret(app.db, 'jwt'));
    await app.register(jwt, {
      secret,
      sign: { algorithm: 'HS256', iss: config.issuer, aud: config.audience, expiresIn: `${config.accessTokenTtlSeconds}s` },
      // A claim that is absent is not checked by allowedIss/allowedAud: requiredClaims makes it a refusal.
      verify: { algorithms: ['HS256'], allowedIss: config.issuer, allowedAud: config.audience, requiredClaims: ['iss', 'aud', 'exp', 'sub', 'sid'] },
    });
    app.decorate('otpSecret', hmac(secret, 'otp-codes'));
    app.decorate<AccessTokens>('accessTokens', {
      sign: (claims) => app.jwt.sign({ ...claims }),
      verify(token) {
        try {
          const claims = app.jwt.verify<{ sub?: unknown; sid?: unknown; role?: unknown; exp?: unknown }>(token);
          // Well-formed or refused here: a sid that is no uuid would otherwise reach the session query.
          if (!isWellFormed(claims)) throw new Error('malformed claims');
          return { sub: claims.sub, sid: claims.sid, role: claims.role };
        } catch (error) {
          if ((error as { code?: string }).code === 'FAST_JWT_EXPIRED') throw new AppError('TOKEN_EXPIRED');
          throw new AppError('UNAUTHORIZED', 'The access token is not valid');
        }
      },
    });
    app.decorateRequest('actor', null);
  },
  { name: 'auth', dependencies: ['infrastructure'] },
);
