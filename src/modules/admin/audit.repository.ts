import { and, desc, eq } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { auditLog } from '../../db/schema.js';
import { newId } from '../../lib/ids.js';
import { type TimePosition, below } from '../../lib/time-page.js';

export type AuditRow = typeof auditLog.$inferSelect;

export interface AuditEntry {
  actorId: string;
  /** `noun.verb`, e.g. `user.banned`, `feedback.replied`. */
  action: string;
  targetType: string;
  targetId: string | null;
  details?: Record<string, unknown>;
}

/** The append-only audit log of staff actions. */
export function createAuditRepository(db: Database) {
  return {
    async record(entry: AuditEntry): Promise<void> {
      await db.insert(auditLog).values({ id: newId(), ...entry, details: entry.details ?? null, createdAt: new Date() });
    },

    async list(input: { actorId?: string; action?: string; targetId?: string; after?: TimePosition; limit: number }): Promise<AuditRow[]> {
      return db
        .select()
        .from(auditLog)
        .where(
          and(
            input.actorId ? eq(auditLog.actorId, input.actorId) : undefined,
            input.action ? eq(auditLog.action, input.action) : undefined,
            input.targetId ? eq(auditLog.targetId, input.targetId) : undefined,
            below(auditLog.createdAt, auditLog.id, input.after),
          ),
        )
        .orderBy(desc(auditLog.createdAt), desc(auditLog.id))
        .limit(input.limit + 1);
    },
  };
}

export type AuditRepository = ReturnType<typeof createAuditRepository>;
