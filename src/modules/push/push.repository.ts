import { and, asc, count, eq, sql } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { arrayLiteral, rowsOf, toNumber } from '../../db/raw.js';
import { pushDevices } from '../../db/schema.js';
import { newId } from '../../lib/ids.js';

export type PushDeviceRow = typeof pushDevices.$inferSelect;
export type NewPushDevice = Pick<PushDeviceRow, 'userId' | 'sessionId' | 'platform' | 'token' | 'p256dh' | 'auth' | 'appId' | 'locale'>;

/** A claimed delivery with what its push needs, read when it is due (so it reflects edits, deletes, receipts and mutes since). */
export interface DueDelivery {
  kind: 'message' | 'retract';
  /** The recipient lets pushes show the sender and text (their own setting; PUSH_PREVIEW=false overrides it). */
  preview: boolean;
  messageId: string;
  deviceId: string;
  userId: string;
  attempts: number;
  /** The claim that holds it (see PushRepository.claimDue). */
  claim: string;
  device: Pick<PushDeviceRow, 'platform' | 'token' | 'p256dh' | 'auth' | 'appId' | 'locale'>;
  /** What it shows: a retraction, the message it takes back; a message push, the latest of its burst still to be shown (see claimDue). */
  message: { id: string; conversationId: string; seq: number; type: string; body: string | null; senderId: string; senderName: string; conversationKind: string; conversationTitle: string | null };
  /**
   * Why it does not go out any more (delivered on a socket meanwhile, deleted, left, muted, do not
   * disturb, session ended, a later one of the burst is due too), or null. A skipped delivery was
   * settled by the claim itself: nothing holds it and nothing is left to record.
   */
  skip: string | null;
}

/** Which delivery: one message to one device, as a message push or its retraction, under one claim. */
export type DeliveryKey = Pick<DueDelivery, 'messageId' | 'deviceId' | 'kind' | 'claim'>;

/** How a claimed delivery ended: sent, failed for good, or back to pending, due at `retryAt` (claimDue settles the skipped ones). */
export type Settlement = DeliveryKey & ({ state: 'sent' | 'failed'; error: string | null } | { state: 'retry'; error: string; retryAt: Date });

/**
 * Where the messages committed since snapshot `since` can be: written by a transaction at or after
 * its xmin (every older one had ended), found through the BRIN index on the writing transaction.
 * Without a snapshot (never after the migration that made the cursor), the last ten minutes.
 */
const writtenSince = (since: string | null) =>
  since === null ? sql`m.created_at > now() - interval '10 minutes'` : sql`((m.xid::text)::bigint) >= (pg_snapshot_xmin(${since}::pg_snapshot)::text)::bigint`;

/**
 * Whether member `cm` (user `u`) wants a push for message `m` now: never in do not disturb or with
 * notify `none`; with notify `all` unless muted; and whatever the mute, for a message that mentions
 * them or replies to one of theirs (so a mute is "mentions only" until it ends).
 */
const wantsPush = sql`(
  (u.dnd_until is null or u.dnd_until <= now()) and cm.notify <> 'none' and (
    (cm.notify = 'all' and (cm.muted_until is null or cm.muted_until <= now()))
    or coalesce(m.mentions, '[]'::jsonb) @> jsonb_build_array(cm.user_id::text)
    or exists (select 1 from messages r where r.id = m.reply_to_id and r.sender_id = cm.user_id)))`;

/**
 * Whether message `m` is still to be shown to the recipient of push row `p` (member `cm`, user `u`)
 * now: not deleted or expired, not theirs, not cleared, hidden or acknowledged, not from someone they
 * block, and wanted under their settings. What a push shows is the latest such message of its burst.
 */
const stillToShow = sql`(m.deleted_at is null and (m.expires_at is null or m.expires_at > now())
  and m.sender_id <> p.user_id and m.seq > cm.cleared_seq and m.seq > cm.delivered_seq
  and not exists (select 1 from message_hides h where h.user_id = p.user_id and h.message_id = m.id)
  and not exists (select 1 from user_blocks b where b.blocker_id = p.user_id and b.blocked_id = m.sender_id)
  and ${wantsPush})`;

/** A snapshot a plan round took, and when (database clock, ms since the epoch). */
export interface WaitingSnapshot {
  snapshot: string;
  at: number;
}

const sameWaiting = (a: readonly WaitingSnapshot[], b: readonly WaitingSnapshot[]) => a.length === b.length && a.every((w, i) => w.snapshot === b[i]!.snapshot && w.at === Number(b[i]!.at));

/** Snapshots a grace keeps waiting at most: a round records its own only when the newest is older than grace / this. */
const WAITING_MAX = 16;

/**
 * Where a plan round moves the cursor, and what stays waiting. With a grace, the newest waiting
 * snapshot that is grace old (every message it sees was committed at least that long ago; null when
 * none is yet), and this round's snapshot joins the waiting ones unless a recent one is there (so a
 * message waits at most grace + grace / WAITING_MAX + a poll to be planned). Without one, this
 * round's snapshot at once. Snapshots only grow (each sees all that an earlier one saw), so moving
 * through them in the order they were taken plans every message exactly once.
 */
export function planTarget(waiting: readonly WaitingSnapshot[], taken: WaitingSnapshot, graceMs: number): { target: string | null; waiting: WaitingSnapshot[] } {
  if (graceMs === 0) return { target: taken.snapshot, waiting: [] };
  // A clock that stepped back: what was taken "later" than now counts as taken now (it waits one
  // more grace at most), so rounds keep recording and planning instead of waiting for the clock.
  waiting = waiting.map((w) => (w.at > taken.at ? { ...w, at: taken.at } : w));
  // By position, not by time alone: the list is in the order taken, and the cursor never moves back.
  const ripe = waiting.findLastIndex((w) => w.at <= taken.at - graceMs);
  const left = waiting.slice(ripe + 1);
  const newest = left.at(-1);
  if (newest === undefined || taken.at - newest.at >= graceMs / WAITING_MAX) left.push(taken);
  return { target: ripe < 0 ? null : waiting[ripe]!.snapshot, waiting: left };
}

/** A delivery under a claim, as PushRepository.renew answers it. */
export const heldKey = (d: Pick<DeliveryKey, 'claim' | 'messageId' | 'deviceId'>): string => `${d.claim}/${d.messageId}/${d.deviceId}`;

/** A provider's error text as a column holds it: bounded, well-formed, without NUL (which Postgres text refuses). */
const storableError = (error: string): string => error.slice(0, 500).replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD').replaceAll('\u0000', '');

/**
 * Push devices, and the push worker's durable state: the cursor over the message stream and one
 * delivery row per message and device, claimed with a lease by one worker at a time.
 */
export function createPushRepository(db: Database) {
  return {
    /**
     * Registers a device for a session; the same platform and token registered again (another
     * session, another user: a shared phone) moves to the new one. `max`: devices per user (the moved
     * one not counted); null when the user is at it.
     */
    async register(device: NewPushDevice, max: number): Promise<PushDeviceRow | null> {
      return db.transaction(async (tx) => {
        const [mine] = await tx
          .select({ n: count() })
          .from(pushDevices)
          .where(and(eq(pushDevices.userId, device.userId), sql`not (${pushDevices.platform} = ${device.platform} and ${pushDevices.token} = ${device.token})`));
        if ((mine?.n ?? 0) >= max) return null;
        const at = new Date();
        const [row] = await tx
          .insert(pushDevices)
          .values({ id: newId(), ...device, createdAt: at, updatedAt: at })
          .onConflictDoUpdate({
            target: [pushDevices.platform, pushDevices.token],
            set: { userId: device.userId, sessionId: device.sessionId, p256dh: device.p256dh, auth: device.auth, appId: device.appId, locale: device.locale, updatedAt: at },
          })
          .returning();
        return row!;
      });
    },

    listByUser(userId: string): Promise<PushDeviceRow[]> {
      return db.select().from(pushDevices).where(eq(pushDevices.userId, userId)).orderBy(asc(pushDevices.createdAt));
    },

    /** Deletes one of the user's devices; false when it is not theirs (or gone). */
    async remove(userId: string, id: string): Promise<boolean> {
      const rows = await db.delete(pushDevices).where(and(eq(pushDevices.id, id), eq(pushDevices.userId, userId))).returning({ id: pushDevices.id });
      return rows.length > 0;
    },

    async removeById(id: string): Promise<void> {
      await db.delete(pushDevices).where(eq(pushDevices.id, id));
    },

    /** Devices of sessions that ended (logout, password change, ban): they get nothing more. */
    async removeOfEndedSessions(userId: string): Promise<void> {
      await db.execute(sql`delete from push_devices d using sessions s where s.id = d.session_id and d.user_id = ${userId} and s.revoked_at is not null`);
    },

    /**
     * Summarizes the page ranges of `messages` that its BRIN index on the writing transaction does not
     * cover yet (those filled since the last call, and the one being filled, which inserts keep
     * summarized from then on). Unsummarized ranges match every search, so without this plan() would
     * read every message inserted since the last vacuum (all of them on the embedded database, which
     * has no autovacuum). Cheap when nothing is new; gives up at once when a vacuum holds the table.
     */
    async summarizeMessageIndex(): Promise<void> {
      await db.transaction(async (tx) => {
        await tx.execute(sql`set local lock_timeout = '100ms'`);
        await tx.execute(sql`select brin_summarize_new_values('messages_xid_brin_idx')`);
      });
    },

    /**
     * Turns the messages committed since the cursor, and at least `graceMs` ago, into deliveries, one
     * per recipient device, due `graceMs` after the message, and moves the cursor, in one
     * transaction; answers how many were planned, or null when another instance holds the cursor.
     * Recipients: current members who joined before the message, not the sender, wanting it
     * (wantsPush), not blocking the sender, on devices of live sessions, and whose devices have not
     * acknowledged it yet (a `delivered` receipt already at or past it: no row, as claimDue would
     * skip it). A burst (several new messages of one conversation to one recipient) gets one row,
     * for its latest message, that stands for all of it (burst_from_seq): claimDue shows the latest
     * of them that is still to be shown when it goes.
     * Planning only what is grace old (see planTarget) is what keeps push cheap for recipients who
     * are online: their receipt comes first, and their messages never get a row.
     */
    async plan(graceMs: number): Promise<number | null> {
      return db.transaction(async (tx) => {
        const [cursor] = rowsOf<{ snapshot: string | null; waiting: WaitingSnapshot[] }>(await tx.execute(sql`select snapshot, waiting from push_cursor for update skip locked`));
        if (!cursor) return null;
        const [taken] = rowsOf<{ snapshot: string; at: unknown }>(await tx.execute(sql`select pg_current_snapshot()::text as snapshot, extract(epoch from clock_timestamp()) * 1000 as at`));
        const { target, waiting } = planTarget(cursor.waiting, { snapshot: taken!.snapshot, at: Number(taken!.at) }, graceMs);
        if (target === null) {
          // Nothing grace old yet: kept only if this round changed what waits (its own snapshot, or a clock step).
          if (!sameWaiting(waiting, cursor.waiting)) await tx.execute(sql`update push_cursor set waiting = ${JSON.stringify(waiting)}::jsonb, scanned_at = now()`);
          return 0;
        }
        const since = cursor.snapshot;
        // The new messages first, on their own: the planner has no statistic for the snapshot tests, so
        // in one statement with the joins it would start from the devices (a round's cost would follow
        // the devices, not what is new), and on its own it would still guess a third of all messages
        // and scan them all: only the BRIN index on the writing transaction keeps the cost to what is
        // new, so this one statement runs without sequential or parallel scans. A round with nothing
        // new ends here.
        await tx.execute(sql`set local enable_seqscan = off`);
        await tx.execute(sql`set local max_parallel_workers_per_gather = 0`);
        const fresh = rowsOf<{ id: string }>(
          await tx.execute(sql`
            select m.id from messages m
            where ${writtenSince(since)}
              and m.xid is not null and pg_visible_in_snapshot(m.xid, ${target}::pg_snapshot)
              ${since === null ? sql`` : sql`and not pg_visible_in_snapshot(m.xid, ${since}::pg_snapshot)`}`),
        ).map((r) => r.id);
        await tx.execute(sql`set local enable_seqscan = default`);
        await tx.execute(sql`set local max_parallel_workers_per_gather = default`);
        const planned =
          fresh.length === 0
            ? 0
            : rowsOf(
                await tx.execute(sql`
                  with wanted as (
                    select m.id, m.conversation_id, m.seq, m.created_at, cm.user_id,
                      min(m.seq) over (partition by cm.user_id, m.conversation_id) as burst_from_seq
                    from messages m
                    join conversation_members cm on cm.conversation_id = m.conversation_id and cm.user_id <> m.sender_id
                      and cm.left_at is null and cm.joined_seq < m.seq and cm.delivered_seq < m.seq
                    join users u on u.id = cm.user_id and ${wantsPush}
                    where m.id = any(${arrayLiteral(fresh)}::uuid[]) and m.deleted_at is null
                      and not exists (select 1 from user_blocks b where b.blocker_id = cm.user_id and b.blocked_id = m.sender_id)),
                  -- A burst is one push: per recipient and conversation, the latest message, standing for
                  -- the burst from the first (claimDue shows the latest of it still to be shown).
                  latest as (select distinct on (user_id, conversation_id) * from wanted order by user_id, conversation_id, seq desc)
                  insert into push_deliveries (message_id, device_id, user_id, platform, conversation_id, seq, burst_from_seq, send_after)
                  select w.id, d.id, d.user_id, d.platform, w.conversation_id, w.seq, w.burst_from_seq, w.created_at + make_interval(secs => ${graceMs / 1000})
                  from latest w
                  join push_devices d on d.user_id = w.user_id
                  join sessions s on s.id = d.session_id and s.revoked_at is null and s.expires_at > now()
                  on conflict do nothing
                  returning 1`),
              ).length;
        await tx.execute(sql`update push_cursor set snapshot = ${target}, waiting = ${JSON.stringify(waiting)}::jsonb, scanned_at = now()`);
        return planned;
      });
    },

    /**
     * Claims up to `limit` due deliveries of `platform` (SKIP LOCKED: two workers never claim one),
     * with what each needs, in one statement. Those that should not go out any more are settled as
     * skipped right here and come back with `skip` (why); the others are held under the new claim
     * `claim` for `leaseMs`. A message push shows the latest message of its burst still to be shown
     * (recorded as shown_message_id), and is skipped when there is none. A message push to a device
     * from a conversation whose later message is due to that device too and wanted (bursts across
     * rounds), or was shown there already, is skipped: only the latest goes out, and an older one
     * never replaces a newer one.
     */
    async claimDue(platform: PushDeviceRow['platform'], limit: number, leaseMs: number, claim: string): Promise<DueDelivery[]> {
      const rows = rowsOf<Record<string, unknown>>(
        await db.execute(sql`
          with picked as (
            -- The rows as locked: a row changed since this statement's snapshot (a retraction) is read as it is now.
            select message_id, device_id, user_id, kind, attempts, conversation_id, seq, burst_from_seq, shown_message_id, send_after from push_deliveries
            where state = 'pending' and platform = ${platform} and send_after <= now() and (claimed_until is null or claimed_until < now())
            order by send_after limit ${limit} for update skip locked),
          due as (
            select p.message_id, p.device_id, p.user_id, p.attempts + 1 as attempts, p.kind, p.send_after,
              d.platform, d.token, d.p256dh, d.auth, d.app_id, d.locale,
              p.conversation_id, coalesce(m.seq, p.seq) as seq, m.id as shown_id, m.type, m.body, m.sender_id, coalesce(sender.display_name, '') as sender_name,
              conv.kind as conversation_kind, conv.title as conversation_title, u.push_preview,
              case
                -- Every picked row is settled or held: one whose device, session, message or user is gone is skipped, never left at the head.
                when d.id is null or s.id is null or own.id is null or u.id is null or conv.id is null then 'gone'
                -- A shared phone registered by someone else since: nothing of the previous account's reaches it.
                when d.user_id <> p.user_id then 'device moved to another account'
                when s.revoked_at is not null then 'session ended'
                -- A retraction goes wherever the message's push went; a message only while it still concerns them.
                when p.kind = 'retract' then case when m.id is null then 'gone' end
                when m.id is null and own.deleted_at is not null then 'deleted'
                when cm.user_id is null or cm.left_at is not null then 'not a member'
                when cm.delivered_seq >= p.seq then 'delivered'
                when m.id is null then 'not wanted (mute, notify setting or do not disturb)'
                when exists (
                  -- A later push of the conversation to the device, already shown, or due now with something of
                  -- its burst to show (what its own claim would show: the same test).
                  select 1 from push_deliveries later
                  where later.device_id = p.device_id and later.conversation_id = p.conversation_id and later.seq > p.seq and later.kind = 'message'
                    and (later.state = 'sent' or (later.state = 'pending' and later.send_after <= now() and exists (
                      select 1 from messages m
                      where m.conversation_id = later.conversation_id and m.seq between coalesce(later.burst_from_seq, later.seq) and later.seq and ${stillToShow}))))
                  then 'collapsed into a later push'
              end as skip
            from picked p
            left join push_devices d on d.id = p.device_id
            left join sessions s on s.id = d.session_id
            left join messages own on own.id = p.message_id
            left join users u on u.id = p.user_id
            left join conversations conv on conv.id = p.conversation_id
            left join conversation_members cm on cm.conversation_id = p.conversation_id and cm.user_id = p.user_id
            -- What it shows. A retraction: the message it takes back. A message push: the latest message of
            -- its burst still to be shown to them now (stillToShow).
            left join lateral (
              (select m.id, m.seq, m.type, m.body, m.sender_id from messages m
               where p.kind = 'retract' and m.id = coalesce(p.shown_message_id, p.message_id))
              union all
              (select m.id, m.seq, m.type, m.body, m.sender_id from messages m
               where p.kind = 'message' and cm.user_id is not null and u.id is not null
                 and m.conversation_id = p.conversation_id and m.seq between coalesce(p.burst_from_seq, p.seq) and p.seq
                 and ${stillToShow}
               order by m.seq desc limit 1)) m on true
            left join users sender on sender.id = m.sender_id),
          settled as (
            update push_deliveries p set attempts = p.attempts + 1,
              state = case when due.skip is null then 'pending' else 'skipped' end,
              last_error = coalesce(due.skip, p.last_error),
              claimed_until = case when due.skip is null then now() + make_interval(secs => ${leaseMs / 1000}) end,
              claim = case when due.skip is null then ${claim}::uuid end,
              shown_message_id = case when due.skip is null and p.kind = 'message' then due.shown_id else p.shown_message_id end
            from due where p.message_id = due.message_id and p.device_id = due.device_id)
          -- Oldest due first: the order they are sent in.
          select * from due order by send_after, message_id, device_id`),
      );
      return rows.map((r): DueDelivery => {
        const seq = toNumber(r.seq);
        const kind = r.kind as DueDelivery['kind'];
        const skip = (r.skip as string | null) ?? null;
        return {
          kind,
          preview: r.push_preview === true,
          messageId: String(r.message_id),
          deviceId: String(r.device_id),
          userId: String(r.user_id),
          attempts: toNumber(r.attempts),
          claim,
          device: { platform: r.platform as PushDeviceRow['platform'], token: String(r.token), p256dh: (r.p256dh as string | null) ?? null, auth: (r.auth as string | null) ?? null, appId: (r.app_id as string | null) ?? null, locale: (r.locale as string | null) ?? null },
          message: {
            id: r.shown_id === null ? String(r.message_id) : String(r.shown_id),
            conversationId: String(r.conversation_id),
            seq,
            type: String(r.type),
            body: (r.body as string | null) ?? null,
            senderId: r.sender_id === null ? '' : String(r.sender_id), // an account deleted since
            senderName: String(r.sender_name),
            conversationKind: String(r.conversation_kind),
            conversationTitle: (r.conversation_title as string | null) ?? null,
          },
          skip,
        };
      });
    },

    /**
     * Records how claimed deliveries ended, in one statement. Only a delivery still under its claim
     * changes: not one whose lease ran out and that another worker claimed since. One that became a
     * retraction while its message push was in flight is only released: the retraction is due now,
     * after the push it takes back.
     */
    async settle(settlements: readonly Settlement[]): Promise<void> {
      if (settlements.length === 0) return;
      const input = JSON.stringify(
        settlements.map((s) => ({
          message_id: s.messageId,
          device_id: s.deviceId,
          kind: s.kind,
          claim: s.claim,
          state: s.state === 'retry' ? 'pending' : s.state,
          error: s.error === null ? null : storableError(s.error),
          retry_at: s.state === 'retry' ? s.retryAt.toISOString() : null,
        })),
      );
      await db.execute(sql`
        update push_deliveries p set claimed_until = null, claim = null,
          state = case when p.kind = v.kind then v.state else p.state end,
          last_error = case when p.kind = v.kind then v.error else p.last_error end,
          send_after = case when p.kind = v.kind then coalesce(v.retry_at, p.send_after) else p.send_after end
        from jsonb_to_recordset(${input}::jsonb) as v(message_id uuid, device_id uuid, kind text, claim uuid, state text, error text, retry_at timestamptz)
        where p.message_id = v.message_id and p.device_id = v.device_id and p.claim = v.claim and p.state = 'pending'`);
    },

    /**
     * Extends the lease of the deliveries still pending under `claims` (a worker whose sends take long
     * keeps them); answers those it extended, as heldKey()s (one missing was taken over, or is done).
     */
    async renew(claims: readonly string[], leaseMs: number): Promise<Set<string>> {
      if (claims.length === 0) return new Set();
      const rows = rowsOf<{ claim: string; message_id: string; device_id: string }>(
        await db.execute(sql`
          update push_deliveries set claimed_until = now() + make_interval(secs => ${leaseMs / 1000})
          where state = 'pending' and claim = any(${arrayLiteral(claims)}::uuid[])
          returning claim, message_id, device_id`),
      );
      return new Set(rows.map((r) => heldKey({ claim: String(r.claim), messageId: String(r.message_id), deviceId: String(r.device_id) })));
    },

    /**
     * In the transaction that deletes a message for everyone: its pushes that went out become
     * retractions, due at once; one going out now becomes a retraction still under its claim, due when
     * that send ends (settle releases it) or its lease runs out, so it never overtakes the push it
     * takes back (a push shows the message it was claimed with: shown_message_id). One not yet sent
     * shows, when it is claimed, the latest message of its burst still there, or is skipped (deleted).
     */
    async retract(messageId: string, tx: Database): Promise<void> {
      await tx.execute(sql`
        update push_deliveries set kind = 'retract', state = 'pending', attempts = 0, send_after = now(), last_error = null
        where (shown_message_id = ${messageId} or (shown_message_id is null and message_id = ${messageId}))
          and kind = 'message' and (state = 'sent' or (state = 'pending' and claimed_until > now()))`);
    },

    /** The outbox's size and lag (metrics), from the pending-deliveries index. */
    async outbox(): Promise<{ depth: number; oldestDueSeconds: number }> {
      const [row] = rowsOf<{ depth: unknown; oldest: unknown }>(
        await db.execute(sql`
          select count(*) as depth, coalesce(extract(epoch from now() - min(send_after) filter (where send_after <= now())), 0) as oldest
          from push_deliveries where state = 'pending'`),
      );
      return { depth: toNumber(row?.depth ?? 0), oldestDueSeconds: Number(row?.oldest ?? 0) };
    },

    /** Deletes settled deliveries older than `before` (the worker's housekeeping). */
    async sweepSettled(before: Date, batch: number): Promise<number> {
      return rowsOf(
        await db.execute(sql`
          delete from push_deliveries where (message_id, device_id) in (
            select message_id, device_id from push_deliveries where state <> 'pending' and created_at < ${before.toISOString()}::timestamptz limit ${batch})
          returning 1`),
      ).length;
    },
  };
}

export type PushRepository = ReturnType<typeof createPushRepository>;
