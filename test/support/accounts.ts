import { randomBytes } from 'node:crypto';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import type { App } from '../../src/app.js';
import type { Mailbox } from './mailbox.js';
import type { SmsGateway } from './sms-gateway.js';

/*
 * Account factories that go through the public API only: register, read the code from the mail (or
 * text) that really went out, verify. They throw (with the response) when a step does not answer as
 * expected, so a broken step fails the test that relied on it.
 */

export const API = '/api/v1';
export const PASSWORD = 'Corr3ct-Horse-Battery';

/** The account as its owner sees it (toPrivateUser on the wire). */
export interface PrivateUserBody {
  id: string;
  username: string;
  displayName: string;
  about: string | null;
  avatarUrl: string | null;
  email: string | null;
  emailVerified: boolean;
  phone: string | null;
  phoneVerified: boolean;
  role: 'user' | 'support' | 'admin';
  hideLastSeen: boolean;
  createdAt: string;
}

export interface ChallengeBody {
  challengeId: string;
  channel: 'sms' | 'email';
  destination: string;
  expiresAt: string;
}

export interface TokenPairBody {
  accessToken: string;
  refreshToken: string;
  tokenType: 'Bearer';
  expiresIn: number;
  user: PrivateUserBody;
}

export interface Account extends TokenPairBody {
  username: string;
  password: string;
  email: string | undefined;
  phone: string | undefined;
}

let sequence = 0;

/** A username no other account of the run has: `${prefix}_<n><hex>` (3..32 chars of [A-Za-z0-9_]). */
export function uniqueUsername(prefix = 'user'): string {
  sequence += 1;
  return `${prefix.slice(0, 16)}_${sequence}${randomBytes(3).toString('hex')}`;
}

export function uniqueEmail(prefix = 'user'): string {
  sequence += 1;
  return `${prefix}.${sequence}${randomBytes(3).toString('hex')}@example.test`;
}

export function authHeader(token: string): { authorization: string } {
  return { authorization: `Bearer ${token}` };
}

/** app.inject for a JSON call; `token` adds the bearer header. */
export function call(
  app: App,
  method: NonNullable<InjectOptions['method']>,
  url: string,
  options: { payload?: unknown; token?: string; remoteAddress?: string } = {},
): Promise<LightMyRequestResponse> {
  return app.inject({
    method,
    url: url.startsWith('/api/') ? url : `${API}${url}`,
    ...(options.payload !== undefined ? { payload: options.payload as InjectOptions['payload'] } : {}),
    ...(options.token ? { headers: authHeader(options.token) } : {}),
    ...(options.remoteAddress ? { remoteAddress: options.remoteAddress } : {}),
  });
}

/** The parsed body when the status is the expected one; throws with the body otherwise. */
export function expectStatus<T>(response: LightMyRequestResponse, status: number, step: string): T {
  if (response.statusCode !== status) throw new Error(`${step}: expected ${status}, got ${response.statusCode}: ${response.body}`);
  return (response.body ? response.json() : undefined) as T;
}

export interface RegisterInput {
  username?: string;
  email?: string;
  phone?: string;
  password?: string;
  displayName?: string;
  remoteAddress?: string;
}

/** POST /auth/register; returns the 201 body. */
export async function register(app: App, input: RegisterInput & { username: string; password: string }) {
  const { remoteAddress, ...body } = input;
  const response = await call(app, 'POST', '/auth/register', { payload: body, ...(remoteAddress ? { remoteAddress } : {}) });
  return expectStatus<{ user: PrivateUserBody; challenge: ChallengeBody }>(response, 201, `register ${input.username}`);
}

/** POST /auth/verify-otp; returns the token pair. */
export async function verifyOtp(app: App, challengeId: string, code: string, deviceName?: string): Promise<TokenPairBody> {
  const response = await call(app, 'POST', '/auth/verify-otp', { payload: { challengeId, code, ...(deviceName ? { deviceName } : {}) } });
  return expectStatus<TokenPairBody>(response, 200, 'verify-otp');
}

/** Registers by email, reads the code from the real mail and verifies it: a signed-in, verified account. */
export async function registerAndVerify(app: App, mailbox: Mailbox, input: Omit<RegisterInput, 'phone'> = {}): Promise<Account> {
  const username = input.username ?? uniqueUsername();
  const email = input.email ?? uniqueEmail(username.toLowerCase());
  const password = input.password ?? PASSWORD;
  const { challenge } = await register(app, { ...input, username, email, password });
  const pair = await verifyOtp(app, challenge.challengeId, await mailbox.codeFor(email));
  return { ...pair, username, password, email, phone: undefined };
}

/** Registers by phone only; the code is read from the request the twilio SDK made. */
export async function registerByPhone(app: App, sms: SmsGateway, input: Omit<RegisterInput, 'email'> & { phone: string }): Promise<Account> {
  const username = input.username ?? uniqueUsername();
  const password = input.password ?? PASSWORD;
  const { challenge, user } = await register(app, { ...input, username, password });
  const pair = await verifyOtp(app, challenge.challengeId, await sms.codeFor(user.phone ?? input.phone));
  return { ...pair, username, password, email: undefined, phone: pair.user.phone ?? undefined };
}

/** A new session for an email account through the two-step login (or directly when AUTH_LOGIN_OTP=false). */
export async function signIn(app: App, mailbox: Mailbox, account: Pick<Account, 'username' | 'password' | 'email'>, deviceName?: string): Promise<TokenPairBody> {
  const response = await call(app, 'POST', '/auth/login', { payload: { identifier: account.username, password: account.password, ...(deviceName ? { deviceName } : {}) } });
  const body = expectStatus<TokenPairBody | { otpRequired: true; challenge: ChallengeBody }>(response, 200, `login ${account.username}`);
  if (!('otpRequired' in body)) return body;
  if (!account.email) throw new Error(`login ${account.username}: a code was required but the account has no email`);
  return verifyOtp(app, body.challenge.challengeId, await mailbox.codeFor(account.email), deviceName);
}

/** The claims of a JWT, unverified. */
export function jwtClaims(token: string): Record<string, unknown> {
  const [, payload] = token.split('.');
  return JSON.parse(Buffer.from(payload ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
}
