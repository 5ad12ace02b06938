import { rm, stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import type { MessageAttachment } from '../../db/schema.js';
import { AppError } from '../../errors.js';
import { newId } from '../../lib/ids.js';
import { type ByteRange, ObjectNotFoundError, type ObjectStorage } from '../../providers/storage/object-storage.js';
import type { Actor } from '../auth/tokens.js';
import { processImage } from './image-processing.js';
import type { MediaLinks, MediaVariant } from './media-links.js';
import { type MediaKind, receiveUpload } from './media-intake.js';
import type { MediaRecord, MediaRepository } from './media.repository.js';
import { toAttachment, toMedia } from './media.views.js';

export interface MediaConfig {
  allowedTypes: readonly string[];
  maxBytes: Record<MediaKind, number>;
  quotaBytes: number;
  orphanTtlSeconds: number;
}

/** The most attachments one message may carry. */
export const MAX_ATTACHMENTS = 10;

/** Who reads a media item: a signed-in user, or the holder of a valid signed link. */
export type MediaReader = { actor: Actor } | { signature: { exp: string; sig: string } };

/** Uploads, access, streaming and clean-up of media; messages, profiles and statuses use it to attach media. */
export function createMediaService(deps: {
  media: MediaRepository;
  storage: ObjectStorage;
  links: MediaLinks;
  tempDir: string;
  config: MediaConfig;
  /** Further grounds to read a media item (a status showing it); settable after construction. */
  readers?: Array<(mediaId: string, viewerId: string) => Promise<boolean>>;
}) {
  const { media, storage, links, tempDir, config } = deps;
  const readers = deps.readers ?? [];

  async function canRead(row: MediaRecord, actor: Actor): Promise<boolean> {
    if (row.ownerId === actor.userId || row.public || (await media.sentTo(row.id, actor.userId))) return true;
    for (const reader of readers) if (await reader(row.id, actor.userId)) return true;
    return false;
  }

  /** Deletes a media row and its stored bytes (the row first: a reader never finds a row without bytes). */
  async function purge(id: string, onlyOrphan: boolean): Promise<boolean> {
    const removed = await media.remove(id, onlyOrphan);
    if (!removed) return false;
    await Promise.all([storage.delete(removed.storageKey), removed.thumbnailKey ? storage.delete(removed.thumbnailKey) : undefined]);
    return true;
  }

  /** The media ids the actor owns, in the given order; any other id is 404 MEDIA_NOT_FOUND (nothing is revealed). */
  async function owned(actor: Actor, ids: string[]): Promise<MediaRecord[]> {
    const rows = new Map((await media.findOwned(actor.userId, ids)).map((row) => [row.id, row]));
    const missing = ids.filter((id) => !rows.has(id));
    if (missing.length > 0) throw new AppError('MEDIA_NOT_FOUND', `Not your media: ${missing.join(', ')}`);
    return ids.map((id) => rows.get(id)!);
  }

  return {
    links,
    /** Adds a ground to read media (the status module registers "a status you may see shows it"). */
    addReader: (reader: (mediaId: string, viewerId: string) => Promise<boolean>) => void readers.push(reader),

    /**
     * Streams an upload to a temporary file (type from magic bytes, caps and quota enforced while
     * streaming), cleans images, then stores it. Anything that fails leaves no file behind.
     */
    async upload(actor: Actor, source: { stream: Readable; fileName?: string | undefined }) {
      const quotaLeft = Math.max(0, config.quotaBytes - (await media.usage(actor.userId)));
      const file = await receiveUpload(source.stream, tempDir, { allowedTypes: config.allowedTypes, maxBytes: config.maxBytes, quotaLeft });
      const id = newId();
      const stored: string[] = [];
      let thumbnailPath: string | undefined;
      let thumbnailSize: number | null = null;
      try {
        let { size, sha256 } = file;
        let dimensions: { width: number; height: number } | null = null;
        if (file.kind === 'image') {
          const image = await processImage(file.path, file.mime);
          ({ size, sha256, thumbnailPath } = image);
          dimensions = { width: image.width, height: image.height };
          thumbnailSize = (await stat(thumbnailPath)).size;
        }
        const row = {
          id,
          ownerId: actor.userId,
          kind: file.kind,
          mime: file.mime,
          size,
          sha256,
          width: dimensions?.width ?? null,
          height: dimensions?.height ?? null,
          durationMs: null,
          fileName: file.kind === 'file' ? cleanFileName(source.fileName, file.ext) : null,
          storageKey: `${id.slice(-2)}/${id}.${file.ext}`,
          thumbnailKey: thumbnailPath ? `${id.slice(-2)}/${id}.thumb.jpg` : null,
          thumbnailSize,
        };
        if (!(await media.insertWithinQuota(row, config.quotaBytes))) throw new AppError('MEDIA_QUOTA_EXCEEDED', 'Your media storage quota is used up');
        try {
          await storage.putFile(row.storageKey, file.path, { size, contentType: file.mime });
          stored.push(row.storageKey);
          if (thumbnailPath && row.thumbnailKey && thumbnailSize !== null) {
            await storage.putFile(row.thumbnailKey, thumbnailPath, { size: thumbnailSize, contentType: 'image/jpeg' });
          }
        } catch (error) {
          await media.remove(id, false);
          await Promise.all(stored.map((key) => storage.delete(key).catch(() => {})));
          throw error;
        }
        const saved = await media.findById(id);
        return toMedia(saved!, links);
      } finally {
        await Promise.all([rm(file.path, { force: true }), thumbnailPath ? rm(thumbnailPath, { force: true }) : undefined]);
      }
    },

    /** The media row if the reader may see it; 404 MEDIA_NOT_FOUND otherwise, 403 for a bad or expired link. */
    async readable(reader: MediaReader, id: string, variant: MediaVariant): Promise<MediaRecord> {
      const row = await media.findById(id);
      if ('signature' in reader) {
        if (!links.verify(id, variant, reader.signature.exp, reader.signature.sig)) throw new AppError('MEDIA_LINK_INVALID');
        // A link outlives what granted it (a message deleted for everyone): check it is still shared.
        if (!row || !(await media.linkable(id))) throw new AppError('MEDIA_NOT_FOUND');
      } else if (!row || !(await canRead(row, reader.actor))) {
        throw new AppError('MEDIA_NOT_FOUND');
      }
      if (variant === 'thumbnail' && !row.thumbnailKey) throw new AppError('MEDIA_NOT_FOUND', 'Only images have thumbnails');
      return row;
    },

    /** The stored bytes of a readable media row (or a range of them). */
    async open(row: MediaRecord, variant: MediaVariant, range?: ByteRange): Promise<Readable> {
      try {
        return await storage.read(variant === 'thumbnail' ? row.thumbnailKey! : row.storageKey, range);
      } catch (error) {
        if (error instanceof ObjectNotFoundError) throw new AppError('MEDIA_NOT_FOUND');
        throw error;
      }
    },

    async describe(actor: Actor, id: string) {
      return toMedia(await this.readable({ actor }, id, 'original'), links);
    },

    /**
     * The attachments of a message the actor sends: their own uploads, of the message's kind
     * (`file` takes any), at most MAX_ATTACHMENTS. Nothing is written: what stores them marks them
     * attached once it has committed (a message does it in its insert statement, others call `attach`),
     * so a failed store leaves orphans for the sweep.
     */
    async forMessage(actor: Actor, type: string, ids: string[]): Promise<MessageAttachment[]> {
      if (ids.length === 0) {
        if (type !== 'text') throw new AppError('INVALID_ATTACHMENTS', `A ${type} message needs attachments`, {}, [{ field: 'body.attachments', message: 'must not be empty' }]);
        return [];
      }
      if (type === 'text') throw new AppError('INVALID_ATTACHMENTS', 'A text message has no attachments; use the type of the media', {}, [{ field: 'body.type', message: 'must be image, video, audio or file' }]);
      if (new Set(ids).size !== ids.length) throw new AppError('INVALID_ATTACHMENTS', 'An attachment is listed twice', {}, [{ field: 'body.attachments', message: 'must be unique' }]);
      const rows = await owned(actor, ids);
      const wrong = rows.filter((row) => type !== 'file' && row.kind !== type);
      if (wrong.length > 0) throw new AppError('INVALID_ATTACHMENTS', `A ${type} message takes ${type} media only`, {}, wrong.map((row) => ({ field: 'body.attachments', message: `${row.id} is ${row.kind}` })));
      return rows.map(toAttachment);
    },

    /** Marks media as used by something that has been stored (a status, a ticket): no longer an orphan. */
    attach: (ids: string[]) => media.markAttached(ids),

    /** An image the actor uploaded, made readable by every signed-in user; answers its avatar URL. */
    async avatar(actor: Actor, id: string): Promise<string> {
      const [row] = await owned(actor, [id]);
      if (row!.kind !== 'image') throw new AppError('INVALID_ATTACHMENTS', 'An avatar must be an image', {}, [{ field: 'body.avatarMediaId', message: 'must be an image' }]);
      await media.markAttached([id], { public: true });
      return links.pathOf(id, 'original');
    },

    /** Media rows by id (no access check: for services that already checked access to what holds them). */
    findMany: (ids: string[]) => media.findMany(ids),

    /** Deletes media that nothing reaches any more (e.g. after the status that showed it is gone). */
    async releaseIfUnused(ids: string[]): Promise<number> {
      let removed = 0;
      for (const id of new Set(ids)) if ((await media.isUnused(id)) && (await purge(id, false))) removed += 1;
      return removed;
    },

    /**
     * Removes every upload of `ownerId` (a deleted account): out of the messages and avatars that show
     * it, then row and bytes (thumbnails included) through the storage driver. Returns how many.
     */
    async removeAllOf(ownerId: string, batch = 100): Promise<number> {
      let total = 0;
      for (;;) {
        const rows = await media.ownedBy(ownerId, batch);
        await media.detach(rows.map((r) => r.id), rows.map((r) => links.pathOf(r.id, 'original')));
        for (const row of rows) if (await purge(row.id, false)) total += 1;
        if (rows.length < batch) return total;
      }
    },

    /** Removes uploads never attached to anything within the orphan TTL, bytes first; returns how many. */
    async sweepOrphans(batch = 100): Promise<number> {
      const cutoff = new Date(Date.now() - config.orphanTtlSeconds * 1000);
      let total = 0;
      for (;;) {
        const rows = await media.orphans(cutoff, batch);
        for (const row of rows) {
          // Stored by something whose mark did not happen (a crash after its commit): keep it, and mark it now.
          if (!(await media.isUnused(row.id))) await media.markAttached([row.id]);
          else if (await purge(row.id, true)) total += 1;
        }
        if (rows.length < batch) return total;
      }
    },
  };
}

/** A file name safe for Content-Disposition: no path, no control characters, the detected extension. */
function cleanFileName(name: string | undefined, ext: string): string {
  const base = (name ?? '').split(/[\\/]/).pop()!.replace(/[\u0000-\u001f\u007f"]/g, '').trim().slice(0, 200);
  const stem = base.replace(/\.[^.]*$/, '') || 'file';
  return `${stem}.${ext}`;
}

export type MediaService = ReturnType<typeof createMediaService>;
