import { type SQL, and, asc, desc, eq, getTableColumns, gt, inArray, isNull, lt, lte, or, sql } from 'drizzle-orm';
import { alias } from 'drizzle-orm/pg-core';
import type { Database } from '../../db/client.js';
import { jsonRecordReader } from '../../db/json-records.js';
import { rowsOf, toDate, toDateOrNull, toNumber } from '../../db/raw.js';
import { type MessageAttachment, messageHides, messagePins, messageReactions, messageVersions, messages } from '../../db/schema.js';
import { newId } from '../../lib/ids.js';
import { UNREAD_COUNT_CAP } from '../../schemas/chat.js';
import type { MessageRow, ReplyRecord } from './message.views.js';

/** Seqs a member may see: (lower, upper]; upper null while they are a member. */
export interface SeqWindow {
  lower: number;
  upper: number | null;
  /**
   * Where the membership began, when it is below `lower` (a cleared history): clearing hides the
   * messages up to `lower`, not the changes made since the join (renames, members, receipts).
   */
  joined?: number;
}

export interface NewMessage {
  conversationId: string;
  senderId: string;
  clientId: string;
  type: string;
  body: string | null;
  replyToId: string | null;
  forwardFromId: string | null;
  mentions: string[];
  metadata?: Record<string, unknown> | null;
  attachments?: MessageAttachment[];
  ttlSeconds: number | null;
}

const reply = alias(messages, 'reply');
const { searchVector: _searchVector, xid: _xid, ...messageColumns } = getTableColumns(messages);
const replyColumns = { id: reply.id, seq: reply.seq, senderId: reply.senderId, type: reply.type, body: reply.body, deletedAt: reply.deletedAt };
const readMessageJson = jsonRecordReader<Omit<MessageRow, 'reply'>>(messageColumns);
const readReplyJson = jsonRecordReader<ReplyRecord>(replyColumns);
/** The columns of replyColumns of the message row `r`, as JSON for readReplyJson (column names come from the schema). */
const replyJsonOf = (r: string) => sql.raw(`jsonb_build_object(${Object.values(replyColumns).map((c) => `'${c.name}', ${r}.${c.name}`).join(', ')})`);

/** A message row that `lastMessageJsonOf` wrote. */
export function messageRowFromJson(json: Record<string, unknown>): MessageRow {
  const replied = json.reply as Record<string, unknown> | null;
  return { ...readMessageJson(json), reply: replied ? readReplyJson(replied) : null };
}

/**
 * The last live message of a conversation in (lower, upTo] (SQL expressions), as JSON for
 * messageRowFromJson. One backward step on (conversation_id, seq),
 * whatever the length of the history.
 */
export const lastMessageJsonOf = (w: { conversationId: SQL; lower: SQL; upTo: SQL }) => sql`(
  select (to_jsonb(m) - 'search_vector' - 'xid') || jsonb_build_object('reply', (
    select ${replyJsonOf('r')} from messages r where r.id = m.reply_to_id))
  from messages m
  where m.conversation_id = ${w.conversationId} and m.seq > ${w.lower} and m.seq <= ${w.upTo} and (m.expires_at is null or m.expires_at > now())
  order by m.seq desc limit 1
)`;

const notExpired = or(isNull(messages.expiresAt), gt(messages.expiresAt, sql`now()`));

function inWindow(window: SeqWindow) {
  return and(gt(messages.seq, window.lower), window.upper === null ? undefined : lte(messages.seq, window.upper));
}

/** The `messages.reactions` summary of a message, computed from message_reactions: first used emoji first. */
export const reactionSummaryOf = (messageId: SQL) => sql`coalesce((
  select jsonb_agg(jsonb_build_object('emoji', emoji, 'count', n) order by first_at, emoji)
  from (select emoji, count(*)::int as n, min(created_at) as first_at from message_reactions where message_id = ${messageId} group by emoji) s
), '[]'::jsonb)`;

/**
 * The unread count of a viewer's window (after, upTo] of a conversation (SQL expressions): the
 * messages in it that the viewer's history shows and that still ask to be read,
 * i.e. not their own, not deleted for everyone, not hidden by them, not expired. It reads at most
 * UNREAD_COUNT_CAP index entries, so its cost follows the unread backlog (capped), never the history.
 */
export const unreadCountOf = (w: { viewerId: SQL; conversationId: SQL; after: SQL; upTo: SQL }) => sql`(
  select count(*) from (
    select 1 from messages m
    where m.conversation_id = ${w.conversationId} and m.seq > ${w.after} and m.seq <= ${w.upTo}
      and m.deleted_at is null and m.sender_id is distinct from ${w.viewerId}
      and (m.expires_at is null or m.expires_at > now())
      and not exists (select 1 from message_hides h where h.user_id = ${w.viewerId} and h.message_id = m.id)
    limit ${sql.raw(String(UNREAD_COUNT_CAP))}
  ) unread
)::int`;

/** The durable log: every read walks (conversation_id, seq) or a primary key, never a whole history. */
export function createMessageRepository(db: Database) {
  /** Message rows with their replied-to message; `extra` adds computed fields to each. */
  const selectRows = <Extra extends Record<string, SQL>>(tx: Database = db, extra = {} as Extra) =>
    tx.select({ ...messageColumns, reply: replyColumns, ...extra }).from(messages).leftJoin(reply, eq(reply.id, messages.replyToId));

  return {
    /** A live message (expired ones no longer exist for anyone). */
    async findById(id: string, tx: Database = db): Promise<MessageRow | undefined> {
      const [row] = await selectRows(tx).where(and(eq(messages.id, id), notExpired));
      return row;
    },

    async findByClientId(senderId: string, clientId: string): Promise<MessageRow | undefined> {
      const [row] = await selectRows().where(and(eq(messages.senderId, senderId), eq(messages.clientId, clientId)));
      return row;
    },

    /**
     * The unread count (unreadCountOf) of each (viewer, conversation) window, in input order. One
     * statement for any number of windows, of any number of viewers.
     */
    async unreadCounts(windows: ReadonlyArray<{ viewerId: string; conversationId: string; after: number; upTo: number }>): Promise<number[]> {
      const counts = windows.map(() => 0);
      const open = windows.flatMap((w, i) => (w.upTo > w.after ? [{ i, viewer_id: w.viewerId, conversation_id: w.conversationId, after: w.after, up_to: w.upTo }] : []));
      if (open.length === 0) return counts;
      const result = await db.execute(sql`
        select w.i, ${unreadCountOf({ viewerId: sql`w.viewer_id`, conversationId: sql`w.conversation_id`, after: sql`w.after`, upTo: sql`w.up_to` })} as unread
        from jsonb_to_recordset(${JSON.stringify(open)}::jsonb) as w(i int, viewer_id uuid, conversation_id uuid, after bigint, up_to bigint)`);
      for (const row of rowsOf<{ i: number; unread: number | string }>(result)) counts[Number(row.i)] = Number(row.unread);
      return counts;
    },

    /**
     * Appends a message in one statement: bumps the conversation's seq, inserts the row with it, and
     * touches the members (inbox order; the sender's receipts move to their own message). A duplicate
     * (sender, clientId) fails the whole statement with a unique violation, so no seq is consumed.
     * `store: false` (ephemeral conversations) takes a seq and touches members but stores nothing.
     * Its attachments are marked attached (no longer orphans) in the same statement.
     */
    async append(input: NewMessage, store = true): Promise<{ id: string; seq: number; createdAt: Date; expiresAt: Date | null }> {
      const id = newId();
      const ttl = input.ttlSeconds;
      // The media are marked attached by this same statement: a send that fails leaves them orphans.
      const attachmentIds = (input.attachments ?? []).map((a) => a.id);
      const head = sql`
        with bumped as (
          update conversations set last_seq = last_seq + 1, last_message_seq = last_seq + 1, last_xid = pg_current_xact_id(), last_message_at = date_trunc('milliseconds', now())
          where id = ${input.conversationId} returning last_seq
        ), touched as (
          update conversation_members m set activity_at = date_trunc('milliseconds', now()),
            read_seq = case when m.user_id = ${input.senderId} then b.last_seq else m.read_seq end,
            delivered_seq = case when m.user_id = ${input.senderId} then b.last_seq else m.delivered_seq end
          from bumped b where m.conversation_id = ${input.conversationId} and m.left_at is null
        )${
          attachmentIds.length > 0
            ? sql`, attached as (
          update media set attached_at = coalesce(attached_at, now())
          where id in (${sql.join(attachmentIds.map((id) => sql`${id}::uuid`), sql`, `)}) and exists (select 1 from bumped)
        )`
            : sql``
        }`;
      const statement = store
        ? sql`${head}
          insert into messages (id, conversation_id, seq, sender_id, client_id, type, body, reply_to_id, forward_from_id, mentions, metadata, attachments, created_at, expires_at)
          select ${id}, ${input.conversationId}, b.last_seq, ${input.senderId}, ${input.clientId}, ${input.type}, ${input.body},
            ${input.replyToId}, ${input.forwardFromId}, ${JSON.stringify(input.mentions)}::jsonb, ${input.metadata ? JSON.stringify(input.metadata) : null}::jsonb,
            ${JSON.stringify(input.attachments ?? [])}::jsonb, date_trunc('milliseconds', now()),
            case when ${ttl}::int is null then null else date_trunc('milliseconds', now()) + make_interval(secs => ${ttl}::int) end
          from bumped b
          returning id, seq::text as seq, created_at, expires_at`
        : sql`${head} select ${id}::uuid as id, last_seq::text as seq, date_trunc('milliseconds', now()) as created_at, null::timestamptz as expires_at from bumped`;
      const [row] = rowsOf(await db.execute(statement));
      if (!row) throw new Error(`conversation ${input.conversationId} vanished during a send`);
      return { id: String(row.id), seq: toNumber(row.seq), createdAt: toDate(row.created_at), expiresAt: toDateOrNull(row.expires_at) };
    },

    /**
     * A page in ascending seq within the viewer's window, minus what they hid (and, with `visibleIn`,
     * what that snapshot does not see). Without `after` it reads
     * downwards from `before` (or the end), so the newest page is the default. Reads limit + 1 rows to
     * tell whether more exist on the far side. Each row carries the viewer's own reactions
     * (`myReactions`, oldest first, null for none).
     */
    async page(input: { conversationId: string; viewerId: string; window: SeqWindow; before?: number; after?: number; limit: number; visibleIn?: string }) {
      const hidden = sql`not exists (select 1 from ${messageHides} h where h.user_id = ${input.viewerId} and h.message_id = ${messages.id})`;
      const where = and(
        eq(messages.conversationId, input.conversationId),
        inWindow(input.window),
        input.before !== undefined ? lt(messages.seq, input.before) : undefined,
        input.after !== undefined ? gt(messages.seq, input.after) : undefined,
        notExpired,
        hidden,
        input.visibleIn === undefined ? undefined : sql`(${messages.xid} is null or pg_visible_in_snapshot(${messages.xid}, ${input.visibleIn}::pg_snapshot))`,
      );
      const upwards = input.after !== undefined;
      const myReactions = sql<string[] | null>`(select array_agg(r.emoji order by r.created_at, r.emoji) from ${messageReactions} r where r.message_id = ${messages.id} and r.user_id = ${input.viewerId})`;
      const rows = await selectRows(db, { myReactions })
        .where(where)
        .orderBy(upwards ? asc(messages.seq) : desc(messages.seq))
        .limit(input.limit + 1);
      const more = rows.length > input.limit;
      const page = rows.slice(0, input.limit);
      if (!upwards) page.reverse();
      return { rows: page, more, upwards };
    },

    async isHidden(userId: string, messageId: string): Promise<boolean> {
      const [row] = await db.select({ one: sql`1` }).from(messageHides).where(and(eq(messageHides.userId, userId), eq(messageHides.messageId, messageId)));
      return row !== undefined;
    },

    /** True when the message was not hidden for the user before. Runs in the caller's transaction. */
    async hide(userId: string, messageId: string, tx: Database): Promise<boolean> {
      const added = await tx.insert(messageHides).values({ userId, messageId }).onConflictDoNothing().returning({ id: messageHides.messageId });
      return added.length > 0;
    },

    /** Replaces the body, keeping the previous one as the next version. False when the message is deleted. Runs in the caller's transaction. */
    async edit(id: string, body: string, tx: Database): Promise<boolean> {
      const [current] = await tx.select({ body: messages.body, createdAt: messages.createdAt, editedAt: messages.editedAt }).from(messages).where(and(eq(messages.id, id), isNull(messages.deletedAt))).for('update');
      if (!current) return false;
      const [last] = await tx.select({ version: sql<number>`coalesce(max(${messageVersions.version}), 0)::int` }).from(messageVersions).where(eq(messageVersions.messageId, id));
      await tx.insert(messageVersions).values({ messageId: id, version: (last?.version ?? 0) + 1, body: current.body, createdAt: current.editedAt ?? current.createdAt });
      await tx.update(messages).set({ body, editedAt: new Date() }).where(eq(messages.id, id));
      return true;
    },

    versions(messageId: string) {
      return db.select().from(messageVersions).where(eq(messageVersions.messageId, messageId)).orderBy(asc(messageVersions.version));
    },

    /**
     * The tombstone keeps id, seq, sender and times; content, reactions, pins and versions go. False
     * when it was deleted already. Runs in the caller's transaction.
     */
    async deleteForEveryone(id: string, tx: Database): Promise<boolean> {
      const deleted = await tx
        .update(messages)
        .set({ deletedAt: new Date(), body: null, mentions: null, metadata: null, reactions: [] })
        .where(and(eq(messages.id, id), isNull(messages.deletedAt)))
        .returning({ id: messages.id });
      if (deleted.length === 0) return false;
      await tx.delete(messageReactions).where(eq(messageReactions.messageId, id));
      await tx.delete(messagePins).where(eq(messagePins.messageId, id));
      await tx.delete(messageVersions).where(eq(messageVersions.messageId, id));
      return true;
    },

    /**
     * Adds or removes one reaction and rewrites the message's summary, in the caller's transaction.
     * Returns null when adding would exceed `maxPerUser` different emojis.
     */
    async react(input: { messageId: string; userId: string; emoji: string; add: boolean; maxPerUser: number }, tx: Database) {
      await tx.select({ id: messages.id }).from(messages).where(eq(messages.id, input.messageId)).for('update');
      const mine = await tx.select({ emoji: messageReactions.emoji }).from(messageReactions).where(and(eq(messageReactions.messageId, input.messageId), eq(messageReactions.userId, input.userId)));
      const has = mine.some((r) => r.emoji === input.emoji);
      if (input.add && !has) {
        if (mine.length >= input.maxPerUser) return null;
        await tx.insert(messageReactions).values({ messageId: input.messageId, userId: input.userId, emoji: input.emoji });
      } else if (!input.add && has) {
        await tx.delete(messageReactions).where(and(eq(messageReactions.messageId, input.messageId), eq(messageReactions.userId, input.userId), eq(messageReactions.emoji, input.emoji)));
      }
      const [summary] = rowsOf<{ reactions: Array<{ emoji: string; count: number }> }>(
        await tx.execute(sql`
          update messages set reactions = ${reactionSummaryOf(sql`${input.messageId}::uuid`)}
          where id = ${input.messageId} returning reactions`),
      );
      const myReactions = input.add ? [...new Set([...mine.map((r) => r.emoji), input.emoji])] : mine.map((r) => r.emoji).filter((e) => e !== input.emoji);
      return { reactions: summary?.reactions ?? [], myReactions, changed: input.add !== has };
    },

    /** Every reaction of a user, with its message's conversation (an account erasure takes them back one by one). */
    async reactionsBy(userId: string): Promise<Array<{ messageId: string; conversationId: string; emoji: string }>> {
      return db
        .select({ messageId: messageReactions.messageId, conversationId: messages.conversationId, emoji: messageReactions.emoji })
        .from(messageReactions)
        .innerJoin(messages, eq(messages.id, messageReactions.messageId))
        .where(eq(messageReactions.userId, userId))
        .orderBy(asc(messages.conversationId), asc(messageReactions.messageId));
    },

    /** Pins a message unless the conversation already has `max` pins; in the caller's transaction, which holds the conversation's lock. */
    async pin(input: { conversationId: string; messageId: string; by: string; max: number }, tx: Database): Promise<'pinned' | 'already' | 'full'> {
      const existing = await tx.select({ id: messagePins.messageId }).from(messagePins).where(eq(messagePins.messageId, input.messageId));
      if (existing.length > 0) return 'already';
      const [count] = await tx.select({ n: sql<number>`count(*)::int` }).from(messagePins).where(eq(messagePins.conversationId, input.conversationId));
      if ((count?.n ?? 0) >= input.max) return 'full';
      await tx.insert(messagePins).values({ conversationId: input.conversationId, messageId: input.messageId, pinnedBy: input.by, pinnedAt: new Date() });
      return 'pinned';
    },

    async unpin(messageId: string, tx: Database): Promise<boolean> {
      const removed = await tx.delete(messagePins).where(eq(messagePins.messageId, messageId)).returning({ id: messagePins.messageId });
      return removed.length > 0;
    },

    /** Pins whose message the viewer can see, newest pin first (bounded by the pin limit). */
    async pins(conversationId: string, window: SeqWindow) {
      const pins = await db
        .select({ messageId: messagePins.messageId, pinnedBy: messagePins.pinnedBy, pinnedAt: messagePins.pinnedAt })
        .from(messagePins)
        .where(eq(messagePins.conversationId, conversationId))
        .orderBy(desc(messagePins.pinnedAt), desc(messagePins.messageId));
      if (pins.length === 0) return [];
      const rows = new Map((await selectRows().where(and(inArray(messages.id, pins.map((p) => p.messageId)), inWindow(window), notExpired))).map((r) => [r.id, r]));
      return pins.flatMap((pin) => {
        const message = rows.get(pin.messageId);
        return message ? [{ message, pinnedBy: pin.pinnedBy, pinnedAt: pin.pinnedAt }] : [];
      });
    },

    /**
     * Full-text search over the conversations the viewer is or was in, within each membership window,
     * newest first. Uses the GIN index on search_vector; `after` is the previous page's last (createdAt, id).
     */
    async search(input: { viewerId: string; q: string; conversationId?: string; after?: { at: Date; id: string }; limit: number }) {
      const rows = rowsOf<{ id: string }>(
        await db.execute(sql`
          select m.id from messages m
          join conversation_members cm on cm.conversation_id = m.conversation_id and cm.user_id = ${input.viewerId}
          where m.search_vector @@ plainto_tsquery('simple', ${input.q})
            and m.deleted_at is null and (m.expires_at is null or m.expires_at > now())
            and m.seq > greatest(cm.joined_seq, cm.cleared_seq) and (cm.left_seq is null or m.seq <= cm.left_seq)
            ${input.conversationId ? sql`and m.conversation_id = ${input.conversationId}` : sql``}
            ${input.after ? sql`and (m.created_at, m.id) < (${input.after.at.toISOString()}::timestamptz, ${input.after.id}::uuid)` : sql``}
            and not exists (select 1 from message_hides h where h.user_id = ${input.viewerId} and h.message_id = m.id)
          order by m.created_at desc, m.id desc
          limit ${input.limit + 1}`),
      );
      if (rows.length === 0) return [];
      const byId = new Map((await selectRows().where(inArray(messages.id, rows.map((r) => String(r.id))))).map((row) => [row.id, row]));
      return rows.map((r) => byId.get(String(r.id))).filter((row): row is MessageRow => row !== undefined);
    },

    /** Deletes up to `batch` expired messages; returns how many. */
    async deleteExpired(batch: number): Promise<number> {
      const result = await db.execute(sql`
        delete from messages where id in (select id from messages where expires_at is not null and expires_at <= now() limit ${batch})
        returning id`);
      return rowsOf(result).length;
    },
  };
}

export type MessageRepository = ReturnType<typeof createMessageRepository>;
