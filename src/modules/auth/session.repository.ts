import { and, desc, eq, gt, isNull, sql } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { refreshTokens, sessions, users, wsTickets } from '../../db/schema.js';

export type SessionRow = typeof sessions.$inferSelect;

/** Told after sessions were revoked (committed): open sockets of those sessions must close. */
export type SessionsRevoked = (revoked: Array<{ userId: string; sessionId: string }>) => void;

/** Sessions (signed-in devices), their refresh tokens (by hash) and socket tickets (by hash). */
export function createSessionRepository(db: Database, onRevoked: SessionsRevoked = () => {}) {
  const revoked = (rows: Array<{ userId: string; sessionId: string }>) => {
    if (rows.length > 0) onRevoked(rows);
  };
  // Every authenticated request runs it: built once, and on Postgres parsed and planned once per connection.
  const sessionForAccess = db
    .select({ session: sessions, userStatus: users.status, role: users.role })
    .from(sessions)
    .innerJoin(users, eq(users.id, sessions.userId))
    .where(eq(sessions.id, sql.placeholder('sessionId')))
    .prepare('session_for_access');
  return {
    async create(
      values: { userId: string; deviceName?: string | null; userAgent?: string | null; ip?: string | null; expiresAt: Date; tokenHash: string },
    ): Promise<SessionRow> {
      return db.transaction(async (tx) => {
        const [session] = await tx
          .insert(sessions)
          .values({ userId: values.userId, deviceName: values.deviceName, userAgent: values.userAgent, ip: values.ip, expiresAt: values.expiresAt })
          .returning();
        await tx.insert(refreshTokens).values({ tokenHash: values.tokenHash, sessionId: session!.id });
        return session!;
      });
    },

    /** The session of a live access token with its user's status and role: one primary-key join. */
    async findForAccess(sessionId: string) {
      const [row] = await sessionForAccess.execute({ sessionId });
      return row;
    },

    async findRefreshToken(tokenHash: string) {
      const [row] = await db
        .select({ token: refreshTokens, session: sessions, userStatus: users.status, role: users.role })
        .from(refreshTokens)
        .innerJoin(sessions, eq(sessions.id, refreshTokens.sessionId))
        .innerJoin(users, eq(users.id, sessions.userId))
        .where(eq(refreshTokens.tokenHash, tokenHash));
      return row;
    },

    /**
     * Marks `oldHash` used and stores `newHash` in its place, atomically. False when the old token had
     * already been used (a concurrent refresh or a replay): the caller treats that as reuse.
     */
    async rotate(sessionId: string, oldHash: string, newHash: string): Promise<boolean> {
      return db.transaction(async (tx) => {
        const used = await tx
          .update(refreshTokens)
          .set({ rotatedAt: new Date() })
          .where(and(eq(refreshTokens.tokenHash, oldHash), isNull(refreshTokens.rotatedAt)))
          .returning({ hash: refreshTokens.tokenHash });
        if (used.length === 0) return false;
        await tx.insert(refreshTokens).values({ tokenHash: newHash, sessionId });
        await tx.update(sessions).set({ lastUsedAt: new Date() }).where(eq(sessions.id, sessionId));
        return true;
      });
    },

    async revoke(sessionId: string, reason: string): Promise<void> {
      revoked(
        await db
          .update(sessions)
          .set({ revokedAt: new Date(), revokedReason: reason })
          .where(and(eq(sessions.id, sessionId), isNull(sessions.revokedAt)))
          .returning({ userId: sessions.userId, sessionId: sessions.id }),
      );
    },

    async revokeAllOfUser(userId: string, reason: string, exceptSessionId?: string): Promise<void> {
      revoked(
        await db
          .update(sessions)
          .set({ revokedAt: new Date(), revokedReason: reason })
          .where(and(eq(sessions.userId, userId), isNull(sessions.revokedAt), exceptSessionId ? sql`${sessions.id} <> ${exceptSessionId}` : undefined))
          .returning({ userId: sessions.userId, sessionId: sessions.id }),
      );
    },

    async listActive(userId: string): Promise<SessionRow[]> {
      return db
        .select()
        .from(sessions)
        .where(and(eq(sessions.userId, userId), isNull(sessions.revokedAt), gt(sessions.expiresAt, new Date())))
        .orderBy(desc(sessions.lastUsedAt))
        .limit(200);
    },

    async createTicket(values: { ticketHash: string; userId: string; sessionId: string; expiresAt: Date }): Promise<void> {
      await db.insert(wsTickets).values(values);
    },

    /** Uses a ticket once: only the first caller gets the row back, and only before it expires. */
    async consumeTicket(ticketHash: string) {
      const [row] = await db
        .update(wsTickets)
        .set({ usedAt: new Date() })
        .where(and(eq(wsTickets.ticketHash, ticketHash), isNull(wsTickets.usedAt), gt(wsTickets.expiresAt, new Date())))
        .returning();
      return row;
    },
  };
}

export type SessionRepository = ReturnType<typeof createSessionRepository>;
