import { createHmac } from 'node:crypto';

/*
 * Hand-made JWTs for the negative cases of access-token checks: built with node:crypto only, so
 * what the server refuses is exactly what the test wrote.
 */

const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** An HS256 token over `claims` with `secret`. */
export function signHs256(claims: Record<string, unknown>, secret: string, header: Record<string, unknown> = { alg: 'HS256', typ: 'JWT' }): string {
  const unsigned = `${part(header)}.${part(claims)}`;
  return `${unsigned}.${createHmac('sha256', secret).update(unsigned).digest('base64url')}`;
}

/** `{"alg":"none"}` with an empty signature. */
export function unsignedToken(claims: Record<string, unknown>): string {
  return `${part({ alg: 'none', typ: 'JWT' })}.${part(claims)}.`;
}
