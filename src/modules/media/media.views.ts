import type { MessageAttachment } from '../../db/schema.js';
import type { MediaLinks } from './media-links.js';
import type { MediaRecord } from './media.repository.js';

/** The fields a message carries for each attachment (stored with the message, see MessageAttachment). */
export function toAttachment(row: MediaRecord): MessageAttachment {
  return {
    id: row.id,
    kind: row.kind,
    mime: row.mime,
    size: row.size,
    sha256: row.sha256,
    width: row.width,
    height: row.height,
    durationMs: row.durationMs,
    fileName: row.fileName,
  };
}

/** The media resource: its metadata plus signed URLs of the file and, for images, the thumbnail. */
export function toMedia(row: MediaRecord, links: MediaLinks) {
  const original = links.signed(row.id, 'original');
  return {
    ...toAttachment(row),
    createdAt: row.createdAt.toISOString(),
    url: original.url,
    thumbnailUrl: row.thumbnailKey ? links.signed(row.id, 'thumbnail').url : null,
    urlExpiresAt: original.expiresAt.toISOString(),
  };
}

export type MediaView = ReturnType<typeof toMedia>;
