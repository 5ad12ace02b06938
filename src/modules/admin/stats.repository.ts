import { sql } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { rowsOf, toNumber } from '../../db/raw.js';

/** Counts for the admin dashboard. Message counts read a bounded created_at range (BRIN index). */
export function createStatsRepository(db: Database) {
  const one = async (query: ReturnType<typeof sql>) => rowsOf<Record<string, unknown>>(await db.execute(query))[0] ?? {};
  return {
    async users(): Promise<{ total: number; activeToday: number; banned: number }> {
      const row = await one(sql`
        select count(*) as total,
          count(*) filter (where last_seen_at >= date_trunc('day', now() at time zone 'utc') at time zone 'utc'
            or exists (select 1 from sessions s where s.user_id = users.id and s.last_used_at >= date_trunc('day', now() at time zone 'utc') at time zone 'utc')) as active,
          count(*) filter (where status = 'banned') as banned
        from users`);
      return { total: toNumber(row.total), activeToday: toNumber(row.active), banned: toNumber(row.banned) };
    },

    /** Messages stored on each of the last `days` UTC days (today included), oldest first; empty days count 0. */
    async messagesPerDay(days: number): Promise<Array<{ day: string; count: number }>> {
      const rows = rowsOf<{ day: unknown; count: unknown }>(
        await db.execute(sql`
          select to_char(created_at at time zone 'utc', 'YYYY-MM-DD') as day, count(*) as count from messages
          where created_at >= (date_trunc('day', now() at time zone 'utc') - make_interval(days => ${days - 1})) at time zone 'utc'
          group by 1`),
      );
      const counts = new Map(rows.map((r) => [String(r.day), toNumber(r.count)]));
      const today = Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), new Date().getUTCDate());
      return Array.from({ length: days }, (_, i) => {
        const day = new Date(today - (days - 1 - i) * 86_400_000).toISOString().slice(0, 10);
        return { day, count: counts.get(day) ?? 0 };
      });
    },

    async open(): Promise<{ tickets: number; reports: number }> {
      const row = await one(sql`
        select (select count(*) from feedback_tickets where status = 'open') as tickets,
               (select count(*) from reports where status = 'open') as reports`);
      return { tickets: toNumber(row.tickets), reports: toNumber(row.reports) };
    },
  };
}

export type StatsRepository = ReturnType<typeof createStatsRepository>;
