import type { userRoles } from '../../db/schema.js';

export type Role = (typeof userRoles)[number];

/** The authenticated caller, as every service receives it. */
export interface Actor {
  userId: string;
  sessionId: string;
  role: Role;
}

export interface AccessTokenClaims {
  sub: string;
  sid: string;
  role: Role;
}

/**
 * Access tokens: JWT HS256 with iss, aud, sub, sid and exp, signed with the configured secret.
 * `verify` throws AppError TOKEN_EXPIRED or UNAUTHORIZED; it checks signature and claims only,
 * the session check is AuthService.authenticate.
 */
export interface AccessTokens {
  sign(claims: AccessTokenClaims): string;
  verify(token: string): AccessTokenClaims;
}
