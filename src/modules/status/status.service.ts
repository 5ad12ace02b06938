import { AppError } from '../../errors.js';
import type { ChatEvents } from '../../events/chat-events.js';
import { decodeCursor, encodeCursor } from '../../lib/cursor.js';
import type { Actor } from '../auth/tokens.js';
import type { MediaService } from '../media/media.service.js';
import { toMedia } from '../media/media.views.js';
import { toPublicUser } from '../users/user.views.js';
import type { Database } from '../../db/client.js';
import type { UserChange, UserChangeDraft, UserLog } from '../users/user-log.js';
import type { StatusRecord, StatusRepository } from './status.repository.js';

export interface StatusInput {
  type: 'text' | 'image' | 'video';
  body?: string;
  mediaId?: string;
  backgroundColor?: string;
  audience?: 'contacts' | { only: string[] } | { except: string[] };
}

type ViewerCursor = { t: string; i: string };
const isViewerCursor = (v: unknown): v is ViewerCursor =>
  typeof (v as ViewerCursor)?.t === 'string' && !Number.isNaN(Date.parse((v as ViewerCursor).t)) && typeof (v as ViewerCursor).i === 'string' && /^[0-9a-f-]{36}$/i.test((v as ViewerCursor).i);

/** 24-hour status updates for the author's contacts; reads never show an expired one. */
export function createStatusService(deps: {
  db: Database;
  statuses: StatusRepository;
  userLog: UserLog;
  media: Pick<MediaService, 'forMessage' | 'attach' | 'findMany' | 'links' | 'releaseIfUnused'>;
  events: ChatEvents;
  config: { ttlSeconds: number; maxLive: number };
}) {
  const { db, statuses, userLog, media, events, config } = deps;

  /** Publishes committed user-log changes; status.created goes as a doorbell (read and rendered by each socket). */
  const publish = (changes: readonly UserChange[]): void => {
    for (const change of changes) events.publishStream('user', change.userId, [change.type === 'status.created' ? { type: change.type, seq: change.seq } : change]);
  };

  /**
   * Deletes a status and records status.deleted in the log of everyone whose log holds it, with the
   * author locked as a post is; false when it was already gone.
   */
  async function removeRecorded(row: StatusRecord): Promise<boolean> {
    const changes = await db.transaction(async (tx) => {
      await statuses.lockUsers(tx, [row.authorId]);
      const holders = await statuses.recordedAudience(tx, row.id);
      const data = { id: row.id, authorId: row.authorId };
      const recorded = await userLog.record(tx, holders.map((userId) => ({ userId, key: `status:${row.id}`, type: 'status.deleted' as const, data })));
      return (await statuses.remove(row.id, tx)) ? recorded : null;
    });
    if (!changes) return false;
    publish(changes);
    return true;
  }

  /** The status resource, its media with signed links (the viewer was checked by the caller). */
  async function present<T extends StatusRecord>(rows: T[]) {
    const mediaRows = new Map((await media.findMany(rows.flatMap((r) => (r.mediaId ? [r.mediaId] : [])))).map((m) => [m.id, m]));
    return rows.map((row) => {
      const item = row.mediaId ? mediaRows.get(row.mediaId) : undefined;
      return {
        row,
        view: {
          id: row.id,
          authorId: row.authorId,
          type: row.type,
          body: row.body,
          media: item ? toMedia(item, media.links) : null,
          backgroundColor: row.backgroundColor,
          createdAt: row.createdAt.toISOString(),
          expiresAt: row.expiresAt.toISOString(),
        },
      };
    });
  }

  return {
    async create(actor: Actor, input: StatusInput) {
      const body = input.body?.trim() ? input.body : undefined;
      if (input.type === 'text') {
        if (!body) throw new AppError('VALIDATION_FAILED', 'A text status needs a body', {}, [{ field: 'body.body', message: 'must not be blank' }]);
        if (input.mediaId) throw new AppError('VALIDATION_FAILED', 'A text status has no media', {}, [{ field: 'body.mediaId', message: 'must be absent for text' }]);
      } else if (!input.mediaId) {
        throw new AppError('VALIDATION_FAILED', `An ${input.type} status needs mediaId`, {}, [{ field: 'body.mediaId', message: 'is required' }]);
      }
      if ((await statuses.countLive(actor.userId)) >= config.maxLive) throw new AppError('STATUS_LIMIT_REACHED', `At most ${config.maxLive} live status updates`, { max: config.maxLive });
      if (input.mediaId) await media.forMessage(actor, input.type, [input.mediaId]);
      const audience = input.audience ?? 'contacts';
      const { row, changes } = await db.transaction(async (tx) => {
        await statuses.lockUsers(tx, [actor.userId]);
        const row = await statuses.insert(
          {
        authorId: actor.userId,
        type: input.type,
        body: body ?? null,
        mediaId: input.mediaId ?? null,
        backgroundColor: input.type === 'text' ? (input.backgroundColor ?? null) : null,
        audience: typeof audience === 'string' ? 'contacts' : 'only' in audience ? 'only' : 'except',
        audienceIds: typeof audience === 'string' ? [] : 'only' in audience ? audience.only : audience.except,
        expiresAt: new Date(Date.now() + config.ttlSeconds * 1000),
          },
          tx,
        );
        // The audience as of the lock: a block or a first chat of the author's waits for this commit, or was seen.
        const readers = [actor.userId, ...(await statuses.audience(row, tx))];
        return { row, changes: await userLog.record(tx, readers.map((userId) => ({ userId, key: `status:${row.id}`, type: 'status.created' as const, statusId: row.id }))) };
      });
      if (row.mediaId) await media.attach([row.mediaId]);
      const [presented] = await present([row]);
      for (const change of changes) events.publishStream('user', change.userId, [{ ...change, data: presented!.view }]);
      return presented!.view;
    },

    /** For each contact with live statuses the caller may see: their statuses (oldest first) and what the caller saw. */
    async feed(actor: Actor) {
      const rows = await statuses.feed(actor.userId);
      const presented = await present(rows);
      const byAuthor = new Map<string, { user: ReturnType<typeof toPublicUser>; statuses: Array<(typeof presented)[number]['view'] & { seen: boolean }>; allSeen: boolean; lastAt: string }>();
      presented.forEach(({ view }, index) => {
        const row = rows[index]!;
        let entry = byAuthor.get(row.authorId);
        if (!entry) byAuthor.set(row.authorId, (entry = { user: toPublicUser(row.author), statuses: [], allSeen: true, lastAt: view.createdAt }));
        entry.statuses.push({ ...view, seen: row.seen });
        entry.allSeen &&= row.seen;
        entry.lastAt = view.createdAt;
      });
      return { items: [...byAuthor.values()].sort((a, b) => b.lastAt.localeCompare(a.lastAt)) };
    },

    async mine(actor: Actor) {
      const rows = await statuses.mine(actor.userId);
      return { items: (await present(rows)).map(({ row, view }) => ({ ...view, viewCount: row.viewCount })) };
    },

    /** Marks a status seen by the caller (idempotent; the author's own views are not counted). */
    async view(actor: Actor, id: string): Promise<void> {
      const row = await statuses.findVisible(id, actor.userId);
      if (!row) throw new AppError('STATUS_NOT_FOUND');
      if (row.authorId !== actor.userId) await statuses.recordView(id, actor.userId);
    },

    /** Who saw one of the caller's statuses, most recent first. Others' statuses: 404. */
    async viewers(actor: Actor, id: string, input: { cursor?: string; limit: number }) {
      const row = await statuses.findVisible(id, actor.userId);
      if (!row || row.authorId !== actor.userId) throw new AppError('STATUS_NOT_FOUND');
      const cursor = input.cursor ? decodeCursor(input.cursor, isViewerCursor) : undefined;
      const rows = await statuses.viewers(id, input.limit, cursor ? { at: new Date(cursor.t), id: cursor.i } : undefined);
      const page = rows.slice(0, input.limit);
      const last = page.at(-1);
      return {
        items: page.map((r) => ({ user: toPublicUser(r.user), viewedAt: r.viewedAt.toISOString() })),
        nextCursor: rows.length > input.limit && last ? encodeCursor({ t: last.viewedAt.toISOString(), i: last.user.id }) : null,
      };
    },

    async remove(actor: Actor, id: string): Promise<void> {
      const row = await statuses.findVisible(id, actor.userId);
      if (!row || row.authorId !== actor.userId) throw new AppError('STATUS_NOT_FOUND');
      if (!(await removeRecorded(row))) return;
      if (row.mediaId) await media.releaseIfUnused([row.mediaId]);
    },

    /** Deletes every live status of `authorId` (a deleted account) and tells its audience, as `remove` does. */
    async removeAllBy(authorId: string): Promise<void> {
      for (const row of await statuses.mine(authorId)) await removeRecorded(row);
    },

    /**
     * After a contact change between `a` and `b` (the caller's transaction, which changed it): locks
     * both, then records `first` (the change itself, e.g. user.blocked) and what each now may or may
     * not see of the other's statuses. Returns the changes to publish once committed.
     */
    async contactChanged(tx: Database, a: string, b: string, first: readonly UserChangeDraft[] = []): Promise<UserChange[]> {
      await statuses.lockUsers(tx, [a, b]);
      return userLog.record(tx, [...first, ...(await statuses.contactChanged(tx, a, b))]);
    },

    /** The views of live statuses by id (for the user log's status.created, read with fresh media links); expired or gone ones are absent. */
    async render(ids: readonly string[]): Promise<Map<string, Awaited<ReturnType<typeof present>>[number]['view']>> {
      if (ids.length === 0) return new Map();
      return new Map((await present(await statuses.findLive(ids))).map(({ view }) => [view.id, view]));
    },

    /**
     * In an account erasure's transaction, before its blocks and statuses go: the blockers' logs say
     * the block is gone (user.unblocked, as their block lists will), the holders of its remaining
     * statuses get status.deleted, and the account's own log goes.
     */
    async accountErased(tx: Database, userId: string): Promise<UserChange[]> {
      const blockers = await statuses.blockersOf(tx, userId);
      await statuses.lockUsers(tx, [userId, ...blockers]);
      const drafts: UserChangeDraft[] = blockers.map((blocker) => ({ userId: blocker, key: `block:${userId}`, type: 'user.unblocked' as const, data: { userId } }));
      for (const id of await statuses.liveIdsBy(tx, userId)) {
        for (const holder of await statuses.recordedAudience(tx, id)) {
          if (holder !== userId) drafts.push({ userId: holder, key: `status:${id}`, type: 'status.deleted', data: { id, authorId: userId } });
        }
      }
      await userLog.forget(tx, userId);
      return userLog.record(tx, drafts);
    },

    publish,

    /** Deletes expired statuses in batches, and the media only they used; returns how many statuses went. */
    async sweepExpired(batch = 500): Promise<number> {
      let total = 0;
      for (;;) {
        const removed = await statuses.deleteExpired(batch);
        total += removed.length;
        await media.releaseIfUnused(removed.flatMap((r) => (r.mediaId ? [r.mediaId] : [])));
        if (removed.length < batch) return total;
      }
    },
  };
}

export type StatusService = ReturnType<typeof createStatusService>;
