import { getTableColumns, sql } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { jsonRecordReader } from '../../db/json-records.js';
import { rowsOf } from '../../db/raw.js';
import { users } from '../../db/schema.js';
import { lastMessageJsonOf, messageRowFromJson, unreadCountOf } from '../messages/message.repository.js';
import type { MessageRow } from '../messages/message.views.js';
import type { UserRecord } from './conversation.repository.js';

/** What a conversation resource shows besides its own and its member's rows. */
export interface ExtrasWindow {
  conversationId: string;
  viewerId: string;
  /** The other member of a direct conversation. */
  peerId: string | null;
  /** The seqs the last message is looked for in: (lower, upTo]. */
  lower: number;
  upTo: number;
  /** The unread window: (unreadAfter, unreadUpTo]. */
  unreadAfter: number;
  unreadUpTo: number;
}

export interface Extras {
  peer: UserRecord | null;
  preview: UserRecord[];
  lastMessage: MessageRow | null;
  unreadCount: number;
}

/** Members shown with a conversation (broadcast lists: recipients). */
const PREVIEW_SIZE = 5;
const previewLimit = sql.raw(String(PREVIEW_SIZE));

const readUser = jsonRecordReader<UserRecord>(getTableColumns(users));

/**
 * The extras of any number of conversation views in one statement, so a page of the inbox costs the
 * same number of round trips whatever its size: the peer, up to PREVIEW_SIZE current members earliest
 * first, the last live message and the unread count, each from an index.
 */
export function createConversationExtrasRepository(db: Database) {
  return {
    async extras(windows: readonly ExtrasWindow[]): Promise<Extras[]> {
      if (windows.length === 0) return [];
      const input = JSON.stringify(
        windows.map((w, i) => ({ i, conversation_id: w.conversationId, viewer_id: w.viewerId, peer_id: w.peerId, lower: w.lower, up_to: w.upTo, after: w.unreadAfter, unread_up_to: w.unreadUpTo })),
      );
      const result = await db.execute(sql`
        select w.i,
          (select to_jsonb(u) from users u where u.id = w.peer_id) as peer,
          (select coalesce(jsonb_agg(pu.u order by p.at, p.uid), '[]'::jsonb) from (
            (select user_id as uid, joined_at as at from conversation_members where conversation_id = w.conversation_id and left_at is null order by joined_at, user_id limit ${previewLimit})
            union all
            (select user_id as uid, created_at as at from broadcast_recipients where conversation_id = w.conversation_id order by created_at, user_id limit ${previewLimit})
            order by at, uid limit ${previewLimit}
          ) p
          -- One primary-key probe per member shown, by construction (a subquery with a limit is never
          -- turned into a join): as a join, the planner hashed the whole users table for each row.
          cross join lateral (select to_jsonb(u) as u from users u where u.id = p.uid limit 1) pu) as preview,
          ${lastMessageJsonOf({ conversationId: sql`w.conversation_id`, lower: sql`w.lower`, upTo: sql`w.up_to` })} as last_message,
          ${unreadCountOf({ viewerId: sql`w.viewer_id`, conversationId: sql`w.conversation_id`, after: sql`w.after`, upTo: sql`w.unread_up_to` })} as unread
        from jsonb_to_recordset(${input}::jsonb) as w(i int, conversation_id uuid, viewer_id uuid, peer_id uuid, lower bigint, up_to bigint, after bigint, unread_up_to bigint)`);
      const extras: Extras[] = windows.map(() => ({ peer: null, preview: [], lastMessage: null, unreadCount: 0 }));
      for (const row of rowsOf<{ i: number; peer: Record<string, unknown> | null; preview: Array<Record<string, unknown>>; last_message: Record<string, unknown> | null; unread: number | string }>(result)) {
        extras[Number(row.i)] = {
          peer: row.peer ? readUser(row.peer) : null,
          preview: row.preview.map(readUser),
          lastMessage: row.last_message ? messageRowFromJson(row.last_message) : null,
          unreadCount: Number(row.unread),
        };
      }
      return extras;
    },
  };
}

export type ConversationExtrasRepository = ReturnType<typeof createConversationExtrasRepository>;
