import { uniqueViolation } from '../../db/errors.js';
import { AppError } from '../../errors.js';
import { decodeCursor, encodeCursor } from '../../lib/cursor.js';
import { timePage, timePosition } from '../../lib/time-page.js';
import { normalizeEmail, normalizePhone } from '../auth/contacts.js';
import type { OtpService } from '../auth/otp.service.js';
import type { MediaService } from '../media/media.service.js';
import { type PasswordHasher, assertPasswordPolicy } from '../auth/password.js';
import type { SessionRepository } from '../auth/session.repository.js';
import type { Actor } from '../auth/tokens.js';
import type { Database } from '../../db/client.js';
import type { ContactChanges } from './user-log.js';
import type { UserRepository, UserRow } from './user.repository.js';
import { toNotificationSettings, toPrivateUser, toPublicUser } from './user.views.js';

export interface ProfilePatch {
  displayName?: string;
  about?: string | null;
  avatarUrl?: string | null;
  hideLastSeen?: boolean;
}

type NameCursor = { n: string };
const isNameCursor = (v: unknown): v is NameCursor => typeof (v as NameCursor)?.n === 'string';

/** Profiles, search, password and contact changes, blocking. */
export function createUsersService(deps: {
  db: Database;
  users: UserRepository;
  contacts: ContactChanges;
  sessions: SessionRepository;
  otp: OtpService;
  passwords: PasswordHasher;
  media: Pick<MediaService, 'avatar'>;
}) {
  const { db, users, contacts, sessions, otp, passwords } = deps;

  /**
   * Blocks or unblocks, and records it in the blocker's log (user.blocked / user.unblocked) with what
   * it changes in the status updates either may see, in one transaction. Nothing is recorded when the
   * block already was (or was not) there.
   */
  async function setBlocked(blockerId: string, blockedId: string, blocked: boolean): Promise<void> {
    const changes = await db.transaction(async (tx) => {
      if (!(blocked ? await users.block(blockerId, blockedId, tx) : await users.unblock(blockerId, blockedId, tx))) return [];
      const type = blocked ? ('user.blocked' as const) : ('user.unblocked' as const);
      return contacts.contactChanged(tx, blockerId, blockedId, [{ userId: blockerId, key: `block:${blockedId}`, type, data: { userId: blockedId } }]);
    });
    contacts.publish(changes);
  }

  async function load(id: string): Promise<UserRow> {
    const user = await users.findById(id);
    if (!user) throw new AppError('USER_NOT_FOUND');
    return user;
  }

  return {
    me: async (actor: Actor) => toPrivateUser(await load(actor.userId)),

    async updateMe(actor: Actor, patch: ProfilePatch & { avatarMediaId?: string }) {
      const values: ProfilePatch = {};
      if (patch.avatarMediaId !== undefined) {
        if (patch.avatarUrl !== undefined) throw new AppError('VALIDATION_FAILED', 'Send avatarUrl or avatarMediaId, not both', {}, [{ field: 'body.avatarMediaId', message: 'must not be sent with avatarUrl' }]);
        values.avatarUrl = await deps.media.avatar(actor, patch.avatarMediaId);
      }
      if (patch.displayName !== undefined) values.displayName = patch.displayName.trim();
      if (patch.about !== undefined) values.about = patch.about;
      if (patch.avatarUrl !== undefined) values.avatarUrl = patch.avatarUrl;
      if (patch.hideLastSeen !== undefined) values.hideLastSeen = patch.hideLastSeen;
      if (values.displayName === '') throw new AppError('VALIDATION_FAILED', 'displayName must not be blank', {}, [{ field: 'body.displayName', message: 'must not be blank' }]);
      const user = await users.update(actor.userId, values);
      if (!user) throw new AppError('USER_NOT_FOUND');
      return toPrivateUser(user);
    },

    /** Your push settings: do not disturb (shown only while it lasts) and previews. */
    async notifications(actor: Actor) {
      return toNotificationSettings(await load(actor.userId));
    },

    async updateNotifications(actor: Actor, patch: { dndUntil?: string | null; preview?: boolean }) {
      const values: Partial<Pick<UserRow, 'dndUntil' | 'pushPreview'>> = {};
      if (patch.dndUntil !== undefined) values.dndUntil = patch.dndUntil === null ? null : new Date(patch.dndUntil);
      if (patch.preview !== undefined) values.pushPreview = patch.preview;
      const user = await users.update(actor.userId, values);
      if (!user) throw new AppError('USER_NOT_FOUND');
      return toNotificationSettings(user);
    },

    /**
     * A public profile; banned users and users on either side of a block answer 404. A deleted account
     * answers its tombstone ("Deleted account", nothing else), so clients can label its old messages.
     */
    async profile(actor: Actor, userId: string) {
      const user = await users.findById(userId);
      if (user?.status === 'deleted') return toPublicUser(user);
      if (!user || user.status !== 'active' || (userId !== actor.userId && (await users.isBlockedEitherWay(actor.userId, userId)))) {
        throw new AppError('USER_NOT_FOUND');
      }
      return toPublicUser(user);
    },

    /**
     * Search: `q` matches the start of a username or display name, or a whole verified email address or
     * phone number (so people can find contacts without harvesting them). Public profiles only.
     */
    async search(actor: Actor, input: { q?: string; cursor?: string; limit: number }) {
      const q = input.q?.trim() ?? '';
      const after = input.cursor ? decodeCursor(input.cursor, isNameCursor) : undefined;
      let email: string | undefined;
      let phone: string | undefined;
      if (q.includes('@')) email = normalizeEmail(q);
      else if (/^\+\d[\d\s().-]{5,}$/.test(q)) {
        try {
          phone = normalizePhone(q);
        } catch {
          phone = undefined;
        }
      }
      const rows = await users.search({
        viewerId: actor.userId,
        prefix: q || undefined,
        email,
        phone,
        after: after?.n,
        limit: input.limit + 1,
      });
      const page = rows.slice(0, input.limit);
      const last = page.at(-1);
      return {
        items: page.map(toPublicUser),
        nextCursor: rows.length > input.limit && last ? encodeCursor({ n: last.username.toLowerCase() }) : null,
      };
    },

    /** Needs the current password; ends every other session of the account. */
    async changePassword(actor: Actor, input: { currentPassword: string; newPassword: string }): Promise<void> {
      const user = await load(actor.userId);
      if (!(await passwords.verify(user.passwordHash, input.currentPassword))) throw new AppError('CURRENT_PASSWORD_INCORRECT');
      assertPasswordPolicy(input.newPassword, { username: user.username });
      await users.update(user.id, { passwordHash: await passwords.hash(input.newPassword) });
      await sessions.revokeAllOfUser(user.id, 'password_changed', actor.sessionId);
    },

    /**
     * Sends a code to the new address or number; nothing changes until confirmContactChange. An address
     * or number of another account gets the same answer with a decoy challenge (never sent, never
     * verifies), so this cannot be used to find out who is registered.
     */
    async requestContactChange(actor: Actor, kind: 'email' | 'phone', value: string, ip: string | null) {
      const destination = kind === 'email' ? normalizeEmail(value) : normalizePhone(value);
      const holder = kind === 'email' ? await users.findByEmail(destination) : await users.findByPhone(destination);
      const taken = holder !== undefined && holder.id !== actor.userId;
      const challenge = await otp.issue({
        userId: taken ? null : actor.userId,
        purpose: kind === 'email' ? 'change_email' : 'change_phone',
        channel: kind === 'email' ? 'email' : 'sms',
        destination,
        ip,
        payload: { kind, value: destination },
      });
      return { challenge };
    },

    async confirmContactChange(actor: Actor, input: { challengeId: string; code: string }) {
      const challenge = await otp.verify(input.challengeId, input.code, ['change_email', 'change_phone'], async (row) => {
        if (row.userId !== actor.userId) throw new AppError('OTP_INVALID');
      });
      const now = new Date();
      const patch = challenge.purpose === 'change_email' ? { email: challenge.destination, emailVerifiedAt: now } : { phone: challenge.destination, phoneVerifiedAt: now };
      try {
        return toPrivateUser((await users.update(actor.userId, patch))!);
      } catch (error) {
        if (uniqueViolation(error) !== undefined) throw new AppError('CONTACT_TAKEN');
        throw error;
      }
    },

    async block(actor: Actor, userId: string): Promise<void> {
      if (userId === actor.userId) throw new AppError('CANNOT_BLOCK_SELF');
      await load(userId);
      await setBlocked(actor.userId, userId, true);
    },

    unblock: (actor: Actor, userId: string) => setBlocked(actor.userId, userId, false),

    async listBlocks(actor: Actor, input: { cursor?: string; limit: number }) {
      const rows = await users.listBlocked(actor.userId, input.limit + 1, timePosition(input.cursor));
      return timePage(rows, input.limit, (row) => ({ at: row.blockedAt, id: row.user.id }), (row) => ({ user: toPublicUser(row.user), blockedAt: row.blockedAt.toISOString() }));
    },
  };
}

export type UsersService = ReturnType<typeof createUsersService>;
