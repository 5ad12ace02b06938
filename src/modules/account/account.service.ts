import { AppError } from '../../errors.js';
import type { ChatEvents } from '../../events/chat-events.js';
import type { OtpService } from '../auth/otp.service.js';
import type { PasswordHasher } from '../auth/password.js';
import type { Actor } from '../auth/tokens.js';
import type { ReactionsService } from '../messages/reactions.service.js';
import type { MembersService } from '../conversations/members.service.js';
import type { MediaService } from '../media/media.service.js';
import type { StatusService } from '../status/status.service.js';
import type { UserRepository, UserRow } from '../users/user.repository.js';
import type { AccountRepository } from './account.repository.js';

/** How the owner proves, again, that it is them: the password, or a code from POST /users/me/deletion-code. */
export type DeletionProof = { password: string } | { challengeId: string; code: string };

/**
 * Account deletion. The account becomes a tombstone at once (one transaction: profile, contacts,
 * sessions and the user's own records go; every socket of the user closes on every instance through
 * the `session.revoked` bus event); then it leaves its groups and support chats (member.left), and
 * its uploads are removed from the messages that carry them and from storage. Messages it sent stay
 * in other people's conversations, from "Deleted account". Running it again on a deleted account
 * finishes whatever an interrupted run left.
 */
export function createAccountService(deps: {
  accounts: AccountRepository;
  users: UserRepository;
  passwords: PasswordHasher;
  otp: OtpService;
  events: ChatEvents;
  members: Pick<MembersService, 'remove'>;
  reactions: Pick<ReactionsService, 'recordRemoved' | 'removeAllBy'>;
  status: Pick<StatusService, 'removeAllBy' | 'accountErased' | 'publish'>;
  media: Pick<MediaService, 'removeAllOf'>;
}) {
  const { accounts, users, passwords, otp, events } = deps;

  async function load(userId: string): Promise<UserRow> {
    const user = await users.findById(userId);
    if (!user || user.status === 'deleted') throw new AppError('USER_NOT_FOUND');
    return user;
  }

  /** Where a deletion code goes: a verified contact only (email first), as for sign-in codes. */
  function verifiedContact(user: UserRow): { channel: 'email' | 'sms'; destination: string } | undefined {
    if (user.email && user.emailVerifiedAt) return { channel: 'email', destination: user.email };
    if (user.phone && user.phoneVerifiedAt) return { channel: 'sms', destination: user.phone };
    return undefined;
  }

  async function erase(user: UserRow): Promise<void> {
    const actor: Actor = { userId: user.id, sessionId: '', role: user.role };
    await deps.status.removeAllBy(user.id);
    // Each taken back with its record; the erasure removes (and records after it commits) only those added meanwhile.
    await deps.reactions.removeAllBy(user.id);
    const erased = await accounts.erase(user.id, (tx) => deps.status.accountErased(tx, user.id));
    deps.status.publish(erased.recorded);
    events.sessionsRevoked(user.id, erased.sessionIds);
    for (const r of erased.reactions) await deps.reactions.recordRemoved(r.conversationId, r.messageId, user.id, r.emoji);
    for (const conversationId of await accounts.sharedConversations(user.id)) {
      await deps.members.remove(actor, conversationId, user.id).catch((error: unknown) => {
        // Someone else removed them in the meantime: nothing left to do there.
        if (!(error instanceof AppError)) throw error;
      });
    }
    await deps.media.removeAllOf(user.id);
  }

  return {
    /** Sends a code to the account's verified contact; the answer to DELETE /users/me. */
    async requestCode(actor: Actor, ip: string | null) {
      const user = await load(actor.userId);
      const contact = verifiedContact(user);
      if (!contact) throw new AppError('VALIDATION_FAILED', 'The account has no verified email or phone; confirm with your password', {}, [{ field: 'body.password', message: 'is required' }]);
      return { challenge: await otp.issue({ userId: user.id, purpose: 'delete_account', ...contact, ip }) };
    },

    /** The owner deletes their account after proving it is them again. */
    async deleteOwn(actor: Actor, proof: DeletionProof): Promise<void> {
      const user = await load(actor.userId);
      if (user.role === 'admin') throw new AppError('FORBIDDEN', 'An admin account cannot be deleted; have another admin change its role first');
      if ('password' in proof) {
        if (!(await passwords.verify(user.passwordHash, proof.password))) throw new AppError('CURRENT_PASSWORD_INCORRECT');
      } else {
        await otp.verify(proof.challengeId, proof.code, ['delete_account'], async (row) => {
          if (row.userId !== user.id) throw new AppError('OTP_INVALID');
        });
      }
      await erase(user);
    },

    /** An admin deletes someone else's account (the caller checks the role and audits). */
    async deleteById(userId: string): Promise<UserRow> {
      const user = await users.findById(userId);
      if (!user) throw new AppError('USER_NOT_FOUND');
      await erase(user);
      return user;
    },

    load,
  };
}

export type AccountService = ReturnType<typeof createAccountService>;
