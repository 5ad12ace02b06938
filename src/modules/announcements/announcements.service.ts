import { AppError } from '../../errors.js';
import type { ChatEvents } from '../../events/chat-events.js';
import { timePage, timePosition } from '../../lib/time-page.js';
import type { Database } from '../../db/client.js';
import type { AuditRepository } from '../admin/audit.repository.js';
import type { UserLog } from '../users/user-log.js';
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
/**
 * An announcement's entry in the announcements log, as of now: `announcement` while it is listed
 * (active), `announcement.withdrawn` once it is not (withdrawn, or moved out of its window).
 */
export function announcementEvent(row: AnnouncementRow): { type: 'announcement' | 'announcement.withdrawn'; seq: number; data: unknown } {
  return isActive(row) ? { type: 'announcement', seq: row.seq!, data: toAnnouncement(row, false) } : { type: 'announcement.withdrawn', seq: row.seq!, data: { id: row.id } };
}

export function createAnnouncementsService(deps: { db: Database; announcements: AnnouncementRepository; userLog: UserLog; audit: AuditRepository; events: ChatEvents }) {
  const { db, announcements, userLog, audit, events } = deps;

  /** Announces the log's new entries to every socket. */
  const publish = (rows: AnnouncementRow[]) => events.publishStream('announcements', null, rows.filter((row) => row.seq !== null).map(announcementEvent));

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
      // The reader's other devices learn it from the reader's log (announcement.read).
      const changes = await db.transaction(async (tx) =>
        (await announcements.markRead(id, actor.userId, tx)) ? userLog.record(tx, [{ userId: actor.userId, key: `announcement:${id}`, type: 'announcement.read', data: { id } }]) : [],
      );
      events.publishStream('user', actor.userId, changes);
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
      publish([row]);
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
      publish([row]);
      return toAdminAnnouncement(row);
    },

    /** Pushes the scheduled announcements that have started since the last sweep; returns how many. */
    async announceDue(): Promise<number> {
      const due = await announcements.claimDue();
      publish(due);
      return due.length;
    },

    /** Withdraws it: it leaves every user's list; the row and its read count stay for the record. */
    async withdraw(actor: Actor, id: string): Promise<void> {
      assertRole(actor, ['admin']);
      const current = await load(id);
      if (current.withdrawnAt) return;
      publish([(await announcements.update(id, { withdrawnAt: new Date() }))!]);
      await audit.record({ actorId: actor.userId, action: 'announcement.withdrawn', targetType: 'announcement', targetId: id });
    },
  };
}

export type AnnouncementsService = ReturnType<typeof createAnnouncementsService>;
