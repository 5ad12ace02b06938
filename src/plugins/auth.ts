import jwt from '@fastify/jwt';
import 'fastify';
import fp from 'fastify-plugin';
import type { Config } from '../config.js';
import { AppError } from '../errors.js';
import { getOrCreateSecret } from '../lib/app-secrets.js';
import { hmac } from '../lib/crypto.js';
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
      verify: { algorithms: ['HS256'], allowedIss: config.issuer, allowedAud: config.audience },
    });
    app.decorate('otpSecret', hmac(secret, 'otp-codes'));
    app.decorate<AccessTokens>('accessTokens', {
      sign: (claims) => app.jwt.sign({ ...claims }),
      verify(token) {
        try {
          const claims = app.jwt.verify<AccessTokenClaims & { sub?: unknown; sid?: unknown }>(token);
          if (typeof claims.sub !== 'string' || typeof claims.sid !== 'string') throw new Error('missing claims');
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
