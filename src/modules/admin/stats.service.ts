import type { Actor } from '../auth/tokens.js';
import type { StatsRepository } from './stats.repository.js';
import { assertRole } from './staff.js';

const DAYS = 7;

/** The admin dashboard: users (total, active today, banned), messages per day, online now, open tickets and reports. */
export function createStatsService(deps: { stats: StatsRepository; onlineUsers: () => Promise<number> }) {
  const { stats, onlineUsers } = deps;
  return {
    async get(actor: Actor) {
      assertRole(actor, ['admin']);
      const [users, messagesPerDay, onlineNow, open] = await Promise.all([stats.users(), stats.messagesPerDay(DAYS), onlineUsers(), stats.open()]);
      return { users, messagesPerDay, onlineNow, openTickets: open.tickets, openReports: open.reports };
    },
  };
}

export type StatsService = ReturnType<typeof createStatsService>;
