import { sql } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { rowsOf, toNumber } from '../../db/raw.js';
import { AppError } from '../../errors.js';
import type { ChatEventType } from '../../events/chat-events.js';
import type { SeqWindow } from '../messages/message.repository.js';

/** A change to record: what changed (`key`, see conversation_changes), its event, and who may see it. */
export interface ChangeDraft {
  key: string;
  type: ChatEventType;
  data: unknown;
  /** Only this user sees the change (a hide, their own settings); everyone in the window otherwise. */
  audienceUserId?: string | null;
  /** The message the change is about: the record goes when the message goes. */
  messageId?: string | null;
}

export interface RecordedChange extends ChangeDraft {
  conversationId: string;
  seq: number;
  /** The seq of the message the change is about: a socket passes over it for a member whose history starts after that message. */
  messageSeq?: number;
}

/** What a write's work returns: its result, and the changes it made, in the order they happened. */
export interface WorkOutcome<T> {
  result: T;
  changes: ChangeDraft[];
}

/**
 * The one way a conversation-visible change is written. `write` runs the work in a transaction that
 * first locks the conversation's row (every writer, sends included, locks the conversation before
 * anything else, so no two writers wait on each other in opposite orders), then records the changes
 * the work returns with the conversation's next seqs: committed together or not at all, and in seq
 * order = commit order. `nextSeq` tells the work the seq its first change will take.
 */
export function createChangeLog(db: Database) {
  return {
    async write<T>(conversationId: string, work: (tx: Database, nextSeq: number) => Promise<WorkOutcome<T>>): Promise<{ result: T; changes: RecordedChange[] }> {
      return db.transaction(async (tx) => {
        // NO KEY UPDATE: what a send's UPDATE of last_seq takes, so writers queue; inserts that only reference the conversation do not wait.
        const [locked] = rowsOf<{ last_seq: unknown }>(await tx.execute(sql`select last_seq from conversations where id = ${conversationId} for no key update`));
        if (!locked) throw new AppError('CONVERSATION_NOT_FOUND');
        const first = toNumber(locked.last_seq) + 1;
        const { result, changes } = await work(tx as unknown as Database, first);
        if (changes.length === 0) return { result, changes: [] };
        const aboutIds = [...new Set(changes.flatMap((change) => (change.messageId ? [change.messageId] : [])))];
        const messageSeqs = new Map(
          aboutIds.length === 0
            ? []
            : rowsOf<{ id: string; seq: unknown }>(await tx.execute(sql`select id, seq from messages where id in (${sql.join(aboutIds.map((id) => sql`${id}::uuid`), sql`, `)})`)).map(
                (row) => [String(row.id), toNumber(row.seq)] as const,
              ),
        );
        const recorded = changes.map((change, index): RecordedChange => {
          const messageSeq = change.messageId ? messageSeqs.get(change.messageId) : undefined;
          return { ...change, conversationId, seq: first + index, ...(messageSeq === undefined ? {} : { messageSeq }) };
        });
        const rows = JSON.stringify(
          recorded.map((c) => ({ key: c.key, seq: c.seq, type: c.type, data: c.data ?? null, audience_user_id: c.audienceUserId ?? null, message_id: c.messageId ?? null })),
        );
        await tx.execute(sql`
          with bumped as (update conversations set last_seq = ${first + changes.length - 1}, last_xid = pg_current_xact_id() where id = ${conversationId})
          insert into conversation_changes as c (conversation_id, key, seq, type, data, audience_user_id, message_id, changed_at)
          select ${conversationId}, r.key, r.seq, r.type, r.data, r.audience_user_id, r.message_id, now()
          from jsonb_to_recordset(${rows}::jsonb) as r(key text, seq bigint, type text, data jsonb, audience_user_id uuid, message_id uuid)
          on conflict (conversation_id, key) do update set seq = excluded.seq, type = excluded.type, data = excluded.data,
            audience_user_id = excluded.audience_user_id, message_id = excluded.message_id, changed_at = excluded.changed_at, xid = pg_current_xact_id()`);
        return { result, changes: recorded };
      });
    },

    /**
     * Changes in (after, upTo] that `viewerId` may see within their window, ascending, at most
     * `limit` + 1 rows (the extra one tells that more exist). Walks (conversation_id, seq). A change
     * about a message is theirs only while the message is: in their window (joined, cleared, left),
     * not expired; other changes count from the join (a clear hides messages, not the rest). (One they hid themselves stays theirs, as in the pins list: they saw it.)
     * `visibleIn`: only changes that this snapshot sees.
     */
    async page(input: { conversationId: string; viewerId: string; window: SeqWindow; after: number; upTo: number; limit: number; visibleIn?: string }) {
      const lower = Math.max(input.after, input.window.joined ?? input.window.lower);
      const upper = input.window.upper === null ? input.upTo : Math.min(input.upTo, input.window.upper);
      if (upper <= lower) return { rows: [] as RecordedChange[], more: false };
      const { window, viewerId } = input;
      const rows = rowsOf<{ seq: unknown; type: string; data: unknown; key: string; audience_user_id: string | null }>(
        await db.execute(sql`
          select c.seq, c.type, c.data, c.key, c.audience_user_id from conversation_changes c
          left join messages m on m.id = c.message_id
          where c.conversation_id = ${input.conversationId} and c.seq > ${lower} and c.seq <= ${upper}
            and (c.audience_user_id is null or c.audience_user_id = ${viewerId})
            ${input.visibleIn === undefined ? sql`` : sql`and (c.xid is null or pg_visible_in_snapshot(c.xid, ${input.visibleIn}::pg_snapshot))`}
            and (c.message_id is null or (
              m.seq > ${window.lower} ${window.upper === null ? sql`` : sql`and m.seq <= ${window.upper}`}
              and (m.expires_at is null or m.expires_at > now())))
          order by c.seq limit ${input.limit + 1}`),
      );
      const changes = rows.slice(0, input.limit).map(
        (r): RecordedChange => ({ conversationId: input.conversationId, seq: toNumber(r.seq), type: r.type as ChatEventType, data: r.data, key: r.key, audienceUserId: r.audience_user_id }),
      );
      return { rows: changes, more: rows.length > input.limit };
    },
  };
}

export type ChangeLog = ReturnType<typeof createChangeLog>;
