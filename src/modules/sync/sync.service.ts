import { AppError } from '../../errors.js';
import type { Actor } from '../auth/tokens.js';
import type { ConversationPresenter } from '../conversations/conversation.presenter.js';
import type { ConversationRepository } from '../conversations/conversation.repository.js';
import type { ConversationView } from '../conversations/conversation.views.js';
import type { ConversationLog } from '../messages/conversation-log.js';
import type { StreamName } from '../../events/chat-events.js';
import type { ChangedMembership, SyncRepository } from './sync.repository.js';
import { STREAMS, type Streams } from './streams.js';
import { type SyncToken, assertFresh, decodeSyncToken, encodeSyncToken } from './sync-token.js';

/**
 * An item of a sync answer: a logged event as the socket sends it (of a conversation, or of a stream:
 * the caller's own log or the announcements), or `conversation.joined` (no seq) before the events of
 * a conversation that is new to the caller.
 */
export interface SyncItem {
  type: string;
  conversationId?: string;
  stream?: StreamName;
  seq?: number;
  data: unknown;
}

/** Conversations a snapshot lists (as many as a socket follows). */
const SNAPSHOT_CONVERSATIONS = 1000;
/** Stream events a socket reads per statement. */
const STREAM_PAGE = 100;
/** Changed memberships read per statement. */
const MEMBERSHIP_BATCH = 100;

/**
 * Offline sync (GET /sync, and `resume {since}` on the socket): everything that changed for a user
 * since a token, as the socket's own events, in seq order per conversation, paged; or, without a
 * token, a snapshot to start from. See sync-token.ts and sync.repository.ts for why a Postgres
 * snapshot is an exact position across every conversation at once.
 */
export function createSyncService(deps: {
  sync: SyncRepository;
  log: ConversationLog;
  streams: Streams;
  conversations: Pick<ConversationRepository, 'followedBy' | 'findAccess'>;
  presenter: Pick<ConversationPresenter, 'present'>;
  /** `tokenKey`: the HMAC key tokens are signed with (the same on every instance). */
  config: { tokenTtlMs: number; tokenKey: () => Promise<string> };
}) {
  const { sync, log, streams, conversations, presenter, config } = deps;

  const encode = async (token: SyncToken) => encodeSyncToken(token, await config.tokenKey());
  const fresh = async () => encode({ since: await sync.currentSnapshot(), issuedAt: Date.now(), origin: await sync.origin() });

  /** A token from a client, checked: ours, not expired, from this database. */
  async function accept(text: string): Promise<SyncToken> {
    const token = decodeSyncToken(text, await config.tokenKey());
    assertFresh(token, config.tokenTtlMs);
    if (token.origin !== undefined && token.origin !== (await sync.origin())) {
      throw new AppError('SYNC_TOKEN_EXPIRED', 'The token is from before a failover or a restore of the database: take a fresh snapshot');
    }
    if (!(await sync.isKnown(token.since)) || (token.page && !(await sync.isKnown(token.page.until)))) {
      throw new AppError('SYNC_TOKEN_EXPIRED', 'The token does not belong to this database (restored or replaced): take a fresh snapshot');
    }
    return token;
  }

  /** Every changed membership since `since`, in conversation id order, from `from` on (inclusive). */
  async function* changed(userId: string, since: string, from?: string): AsyncGenerator<ChangedMembership> {
    let next = from;
    for (;;) {
      const batch = await sync.changedMemberships({ userId, since, limit: MEMBERSHIP_BATCH, ...(next ? { fromConversation: next } : {}) });
      for (const membership of batch) if (membership.conversationId !== next || next === from) yield membership;
      if (batch.length < MEMBERSHIP_BATCH) return;
      next = batch.at(-1)!.conversationId;
      from = undefined;
    }
  }

  /** Where `since` stood in a changed membership's conversation (never below the membership's start). */
  const positionOf = (membership: ChangedMembership, since: string) =>
    sync.position({ conversationId: membership.conversationId, since, floor: membership.joined, upper: membership.upper });

  async function views(actor: Actor, ids: string[]): Promise<Map<string, ConversationView>> {
    const rows = [];
    for (const id of ids) {
      const access = await conversations.findAccess(id, actor.userId);
      if (access) rows.push(access);
    }
    return new Map((await presenter.present(rows)).map((view) => [view.id, view]));
  }

  return {
    /** A token for "now": `ready` carries one, taken before the positions it lists are read. */
    token: fresh,
    /** Signs a token (tests make old ones with it). */
    encode,

    /** Drops tombstones older than any token still accepted (they are in every such token's snapshot). */
    sweepTombstones: () => streams.sweepTombstones(new Date(Date.now() - config.tokenTtlMs)),

    /** A page of a stream after `after`, for a socket's lane. */
    readStream: (actor: Actor, stream: StreamName, after: number) => streams.read({ stream, userId: actor.userId, after, limit: STREAM_PAGE }),

    /** The last seq of each stream, for `ready` (read after the token, as the conversations' are). */
    async streamHeads(actor: Actor): Promise<Record<StreamName, number>> {
      const heads = await Promise.all(STREAMS.map(async (stream) => [stream, await streams.head(stream, actor.userId)] as const));
      return Object.fromEntries(heads) as Record<StreamName, number>;
    },

    /** Without a token: the inbox to start from (as GET /chat shows it, up to 1000) and the token to continue with. */
    async snapshot(actor: Actor) {
      const nextToken = await fresh();
      const rows = await conversations.followedBy(actor.userId, SNAPSHOT_CONVERSATIONS);
      return { items: [] as SyncItem[], conversations: await presenter.present(rows), nextToken, more: false };
    },

    /**
     * Everything that changed for the caller after `since`, at most `limit` items, up to the moment
     * the first page was asked (later changes wait for the next token). `more`: call again with
     * `nextToken` at once.
     */
    async since(actor: Actor, text: string, limit: number) {
      const token = await accept(text);
      // When `until` was taken: the last page's token stands there, so it ages from then (tombstones are swept by age).
      const untilAt = token.page?.untilAt ?? Date.now();
      const until = token.page?.until ?? (await sync.currentSnapshot());
      const items: SyncItem[] = [];
      const joined: string[] = [];
      // Where the previous page ended: in a stream (they come first, in STREAMS order) or a conversation.
      const at = token.page?.conversationId;
      const inStream = at === undefined || (STREAMS as readonly string[]).includes(at);
      for (const stream of inStream ? STREAMS.slice(at === undefined ? 0 : STREAMS.indexOf(at as StreamName)) : []) {
        let after: number;
        if (stream === at) after = token.page!.after;
        else {
          const { changed, position } = await streams.position(stream, actor.userId, token.since);
          if (!changed) continue;
          after = position;
        }
        for (;;) {
          const room = limit - items.length;
          if (room <= 0) return finish({ ...token, page: { until, untilAt, conversationId: stream, after } });
          const page = await streams.read({ stream, userId: actor.userId, after, limit: room, visibleIn: until });
          for (const item of page.items) items.push({ type: item.type, stream, seq: item.seq, data: item.data });
          after = page.upTo;
          if (!page.more) break;
        }
      }
      for await (const membership of changed(actor.userId, token.since, inStream ? undefined : at)) {
        const resumed = !inStream && at === membership.conversationId;
        const { conversationId } = membership;
        if (membership.joinedSinceToken && !resumed) {
          items.push({ type: 'conversation.joined', conversationId, data: null });
          joined.push(conversationId);
        }
        let after = resumed ? token.page!.after : await positionOf(membership, token.since);
        for (;;) {
          const room = limit - items.length;
          if (room <= 0) return finish({ ...token, page: { until, untilAt, conversationId, after } });
          const page = await log.read({ conversationId, viewerId: actor.userId, window: membership, after, head: membership.upper, limit: room, visibleIn: until });
          for (const event of page.items) items.push({ type: event.type, conversationId, seq: event.seq, data: event.data });
          after = page.upTo;
          if (!page.more) break;
        }
      }
      return finish({ since: until, issuedAt: untilAt, origin: await sync.origin() });

      async function finish(next: SyncToken) {
        const byId = await views(actor, joined);
        for (const item of items) if (item.type === 'conversation.joined') item.data = byId.get(item.conversationId!) ?? null;
        return { items: items.filter((item) => item.data !== null), conversations: [] as ConversationView[], nextToken: await encode(next), more: next.page !== undefined };
      }
    },

    /**
     * For a socket's `resume {since}`: the position at `since` of each of the caller's conversations
     * that changed after it (current and former) and of each stream that did, and a token for the
     * moment the positions were read.
     */
    async positions(actor: Actor, text: string): Promise<{ positions: Map<string, number>; streams: Map<StreamName, number>; token: string }> {
      const accepted = await accept(text);
      const token = await fresh();
      const positions = new Map<string, number>();
      for await (const membership of changed(actor.userId, accepted.since)) positions.set(membership.conversationId, await positionOf(membership, accepted.since));
      const moved = new Map<StreamName, number>();
      for (const stream of STREAMS) {
        const { changed: streamChanged, position } = await streams.position(stream, actor.userId, accepted.since);
        if (streamChanged) moved.set(stream, position);
      }
      return { positions, streams: moved, token };
    },
  };
}

export type SyncService = ReturnType<typeof createSyncService>;
