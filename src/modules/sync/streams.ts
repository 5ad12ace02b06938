import type { StreamName } from '../../events/chat-events.js';
import { deleteInBatches } from '../../lib/in-batches.js';
import type { AnnouncementRepository } from '../announcements/announcement.repository.js';
import { announcementEvent } from '../announcements/announcements.service.js';
import type { StatusService } from '../status/status.service.js';
import type { UserLog } from '../users/user-log.js';

/** An event of a stream as a reader gets it. */
export interface StreamItem {
  type: string;
  seq: number;
  data: unknown;
}

export interface StreamPage {
  items: StreamItem[];
  /** Every seq at or below it is settled (see LogPage). */
  upTo: number;
  more: boolean;
}

export const STREAMS: readonly StreamName[] = ['announcements', 'user'];

/**
 * Reads of the two logs that belong to no conversation, for the socket's lanes and for /sync: the
 * caller's own log (status.created rendered now, with fresh media links) and the announcements log.
 */
export function createStreams(deps: { userLog: UserLog; announcements: Pick<AnnouncementRepository, 'page' | 'head' | 'position'>; statuses: Pick<StatusService, 'render'> }) {
  const { userLog, announcements, statuses } = deps;

  return {
    async read(input: { stream: StreamName; userId: string; after: number; limit: number; visibleIn?: string }): Promise<StreamPage> {
      const window = { after: input.after, limit: input.limit, ...(input.visibleIn === undefined ? {} : { visibleIn: input.visibleIn }) };
      if (input.stream === 'announcements') {
        const page = await announcements.page(window);
        return { items: page.rows.map(announcementEvent), upTo: page.upTo, more: page.more };
      }
      const page = await userLog.page({ userId: input.userId, ...window });
      const views = await statuses.render(page.rows.flatMap((row) => (row.type === 'status.created' && row.statusId ? [row.statusId] : [])));
      const items: StreamItem[] = [];
      for (const row of page.rows) {
        const data = row.type === 'status.created' ? views.get(row.statusId!) : row.data;
        if (data !== undefined) items.push({ type: row.type, seq: row.seq, data });
      }
      return { items, upTo: page.upTo, more: page.more };
    },

    head: (stream: StreamName, userId: string): Promise<number> => (stream === 'announcements' ? announcements.head() : userLog.head(userId)),

    /** Deletes the user logs' tombstones older than `before`, in batches; returns how many went. */
    sweepTombstones: (before: Date, batch = 1000): Promise<number> => deleteInBatches(batch, (n) => userLog.sweepTombstones(before, n)),

    position: (stream: StreamName, userId: string, since: string) => (stream === 'announcements' ? announcements.position(since) : userLog.position(userId, since)),
  };
}

export type Streams = ReturnType<typeof createStreams>;
