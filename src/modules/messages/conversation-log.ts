import type { ChangeLog } from '../conversations/change-log.js';
import type { MessageRepository, SeqWindow } from './message.repository.js';
import { toMessage } from './message.views.js';

/** An event of a conversation's log: a stored message (`message.created`) or a recorded change. */
export interface LogEvent {
  seq: number;
  type: string;
  data: unknown;
}

/** Rows of each kind one read takes at most. */
export const LOG_PAGE = 100;

/**
 * A conversation's log as one reader may see it: stored messages and recorded changes, merged in seq
 * order. The socket's delivery lanes and GET /sync read it through here.
 */
export function createConversationLog(deps: { messages: MessageRepository; changeLog: ChangeLog }) {
  const { messages, changeLog } = deps;
  return {
    /**
     * Events in (after, head] within the reader's window, at most `limit` of each kind, oldest first.
     * `head` must be a seq the log had committed (with every seq below it) when the read began.
     * `visibleIn`: only rows that this snapshot sees (a paged sync stops at one point in time).
     * `upTo`: every seq at or below it is settled for this reader (returned, or not theirs to see);
     * `more`: the page stopped at `upTo` before `head`.
     */
    async read(input: { conversationId: string; viewerId: string; window: SeqWindow; after: number; head: number; limit?: number; visibleIn?: string }) {
      const { conversationId, viewerId, after, head } = input;
      const limit = Math.min(input.limit ?? LOG_PAGE, LOG_PAGE);
      const window = { ...input.window, upper: Math.min(input.window.upper ?? head, head) };
      const visibleIn = input.visibleIn === undefined ? {} : { visibleIn: input.visibleIn };
      const page = await messages.page({ conversationId, viewerId, window, after, limit, ...visibleIn });
      const recorded = await changeLog.page({ conversationId, viewerId, window, after, upTo: head, limit, ...visibleIn });
      // A source with more rows is complete only up to its last row; the merged page ends at the lower of those.
      const cutoff = Math.min(page.more ? page.rows.at(-1)!.seq : Infinity, recorded.more ? recorded.rows.at(-1)!.seq : Infinity);
      let more = cutoff !== Infinity;
      let upTo = more ? cutoff : Math.max(after, head);
      let items: LogEvent[] = [
        ...page.rows.map((row) => ({ seq: row.seq, type: 'message.created', data: toMessage(row) })),
        ...recorded.rows.map((change) => ({ seq: change.seq, type: change.type as string, data: change.data })),
      ]
        .filter((item) => item.seq <= upTo)
        .sort((a, b) => a.seq - b.seq);
      if (items.length > limit) {
        items = items.slice(0, limit);
        upTo = items.at(-1)!.seq;
        more = true;
      }
      return { items, more, upTo };
    },
  };
}

export type ConversationLog = ReturnType<typeof createConversationLog>;
