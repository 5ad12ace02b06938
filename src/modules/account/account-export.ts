import { Readable } from 'node:stream';
import type { Actor } from '../auth/tokens.js';
import type { MediaLinks } from '../media/media-links.js';
import { toMedia } from '../media/media.views.js';
import { toPrivateUser } from '../users/user.views.js';
import type { AccountRepository } from './account.repository.js';
import type { AccountService } from './account.service.js';

/** Rows read per query while exporting: memory stays bounded whatever the size of the account. */
export const EXPORT_PAGE = 500;

/**
 * GET /users/me/export: one JSON document `{exportedAt, profile, conversations, messages, media}`,
 * streamed page by page (conversations and uploads by id, messages conversation by conversation in
 * seq order), so its size is not limited by memory. Media appear as signed links that work for
 * MEDIA_URL_TTL_SECONDS.
 */
export function createAccountExport(deps: { accounts: AccountRepository; account: Pick<AccountService, 'load'>; links: MediaLinks }) {
  const { accounts, links } = deps;

  async function* conversationIds(userId: string) {
    for (let after: string | null = null; ; ) {
      const page = await accounts.memberships(userId, after, EXPORT_PAGE);
      yield page;
      if (page.length < EXPORT_PAGE) return;
      after = page.at(-1)!.id;
    }
  }

  /** `items` as the elements of a JSON array, each preceded by a comma but the first. */
  async function* jsonArray<T>(pages: AsyncIterable<T[]>): AsyncGenerator<string> {
    let first = true;
    for await (const page of pages) {
      if (page.length === 0) continue;
      yield (first ? '' : ',') + page.map((item) => JSON.stringify(item)).join(',');
      first = false;
    }
  }

  async function* messages(userId: string) {
    for await (const conversations of conversationIds(userId)) {
      for (const conversation of conversations) {
        for (let after = 0; ; ) {
          const rows = await accounts.ownMessages(userId, conversation.id, after, EXPORT_PAGE);
          yield rows.map((row) => ({
            id: row.id,
            conversationId: conversation.id,
            seq: row.seq,
            type: row.type,
            body: row.body,
            replyToId: row.replyToId,
            forwarded: row.forwarded,
            attachments: row.attachments.map((a) => ({ ...a, url: links.signed(a.id, 'original').url })),
            createdAt: row.createdAt.toISOString(),
            editedAt: row.editedAt?.toISOString() ?? null,
          }));
          if (rows.length < EXPORT_PAGE) break;
          after = rows.at(-1)!.seq;
        }
      }
    }
  }

  async function* uploads(userId: string) {
    for (let after: string | null = null; ; ) {
      const rows = await accounts.uploads(userId, after, EXPORT_PAGE);
      yield rows.map((row) => toMedia(row, links));
      if (rows.length < EXPORT_PAGE) return;
      after = rows.at(-1)!.id;
    }
  }

  async function* document(actor: Actor, profile: ReturnType<typeof toPrivateUser>) {
    yield `{"exportedAt":${JSON.stringify(new Date().toISOString())},"profile":${JSON.stringify(profile)},"conversations":[`;
    yield* jsonArray(conversationIds(actor.userId));
    yield '],"messages":[';
    yield* jsonArray(messages(actor.userId));
    yield '],"media":[';
    yield* jsonArray(uploads(actor.userId));
    yield ']}';
  }

  return {
    /** The export as a stream of JSON text; the account is checked before the first byte. */
    async open(actor: Actor): Promise<Readable> {
      const profile = toPrivateUser(await deps.account.load(actor.userId));
      return Readable.from(document(actor, profile), { objectMode: false });
    },
  };
}

export type AccountExport = ReturnType<typeof createAccountExport>;
