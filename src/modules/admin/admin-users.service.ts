import { AppError } from '../../errors.js';
import { decodeCursor, encodeCursor } from '../../lib/cursor.js';
import { timePage, timePosition } from '../../lib/time-page.js';
import type { SessionRepository } from '../auth/session.repository.js';
import { toSessionView } from '../auth/session.views.js';
import type { Actor, Role } from '../auth/tokens.js';
import type { UserRepository, UserRow } from '../users/user.repository.js';
import type { AdminUsersRepository } from './admin-users.repository.js';
import type { AuditRepository, AuditRow } from './audit.repository.js';
import { STAFF_ROLES, assertRole } from './staff.js';

type NameCursor = { n: string };
const isNameCursor = (v: unknown): v is NameCursor => typeof (v as NameCursor)?.n === 'string';

export function toAdminUser(user: UserRow) {
  return {
    id: user.id,
    username: user.username,
    displayName: user.displayName,
    email: user.email,
    phone: user.phone,
    role: user.role,
    status: user.status,
    bannedAt: user.bannedAt?.toISOString() ?? null,
    banReason: user.banReason,
    lastSeenAt: user.lastSeenAt?.toISOString() ?? null,
    createdAt: user.createdAt.toISOString(),
  };
}

const toAuditEntry = (row: AuditRow) => ({ ...row, createdAt: row.createdAt.toISOString() });

/**
 * Accounts as staff manage them (role admin): search, ban and unban, roles, sessions, and the audit
 * log. A ban revokes every session of the user; the revocation closes their sockets (4401) on every
 * instance at once, and their access tokens stop working on the next request.
 */
export function createAdminUsersService(deps: {
  users: UserRepository;
  adminUsers: AdminUsersRepository;
  sessions: SessionRepository;
  audit: AuditRepository;
  /** Erases an account (AccountService.deleteById). */
  deleteAccount: (userId: string) => Promise<UserRow>;
  /** Called once a user's role or status changed: instances that cached the old one (live sessions) must read it again. */
  accessChanged: (userId: string) => void;
  /** Called when a staff member becomes an ordinary user: they must lose what staff could reach. */
  onStaffRemoved: (userId: string, by: Actor) => Promise<void>;
}) {
  const { users, adminUsers, sessions, audit, accessChanged, onStaffRemoved } = deps;

  async function load(id: string): Promise<UserRow> {
    const user = await users.findById(id);
    if (!user) throw new AppError('USER_NOT_FOUND');
    return user;
  }

  function notSelf(actor: Actor, userId: string, what: string): void {
    if (actor.userId === userId) throw new AppError('FORBIDDEN', `You cannot ${what} yourself`);
  }

  async function ban(actor: Actor, userId: string, reason: string, details: Record<string, unknown> = {}) {
    assertRole(actor, ['admin']);
    notSelf(actor, userId, 'ban');
    const target = await load(userId);
    if (target.role === 'admin') throw new AppError('FORBIDDEN', 'An admin cannot be banned; change their role first');
    const updated = (await users.update(userId, { status: 'banned', bannedAt: new Date(), banReason: reason.trim() }))!;
    // Dropped from every cache now, not only through the revocation: that may fail after the ban is stored.
    accessChanged(userId);
    await sessions.revokeAllOfUser(userId, 'banned');
    await audit.record({ actorId: actor.userId, action: 'user.banned', targetType: 'user', targetId: userId, details: { reason: updated.banReason, ...details } });
    return toAdminUser(updated);
  }

  return {
    ban,

    async search(actor: Actor, input: { q?: string; status?: UserRow['status']; role?: Role; cursor?: string; limit: number }) {
      assertRole(actor, ['admin']);
      const after = input.cursor ? decodeCursor(input.cursor, isNameCursor).n : undefined;
      const rows = await adminUsers.search({ ...input, ...(after !== undefined ? { after } : {}) });
      const page = rows.slice(0, input.limit);
      const last = page.at(-1);
      return { items: page.map(toAdminUser), nextCursor: rows.length > input.limit && last ? encodeCursor({ n: last.username.toLowerCase() }) : null };
    },

    async get(actor: Actor, userId: string) {
      assertRole(actor, ['admin']);
      return toAdminUser(await load(userId));
    },

    async unban(actor: Actor, userId: string) {
      assertRole(actor, ['admin']);
      await load(userId);
      const updated = (await users.update(userId, { status: 'active', bannedAt: null, banReason: null }))!;
      await audit.record({ actorId: actor.userId, action: 'user.unbanned', targetType: 'user', targetId: userId });
      return toAdminUser(updated);
    },

    /**
     * Takes effect on the user's next request, on every instance (their cached live sessions are dropped). A
     * demoted staff member also leaves every support conversation they were in.
     */
    async setRole(actor: Actor, userId: string, role: Role) {
      assertRole(actor, ['admin']);
      notSelf(actor, userId, 'change the role of');
      const before = await load(userId);
      const updated = (await users.update(userId, { role }))!;
      accessChanged(userId);
      if (STAFF_ROLES.includes(before.role) && !STAFF_ROLES.includes(role)) await onStaffRemoved(userId, actor);
      await audit.record({ actorId: actor.userId, action: 'user.role_changed', targetType: 'user', targetId: userId, details: { from: before.role, to: role } });
      return toAdminUser(updated);
    },

    /** Deletes someone's account as its owner could (not yourself, not an admin); again on a deleted one finishes the work. */
    async remove(actor: Actor, userId: string): Promise<void> {
      assertRole(actor, ['admin']);
      notSelf(actor, userId, 'delete');
      const target = await load(userId);
      if (target.role === 'admin') throw new AppError('FORBIDDEN', 'An admin account cannot be deleted; change their role first');
      await deps.deleteAccount(userId);
      await audit.record({ actorId: actor.userId, action: 'user.deleted', targetType: 'user', targetId: userId });
    },

    async sessions(actor: Actor, userId: string) {
      assertRole(actor, ['admin']);
      await load(userId);
      return { items: (await sessions.listActive(userId)).map(toSessionView) };
    },

    async audit(actor: Actor, input: { actorId?: string; action?: string; targetId?: string; cursor?: string; limit: number }) {
      assertRole(actor, ['admin']);
      const { cursor, ...filters } = input;
      const after = timePosition(cursor);
      return timePage(await audit.list({ ...filters, ...(after ? { after } : {}) }), input.limit, (r) => ({ at: r.createdAt, id: r.id }), toAuditEntry);
    },
  };
}

export type AdminUsersService = ReturnType<typeof createAdminUsersService>;
