import { and, asc, eq, gt, inArray, isNotNull, isNull, lt, ne, notExists, or, sql } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { userBlocks, users } from '../../db/schema.js';

export type UserRow = typeof users.$inferSelect;
export type NewUserRow = typeof users.$inferInsert;

/** Data access for users and blocks. Lookups by name or contact use the lower()-indexes. */
export function createUserRepository(db: Database) {
  return {
    async findById(id: string): Promise<UserRow | undefined> {
      const [row] = await db.select().from(users).where(eq(users.id, id));
      return row;
    },

    async findByUsername(username: string, tx: Database = db): Promise<UserRow | undefined> {
      const [row] = await tx.select().from(users).where(sql`lower(${users.username}) = ${username.toLowerCase()}`);
      return row;
    },

    async findByEmail(email: string, tx: Database = db): Promise<UserRow | undefined> {
      const [row] = await tx.select().from(users).where(sql`lower(${users.email}) = ${email.toLowerCase()}`);
      return row;
    },

    async findByPhone(phone: string, tx: Database = db): Promise<UserRow | undefined> {
      const [row] = await tx.select().from(users).where(eq(users.phone, phone));
      return row;
    },

    async insert(values: NewUserRow, tx: Database = db): Promise<UserRow> {
      const [row] = await tx.insert(users).values(values).returning();
      return row!;
    },

    async update(id: string, patch: Partial<NewUserRow>, tx: Database = db): Promise<UserRow | undefined> {
      const [row] = await tx.update(users).set({ ...patch, updatedAt: new Date() }).where(eq(users.id, id)).returning();
      return row;
    },

    /**
     * Removes an account that is an abandoned sign-up, older than `before`: it must not hold a username,
     * address or number forever. A sign-up always gives a contact and never verified one; an account
     * without any contact (the operator's admin, made without email or phone) or with a role other
     * than `user` is not a sign-up and is never removed here.
     */
    async deleteAbandoned(id: string, before: Date, tx: Database = db): Promise<boolean> {
      const deleted = await tx
        .delete(users)
        .where(
          and(
            eq(users.id, id),
            eq(users.role, 'user'),
            or(isNotNull(users.email), isNotNull(users.phone)),
            isNull(users.emailVerifiedAt),
            isNull(users.phoneVerifiedAt),
            lt(users.createdAt, before),
          ),
        )
        .returning({ id: users.id });
      return deleted.length > 0;
    },

    /**
     * Active users matching `q` as a prefix of username or display name, or exactly by verified email
     * or phone (contact discovery without harvesting), minus the viewer and anyone either side blocked.
     * Ordered by lower(username), which is unique, so its index both sorts and pages; `after` is the
     * lower-cased username of the previous page's last row.
     */
    async search(input: { viewerId: string; prefix?: string; email?: string; phone?: string; after?: string; limit: number }) {
      const matches = [];
      if (input.prefix !== undefined) {
        const pattern = `${input.prefix.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
        matches.push(sql`lower(${users.username}) like ${pattern}`, sql`lower(${users.displayName}) like ${pattern}`);
      }
      if (input.email) matches.push(and(sql`lower(${users.email}) = ${input.email}`, sql`${users.emailVerifiedAt} is not null`));
      if (input.phone) matches.push(and(eq(users.phone, input.phone), sql`${users.phoneVerifiedAt} is not null`));
      const blocked = db
        .select({ one: sql`1` })
        .from(userBlocks)
        .where(
          or(
            and(eq(userBlocks.blockerId, input.viewerId), eq(userBlocks.blockedId, users.id)),
            and(eq(userBlocks.blockerId, users.id), eq(userBlocks.blockedId, input.viewerId)),
          ),
        );
      const after = input.after !== undefined ? gt(sql`lower(${users.username})`, input.after) : undefined;
      return db
        .select()
        .from(users)
        .where(and(eq(users.status, 'active'), ne(users.id, input.viewerId), matches.length ? or(...matches) : undefined, notExists(blocked), after))
        .orderBy(asc(sql`lower(${users.username})`))
        .limit(input.limit);
    },

    /** Stamps last seen now; answers what others may be told (null when the user hides it). */
    async markSeen(id: string): Promise<Date | null> {
      const [row] = await db.update(users).set({ lastSeenAt: new Date() }).where(eq(users.id, id)).returning({ at: users.lastSeenAt, hidden: users.hideLastSeen });
      return row && !row.hidden ? row.at : null;
    },

    /** Last seen of each user as others may see it (null: never seen, or hidden). */
    async lastSeen(ids: readonly string[]): Promise<Map<string, Date | null>> {
      if (ids.length === 0) return new Map();
      const rows = await db.select({ id: users.id, at: users.lastSeenAt, hidden: users.hideLastSeen }).from(users).where(inArray(users.id, [...ids]));
      return new Map(rows.map((r) => [r.id, r.hidden ? null : r.at]));
    },

    async isBlockedEitherWay(a: string, b: string): Promise<boolean> {
      const [row] = await db
        .select({ one: sql`1` })
        .from(userBlocks)
        .where(or(and(eq(userBlocks.blockerId, a), eq(userBlocks.blockedId, b)), and(eq(userBlocks.blockerId, b), eq(userBlocks.blockedId, a))))
        .limit(1);
      return row !== undefined;
    },

    /** True when the block is new. */
    async block(blockerId: string, blockedId: string, tx: Database = db): Promise<boolean> {
      // Millisecond timestamps from JS, so the (createdAt, id) page cursor compares exactly.
      const rows = await tx.insert(userBlocks).values({ blockerId, blockedId, createdAt: new Date() }).onConflictDoNothing().returning({ id: userBlocks.blockedId });
      return rows.length > 0;
    },

    /** True when there was a block to remove. */
    async unblock(blockerId: string, blockedId: string, tx: Database = db): Promise<boolean> {
      const rows = await tx.delete(userBlocks).where(and(eq(userBlocks.blockerId, blockerId), eq(userBlocks.blockedId, blockedId))).returning({ id: userBlocks.blockedId });
      return rows.length > 0;
    },

    /** The users `blockerId` blocked, newest first; `after` is the last row of the previous page. */
    async listBlocked(blockerId: string, limit: number, after?: { at: Date; id: string }) {
      return db
        .select({ user: users, blockedAt: userBlocks.createdAt })
        .from(userBlocks)
        .innerJoin(users, eq(users.id, userBlocks.blockedId))
        .where(
          and(
            eq(userBlocks.blockerId, blockerId),
            after ? or(lt(userBlocks.createdAt, after.at), and(eq(userBlocks.createdAt, after.at), gt(userBlocks.blockedId, after.id))) : undefined,
          ),
        )
        .orderBy(sql`${userBlocks.createdAt} desc`, asc(userBlocks.blockedId))
        .limit(limit);
    },
  };
}

export type UserRepository = ReturnType<typeof createUserRepository>;
