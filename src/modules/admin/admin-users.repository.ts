import { and, asc, eq, gt, or, sql } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { users } from '../../db/schema.js';
import type { UserRow } from '../users/user.repository.js';

/** The staff view of accounts: every status, contacts included. Paged by lower(username), which is unique and indexed. */
export function createAdminUsersRepository(db: Database) {
  return {
    async search(input: { q?: string; status?: UserRow['status']; role?: UserRow['role']; after?: string; limit: number }): Promise<UserRow[]> {
      const pattern = input.q ? `${input.q.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%` : undefined;
      return db
        .select()
        .from(users)
        .where(
          and(
            pattern
              ? or(sql`lower(${users.username}) like ${pattern}`, sql`lower(${users.displayName}) like ${pattern}`, sql`lower(${users.email}) = ${input.q!.toLowerCase()}`, eq(users.phone, input.q!))
              : undefined,
            input.status ? eq(users.status, input.status) : undefined,
            input.role ? eq(users.role, input.role) : undefined,
            input.after !== undefined ? gt(sql`lower(${users.username})`, input.after) : undefined,
          ),
        )
        .orderBy(asc(sql`lower(${users.username})`))
        .limit(input.limit + 1);
    },
  };
}

export type AdminUsersRepository = ReturnType<typeof createAdminUsersRepository>;
