import { AppError } from '../../errors.js';
import type { ChatEvents } from '../../events/chat-events.js';
import { timePage, timePosition } from '../../lib/time-page.js';
import type { AuditRepository } from '../admin/audit.repository.js';
import { assertRole } from '../admin/staff.js';
import type { Actor } from '../auth/tokens.js';
import type { AnnouncementRepository, AnnouncementRow } from './announcement.repository.js';

const isActive = (row: AnnouncementRow, at = Date.now()) =>
  row.withdrawnAt === null && row.startsAt.getTime() <= at && (row.endsAt === null || row.endsAt.getTime() > at);

function toAnnouncement(row: AnnouncementRow, read: boolean) {
  return { id: row.id, title: row.title, body: row.body, startsAt: row.startsAt.toISOString(), endsAt: row.endsAt?.toISOString() ?? null, read, createdAt: row.createdAt.toISOString() };
}

function toAdminAnnouncement(row: AnnouncementRow) {
  return {
    id: row.id,
    title: row.title,
    body: row.body,
    startsAt: row.startsAt.toISOString(),
    endsAt: row.endsAt?.toISOString() ?? null,
    withdrawnAt: row.withdrawnAt?.toISOString() ?? null,
    active: isActive(row),
    readCount: row.readCount,
    createdBy: row.createdBy,
    createdAt: row.createdAt.toISOString(),
  };
}

const position = (row: AnnouncementRow) => ({ at: row.startsAt, id: row.id });

function checkWindow(startsAt: Date, endsAt: Date | null): void {
  if (endsAt && endsAt.getTime() <= startsAt.getTime()) throw new AppError('VALIDATION_FAILED', 'endsAt must be after startsAt', {}, [{ field: 'body.endsAt', message: 'must be after startsAt' }]);
}

/**
 * Announcements: admins publish, edit and withdraw; every user lists the active ones and marks them
 * read. One that is active when published goes out at once as an `announcement` frame to every
 * connected socket on every instance; a scheduled one goes out from the sweeper once it has started.
 */
export function createAnnouncementsService(deps: { announcements: AnnouncementRepository; audit: AuditRepository; events: ChatEvents }) {
  const { announcements, audit, events } = deps;

  async function load(id: string): Promise<AnnouncementRow> {
    const row = await announcements.findById(id);
    if (!row) throw new AppError('NOT_FOUND', 'No such announcement');
    return row;
  }

  return {
    async listActive(actor: Actor, input: { cursor?: string; limit: number }) {
      const rows = await announcements.listActive(actor.userId, input.limit, timePosition(input.cursor));
      return timePage(rows, input.limit, (r) => position(r.announcement), (r) => toAnnouncement(r.announcement, r.readAt !== null));
    },

    async markRead(actor: Actor, id: string): Promise<void> {
      if (!(await announcements.findActive(id))) throw new AppError('NOT_FOUND', 'No such announcement');
      await announcements.markRead(id, actor.userId);
    },

    async list(actor: Actor, input: { state: 'all' | 'active' | 'withdrawn'; cursor?: string; limit: number }) {
      assertRole(actor, ['admin']);
      return timePage(await announcements.list(input.state, input.limit, timePosition(input.cursor)), input.limit, position, toAdminAnnouncement);
    },

    async create(actor: Actor, input: { title: string; body: string; startsAt?: string; endsAt?: string | null }) {
      assertRole(actor, ['admin']);
      const startsAt = input.startsAt ? new Date(input.startsAt) : new Date();
      const endsAt = input.endsAt ? new Date(input.endsAt) : null;
      checkWindow(startsAt, endsAt);
      const now = new Date();
      const activeNow = startsAt.getTime() <= now.getTime() && (endsAt === null || endsAt.getTime() > now.getTime());
      const row = await announcements.create({ title: input.title.trim(), body: input.body.trim(), startsAt, endsAt, announcedAt: activeNow ? now : null, createdBy: actor.userId });
      await audit.record({ actorId: actor.userId, action: 'announcement.created', targetType: 'announcement', targetId: row.id, details: { title: row.title } });
      if (activeNow) events.notifyAll('announcement', toAnnouncement(row, false));
      return toAdminAnnouncement(row);
    },

    async update(actor: Actor, id: string, patch: { title?: string; body?: string; startsAt?: string; endsAt?: string | null }) {
      assertRole(actor, ['admin']);
      const current = await load(id);
      const startsAt = patch.startsAt ? new Date(patch.startsAt) : current.startsAt;
      const endsAt = patch.endsAt === undefined ? current.endsAt : patch.endsAt === null ? null : new Date(patch.endsAt);
      checkWindow(startsAt, endsAt);
      const row = (await announcements.update(id, {
        ...(patch.title !== undefined ? { title: patch.title.trim() } : {}),
        ...(patch.body !== undefined ? { body: patch.body.trim() } : {}),
        startsAt,
        endsAt,
      }))!;
      await audit.record({ actorId: actor.userId, action: 'announcement.updated', targetType: 'announcement', targetId: id, details: { ...patch } });
      return toAdminAnnouncement(row);
    },

    /** Pushes the scheduled announcements that have started since the last sweep; returns how many. */
    async announceDue(): Promise<number> {
      const due = await announcements.claimDue();
      for (const row of due) events.notifyAll('announcement', toAnnouncement(row, false));
      return due.length;
    },

    /** Withdraws it: it leaves every user's list; the row and its read count stay for the record. */
    async withdraw(actor: Actor, id: string): Promise<void> {
      assertRole(actor, ['admin']);
      const current = await load(id);
      if (current.withdrawnAt) return;
      await announcements.update(id, { withdrawnAt: new Date() });
      await audit.record({ actorId: actor.userId, action: 'announcement.withdrawn', targetType: 'announcement', targetId: id });
    },
  };
}

export type AnnouncementsService = ReturnType<typeof createAnnouncementsService>;
