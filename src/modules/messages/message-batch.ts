import type { DatabaseHandle, PreparedQuery } from '../../db/client.js';
import { toDate, toDateOrNull, toNumber } from '../../db/raw.js';
import { createCoalescer } from '../../lib/coalescer.js';
import { newId } from '../../lib/ids.js';

/** A text message with nothing to check beyond the sender's right to write: no reply, forward, mentions or attachments. */
export interface PlainMessage {
  conversationId: string;
  senderId: string;
  clientId: string;
  type: string;
  body: string | null;
}

export interface BatchStored {
  id: string;
  seq: number;
  createdAt: Date;
  expiresAt: Date | null;
}

/**
 * Appends many plain messages in one statement, authorizing each in SQL: the sender is a current
 * member, the conversation is a direct chat or group that stores messages, and in a direct chat
 * the peer is active and neither side blocked the other. Conversations are locked in id order
 * (two instances' batches never deadlock), each gets one seq bump for all its messages, seqs follow
 * input order, and member rows are touched once per conversation as in the single append.
 * Answers, per input, the stored message or null when that input was not eligible or is a retry
 * of a stored clientId (the caller takes the one-message path, which explains or answers the
 * original). Only a retry racing its original in another batch still fails the whole statement
 * (a unique violation), so nothing is half-stored.
 */
const APPEND_PLAIN_BATCH = `
    with input as (
      select * from jsonb_to_recordset($1::jsonb)
        as t(ord int, id uuid, conversation_id uuid, sender_id uuid, client_id text, type text, body text)
    ), fresh as (
      -- A retried clientId (already stored, or twice in this batch) is left to the one-message path,
      -- which answers the original; it must not fail the statement for everyone else in it.
      -- A lateral probe with a limit is one index lookup per input by construction: as an anti join
      -- the planner may hash the whole table instead when its statistics are stale (a growing table,
      -- a plan cached while it was small).
      select distinct on (i.sender_id, i.client_id) i.* from input i
      left join lateral (select true as stored from messages x where x.sender_id = i.sender_id and x.client_id = i.client_id limit 1) d on true
      where d.stored is null
      order by i.sender_id, i.client_id, i.ord
    ), eligible as (
      select i.* from fresh i
      join conversations c on c.id = i.conversation_id and c.kind in ('direct', 'group') and c.retention <> 'ephemeral'
      join conversation_members m on m.conversation_id = i.conversation_id and m.user_id = i.sender_id and m.left_at is null
      where c.kind <> 'direct' or exists (
        select 1 from users p
        where p.id = (case when split_part(c.direct_key, ':', 1) = i.sender_id::text then split_part(c.direct_key, ':', 2) else split_part(c.direct_key, ':', 1) end)::uuid
          and p.status = 'active'
          and not exists (select 1 from user_blocks b where (b.blocker_id = i.sender_id and b.blocked_id = p.id) or (b.blocker_id = p.id and b.blocked_id = i.sender_id))
      )
    ), grouped as (
      -- Each conversation's inputs travel as arrays in input order from here on, so that no step joins
      -- two of these intermediate results: they have no index and the planner takes each for one row,
      -- so such a join is a nested loop, quadratic in the batch (a third of a 200-message batch's time).
      select conversation_id, count(*)::int as n, array_agg(ord order by ord) as ords, array_agg(id order by ord) as ids,
        array_agg(sender_id order by ord) as senders, array_agg(client_id order by ord) as client_ids,
        array_agg(type order by ord) as types, array_agg(body order by ord) as bodies
      from eligible group by conversation_id
    ), locked as (
      select c.id, g.n, g.ords, g.ids, g.senders, g.client_ids, g.types, g.bodies
      from grouped g join conversations c on c.id = g.conversation_id order by c.id for update of c
    ), bumped as (
      update conversations c set last_seq = c.last_seq + l.n, last_message_seq = c.last_seq + l.n, last_xid = pg_current_xact_id(), last_message_at = date_trunc('milliseconds', now())
      from locked l where c.id = l.id
      returning c.id, c.last_seq - l.n as base_seq, c.retention, c.ttl_seconds, l.ords, l.ids, l.senders, l.client_ids, l.types, l.bodies
    ), numbered as (
      select b.id as conversation_id, u.ord, u.id, u.sender_id, u.client_id, u.type, u.body, b.base_seq + u.k as seq,
        case when b.retention = 'disappearing' and b.ttl_seconds is not null
          then date_trunc('milliseconds', now()) + make_interval(secs => b.ttl_seconds) end as expires_at
      from bumped b, unnest(b.ords, b.ids, b.senders, b.client_ids, b.types, b.bodies) with ordinality as u(ord, id, sender_id, client_id, type, body, k)
    ), inserted as (
      insert into messages (id, conversation_id, seq, sender_id, client_id, type, body, mentions, created_at, expires_at)
      select id, conversation_id, seq, sender_id, client_id, type, body, '[]'::jsonb, date_trunc('milliseconds', now()), expires_at from numbered
      returning id
    ), touched as (
      -- A sender has read and received up to its own last message in the batch.
      update conversation_members m set activity_at = date_trunc('milliseconds', now()),
        (read_seq, delivered_seq) = (
          select coalesce(own.seq, m.read_seq), coalesce(own.seq, m.delivered_seq)
          from (select max(b.base_seq + s.k) as seq from unnest(b.senders) with ordinality as s(sender_id, k) where s.sender_id = m.user_id) own)
      from bumped b where m.conversation_id = b.id and m.left_at is null
    )
    select ord, id, seq::text as seq, date_trunc('milliseconds', now()) as created_at, expires_at
    from numbered`;

async function appendPlainBatch(query: PreparedQuery, inputs: PlainMessage[]): Promise<Array<BatchStored | null>> {
  const payload = JSON.stringify(
    inputs.map((m, ord) => ({ ord, id: newId(), conversation_id: m.conversationId, sender_id: m.senderId, client_id: m.clientId, type: m.type, body: m.body })),
  );
  const stored = new Array<BatchStored | null>(inputs.length).fill(null);
  for (const row of await query([payload])) {
    stored[Number(row.ord)] = { id: String(row.id), seq: toNumber(row.seq), createdAt: toDate(row.created_at), expiresAt: toDateOrNull(row.expires_at) };
  }
  return stored;
}

/** Limits of the send coalescer: a batch is one statement and one commit. */
const BATCH = { maxBatch: 200, maxInFlight: 2 };

/**
 * The coalescing front of appendPlainBatch: concurrent sends on this instance (REST or socket) share
 * statements and commits. `append` rejects when the batch failed as a whole (e.g. a retried
 * clientId in it); the caller then appends that message alone.
 */
export function createMessageBatcher(database: DatabaseHandle) {
  const query = database.prepared('append_plain_batch', APPEND_PLAIN_BATCH);
  const coalescer = createCoalescer((inputs: PlainMessage[]) => appendPlainBatch(query, inputs), BATCH);
  return { append: (message: PlainMessage) => coalescer.submit(message) };
}

export type MessageBatcher = ReturnType<typeof createMessageBatcher>;
