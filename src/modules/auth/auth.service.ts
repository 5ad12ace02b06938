import type { Config } from '../../config.js';
import type { Database } from '../../db/client.js';
import { uniqueViolation } from '../../db/errors.js';
import { AppError } from '../../errors.js';
import { randomToken, sha256 } from '../../lib/crypto.js';
import { newId } from '../../lib/ids.js';
import type { UserRepository, UserRow } from '../users/user.repository.js';
import { toPrivateUser } from '../users/user.views.js';
import { type Channel, classifyIdentifier, normalizeEmail, normalizePhone } from './contacts.js';
import type { ChallengeView, OtpService } from './otp.service.js';
import { type PasswordHasher, assertPasswordPolicy } from './password.js';
import type { SessionRepository } from './session.repository.js';
import { toSessionView } from './session.views.js';
import type { LiveSessions } from './live-sessions.js';
import type { AccessTokens, Actor } from './tokens.js';

/** Who is asking, as far as the transport knows. */
export interface RequestContext {
  ip: string | null;
  userAgent: string | null;
}

export interface RegisterInput {
  username: string;
  password: string;
  email?: string;
  phone?: string;
  displayName?: string;
}

const WS_TICKET_TTL_MS = 60_000;

export interface AuthServiceDeps {
  db: Database;
  users: UserRepository;
  sessions: SessionRepository;
  otp: OtpService;
  passwords: PasswordHasher;
  tokens: AccessTokens;
  /** Live sessions already checked on this instance (see live-sessions.ts). */
  liveSessions: Pick<LiveSessions, 'get' | 'begin' | 'store'>;
  config: Pick<Config['auth'], 'accessTokenTtlSeconds' | 'refreshTokenTtlDays' | 'loginOtp'> & { otpTtlSeconds: number };
}

/** Sign-up, sign-in (password + code, or code alone), tokens and sessions. Knows nothing of HTTP. */
export function createAuthService(deps: AuthServiceDeps) {
  const { db, users, sessions, otp, passwords, tokens, liveSessions, config } = deps;

  async function startSession(user: UserRow, ctx: RequestContext, deviceName?: string) {
    if (user.status === 'banned') throw new AppError('ACCOUNT_BANNED');
    const refreshToken = randomToken();
    const session = await sessions.create({
      userId: user.id,
      deviceName: deviceName ?? null,
      userAgent: ctx.userAgent?.slice(0, 512) ?? null,
      ip: ctx.ip,
      expiresAt: new Date(Date.now() + config.refreshTokenTtlDays * 86_400_000),
      tokenHash: sha256(refreshToken),
    });
    return tokenPair(user, session.id, refreshToken);
  }

  function tokenPair(user: UserRow, sessionId: string, refreshToken: string) {
    return {
      accessToken: tokens.sign({ sub: user.id, sid: sessionId, role: user.role }),
      refreshToken,
      tokenType: 'Bearer' as const,
      expiresIn: config.accessTokenTtlSeconds,
      user: toPrivateUser(user),
    };
  }

  /** The contact a code for this user goes to: verified ones first, email before phone. */
  function contactOf(user: UserRow): { channel: Channel; destination: string } | undefined {
    if (user.email && user.emailVerifiedAt) return { channel: 'email', destination: user.email };
    if (user.phone && user.phoneVerifiedAt) return { channel: 'sms', destination: user.phone };
    if (user.email) return { channel: 'email', destination: user.email };
    if (user.phone) return { channel: 'sms', destination: user.phone };
    return undefined;
  }

  async function actorForSession(userId: string, sessionId: string): Promise<Actor> {
    const live = liveSessions.get(sessionId);
    if (live && live.userId === userId) return { userId, sessionId, role: live.role };
    const begun = liveSessions.begin();
    const found = await sessions.findForAccess(sessionId);
    if (!found || found.session.userId !== userId) throw new AppError('UNAUTHORIZED');
    if (found.session.revokedAt || found.session.expiresAt.getTime() <= Date.now()) throw new AppError('SESSION_REVOKED');
    if (found.userStatus === 'banned') throw new AppError('ACCOUNT_BANNED');
    if (found.userStatus === 'active') liveSessions.store(begun, sessionId, { userId, role: found.role, expiresAt: found.session.expiresAt.getTime() });
    return { userId, sessionId, role: found.role };
  }

  async function findByIdentifier(identifier: string): Promise<UserRow | undefined> {
    const { kind, value } = classifyIdentifier(identifier);
    if (kind === 'email') return users.findByEmail(value);
    if (kind === 'phone') return users.findByPhone(value);
    return users.findByUsername(value);
  }

  /** Deletes `user` if it is a sign-up never verified within the code lifetime; true when it was. */
  function releaseIfAbandoned(user: UserRow, tx: Database): Promise<boolean> {
    return users.deleteAbandoned(user.id, new Date(Date.now() - config.otpTtlSeconds * 1000), tx);
  }

  /** A contact held by an abandoned sign-up is released; one held by a real account is not. */
  async function contactHolder(kind: 'email' | 'phone', value: string, tx: Database): Promise<UserRow | undefined> {
    const holder = kind === 'email' ? await users.findByEmail(value, tx) : await users.findByPhone(value, tx);
    if (!holder || (await releaseIfAbandoned(holder, tx))) return undefined;
    return holder;
  }

  return {
    /**
     * Creates the account and sends a code to its contact (email if given, else phone). A contact that
     * belongs to another account gets the same answer with a decoy challenge, so sign-up cannot be
     * used to find out who is registered. If the code cannot be sent, nothing is stored.
     */
    async register(input: RegisterInput, ctx: RequestContext) {
      assertPasswordPolicy(input.password, { username: input.username });
      const email = input.email ? normalizeEmail(input.email) : undefined;
      const phone = input.phone ? normalizePhone(input.phone) : undefined;
      if (!email && !phone) throw new AppError('VALIDATION_FAILED', 'Give an email address or a phone number', {}, [{ field: 'body', message: 'must have email or phone' }]);
      const passwordHash = await passwords.hash(input.password);
      const channel: Channel = email ? 'email' : 'sms';
      const destination = (email ?? phone)!;

      const created = db.transaction(async (tx) => {
        const existing = await users.findByUsername(input.username, tx);
        if (existing && !(await releaseIfAbandoned(existing, tx))) {
          throw new AppError('USERNAME_TAKEN');
        }
        const taken = (email && (await contactHolder('email', email, tx))) || (phone && (await contactHolder('phone', phone, tx)));
        const values = { username: input.username, displayName: input.displayName?.trim() || input.username, email, phone, passwordHash };
        if (taken) {
          const now = new Date();
          const decoy: UserRow = {
            ...values,
            id: newId(),
            email: email ?? null,
            emailVerifiedAt: null,
            phone: phone ?? null,
            phoneVerifiedAt: null,
            about: null,
            avatarUrl: null,
            role: 'user',
            status: 'active',
            bannedAt: null,
            banReason: null,
            deletedAt: null,
            lastSeenAt: null,
            hideLastSeen: false,
            dndUntil: null,
            pushPreview: true,
            createdAt: now,
            updatedAt: now,
          };
          const challenge = await otp.issue({ userId: null, purpose: 'register', channel, destination, ip: ctx.ip }, tx);
          return { user: toPrivateUser(decoy), challenge };
        }
        const user = await users.insert(values, tx);
        const challenge = await otp.issue({ userId: user.id, purpose: 'register', channel, destination, ip: ctx.ip }, tx);
        return { user: toPrivateUser(user), challenge };
      });
      // Two sign-ups racing for one name: the loser hits the unique index.
      return created.catch((error: unknown) => {
        const constraint = uniqueViolation(error);
        if (constraint === undefined) throw error;
        throw new AppError(constraint.includes('username') ? 'USERNAME_TAKEN' : 'CONFLICT');
      });
    },

    /** Password check; then a code (two-step, the default) or tokens. Unknown accounts cost the same time and get the same 401. */
    async login(input: { identifier: string; password: string; deviceName?: string }, ctx: RequestContext) {
      const user = await findByIdentifier(input.identifier);
      if (!user || user.status === 'deleted') {
        await passwords.verifyNothing(input.password);
        throw new AppError('INVALID_CREDENTIALS');
      }
      if (!(await passwords.verify(user.passwordHash, input.password))) throw new AppError('INVALID_CREDENTIALS');
      if (user.status === 'banned') throw new AppError('ACCOUNT_BANNED');
      if (passwords.needsRehash(user.passwordHash)) await users.update(user.id, { passwordHash: await passwords.hash(input.password) });
      const contact = contactOf(user);
      // Accounts without any contact (operator-created admins) cannot receive a code. An account that
      // never verified its contact gets a code even with AUTH_LOGIN_OTP=false: answering it verifies
      // the contact, so no one signs in on an address or number they were never shown to hold.
      const verified = user.emailVerifiedAt !== null || user.phoneVerifiedAt !== null;
      if (!contact || (!config.loginOtp && verified)) return startSession(user, ctx, input.deviceName);
      const challenge = await otp.issue({ userId: user.id, purpose: 'login', ...contact, ip: ctx.ip });
      return { otpRequired: true as const, challenge };
    },

    /** Passwordless sign-in by code to a verified contact; unknown contacts get an identical decoy. */
    async requestOtp(input: { phone?: string; email?: string }, ctx: RequestContext): Promise<{ challenge: ChallengeView }> {
      const channel: Channel = input.email ? 'email' : 'sms';
      const destination = input.email ? normalizeEmail(input.email) : normalizePhone(input.phone ?? '');
      const user = channel === 'email' ? await users.findByEmail(destination) : await users.findByPhone(destination);
      const verified = user && user.status === 'active' && (channel === 'email' ? user.emailVerifiedAt : user.phoneVerifiedAt);
      const challenge = await otp.issue({ userId: verified ? user.id : null, purpose: 'passwordless', channel, destination, ip: ctx.ip });
      return { challenge };
    },

    /** Completes register, login and passwordless challenges with tokens; a register code also verifies the contact. */
    async verifyOtp(input: { challengeId: string; code: string; deviceName?: string }, ctx: RequestContext) {
      const challenge = await otp.verify(input.challengeId, input.code, ['register', 'login', 'passwordless']);
      let user = await users.findById(challenge.userId!);
      if (!user) throw new AppError('OTP_INVALID');
      const verifiedField = challenge.channel === 'email' ? 'emailVerifiedAt' : 'phoneVerifiedAt';
      const contactMatches = challenge.channel === 'email' ? user.email === challenge.destination : user.phone === challenge.destination;
      if (contactMatches && !user[verifiedField]) user = (await users.update(user.id, { [verifiedField]: new Date() })) ?? user;
      return startSession(user, ctx, input.deviceName);
    },

    resendOtp: (challengeId: string, ctx: RequestContext) => otp.resend(challengeId, ctx.ip).then((challenge) => ({ challenge })),

    /** Always 202 with a challenge. Only a known account with a verified contact gets a real code. */
    async forgotPassword(identifier: string, ctx: RequestContext): Promise<{ challenge: ChallengeView }> {
      const { kind, value } = classifyIdentifier(identifier);
      const user = await findByIdentifier(identifier);
      const contact = user && user.status === 'active' ? contactOf(user) : undefined;
      const verified = contact && (contact.channel === 'email' ? user!.emailVerifiedAt : user!.phoneVerifiedAt);
      const channel: Channel = kind === 'email' ? 'email' : kind === 'phone' ? 'sms' : (contact?.channel ?? (sha256(value).charCodeAt(0) % 2 ? 'sms' : 'email'));
      const destination = kind === 'username' ? (verified ? contact!.destination : value) : value;
      const challenge = await otp.issue({ userId: verified ? user!.id : null, purpose: 'reset_password', channel, destination, ip: ctx.ip });
      // For a username the caller must not learn where (or whether) the code went.
      return { challenge: kind === 'username' ? { ...challenge, destination: '***' } : challenge };
    },

    /** Sets a new password and ends every session of the account. */
    async resetPassword(input: { challengeId: string; code: string; newPassword: string }): Promise<void> {
      let user: UserRow | undefined;
      // The policy is checked before the code is consumed, so a refused password does not burn the code.
      await otp.verify(input.challengeId, input.code, ['reset_password'], async (challenge) => {
        user = await users.findById(challenge.userId!);
        if (!user) throw new AppError('OTP_INVALID');
        assertPasswordPolicy(input.newPassword, { username: user.username });
      });
      if (!user) throw new AppError('OTP_INVALID');
      await users.update(user.id, { passwordHash: await passwords.hash(input.newPassword) });
      await sessions.revokeAllOfUser(user.id, 'password_reset');
    },

    /** Rotates the refresh token. A token that was already rotated revokes its whole session (reuse detection). */
    async refresh(refreshToken: string) {
      const hash = sha256(refreshToken);
      const found = await sessions.findRefreshToken(hash);
      if (!found) throw new AppError('REFRESH_TOKEN_INVALID');
      const { token, session } = found;
      if (token.rotatedAt) {
        await sessions.revoke(session.id, 'refresh_token_reuse');
        throw new AppError('REFRESH_TOKEN_REUSED');
      }
      if (session.revokedAt || session.expiresAt.getTime() <= Date.now()) throw new AppError('REFRESH_TOKEN_INVALID');
      if (found.userStatus === 'banned') throw new AppError('ACCOUNT_BANNED');
      const next = randomToken();
      if (!(await sessions.rotate(session.id, hash, sha256(next)))) {
        await sessions.revoke(session.id, 'refresh_token_reuse');
        throw new AppError('REFRESH_TOKEN_REUSED');
      }
      const user = await users.findById(session.userId);
      if (!user) throw new AppError('REFRESH_TOKEN_INVALID');
      return tokenPair(user, session.id, next);
    },

    /** Ends the session the refresh token belongs to; unknown tokens are ignored (idempotent). */
    async logout(refreshToken: string): Promise<void> {
      const found = await sessions.findRefreshToken(sha256(refreshToken));
      if (found) await sessions.revoke(found.session.id, 'logout');
    },

    logoutAll: (actor: Actor) => sessions.revokeAllOfUser(actor.userId, 'logout_all'),

    async listSessions(actor: Actor) {
      const rows = await sessions.listActive(actor.userId);
      return rows.map((s) => ({ ...toSessionView(s), current: s.id === actor.sessionId }));
    },

    async revokeSession(actor: Actor, sessionId: string): Promise<void> {
      const found = await sessions.findForAccess(sessionId);
      if (!found || found.session.userId !== actor.userId || found.session.revokedAt) throw new AppError('SESSION_NOT_FOUND');
      await sessions.revoke(sessionId, 'revoked_by_user');
    },

    /** A single-use ticket for opening a socket where headers cannot be set (browsers). */
    async createWsTicket(actor: Actor) {
      const ticket = randomToken();
      const expiresAt = new Date(Date.now() + WS_TICKET_TTL_MS);
      await sessions.createTicket({ ticketHash: sha256(ticket), userId: actor.userId, sessionId: actor.sessionId, expiresAt });
      return { ticket, expiresAt: expiresAt.toISOString() };
    },

    /** Redeems a ticket for the actor it was issued to; the session must still be live. */
    async consumeWsTicket(ticket: string): Promise<Actor> {
      const row = await sessions.consumeTicket(sha256(ticket));
      if (!row) throw new AppError('TICKET_INVALID');
      return actorForSession(row.userId, row.sessionId);
    },

    /** Verifies an access token and that its session is live and its user not banned. */
    async authenticate(accessToken: string): Promise<Actor> {
      const claims = tokens.verify(accessToken);
      return actorForSession(claims.sub, claims.sid);
    },

    /** Creates the operator account, or promotes an existing one (its password is left alone). */
    async ensureAdmin(input: { username: string; password: string; email?: string; phone?: string }): Promise<{ created: boolean; user: UserRow }> {
      const existing = await users.findByUsername(input.username);
      if (existing) return { created: false, user: (await users.update(existing.id, { role: 'admin' }))! };
      assertPasswordPolicy(input.password, { username: input.username });
      const now = new Date();
      const user = await users.insert({
        username: input.username,
        displayName: input.username,
        passwordHash: await passwords.hash(input.password),
        role: 'admin',
        email: input.email ? normalizeEmail(input.email) : null,
        emailVerifiedAt: input.email ? now : null,
        phone: input.phone ? normalizePhone(input.phone) : null,
        phoneVerifiedAt: input.phone ? now : null,
      });
      return { created: true, user };
    },
  };
}

export type AuthService = ReturnType<typeof createAuthService>;
