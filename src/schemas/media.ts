import { Type } from 'typebox';
import { Id, Nullable, Text, Timestamp } from './common.js';

/*
 * The media contract: uploads, the media resource, and the attachment a message carries.
 */

export const mediaKinds = ['image', 'video', 'audio', 'file'] as const;

/** Decoded bytes a JSON upload (`dataBase64`) may carry. */
export const JSON_UPLOAD_MAX_BYTES = 10 * 1_048_576;

const attachmentFields = {
  id: Id,
  kind: Type.Enum([...mediaKinds], { description: 'From the detected MIME type: image/*, video/*, audio/*, anything else is file.' }),
  mime: Type.String({ description: 'Detected from the magic bytes, never from the client.' }),
  size: Type.Integer({ description: 'Bytes as stored (images are re-encoded without metadata).' }),
  sha256: Type.String({ description: 'Hex SHA-256 of the stored bytes; also the ETag.' }),
  width: Nullable(Type.Integer()),
  height: Nullable(Type.Integer()),
  durationMs: Nullable(Type.Integer({ description: 'Not measured yet: always null.' })),
  fileName: Nullable(Type.String({ description: 'For files only: the uploaded name with the detected extension.' })),
};

/** Inlined in the Message resource (no $id, so every document that has Message has it too). */
export const Attachment = Type.Object(attachmentFields, { description: 'A media item as a message carries it; read it at GET /media/{id}.' });

export const Media = Type.Object(
  {
    ...attachmentFields,
    createdAt: Timestamp,
    url: Type.String({ description: 'Signed URL of the file (no Authorization header needed) until urlExpiresAt.' }),
    thumbnailUrl: Nullable(Type.String({ description: 'Signed URL of a JPEG thumbnail (images).' })),
    urlExpiresAt: Timestamp,
  },
  {
    $id: 'Media',
    examples: [
      {
        id: '0192f0c1-7a00-7000-8000-0000000000d1',
        kind: 'image',
        mime: 'image/jpeg',
        size: 48213,
        sha256: '9f2c0c7a4b8e1d3f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f',
        width: 1280,
        height: 960,
        durationMs: null,
        fileName: null,
        createdAt: '2026-11-23T10:00:00.000Z',
        url: '/api/v1/media/0192f0c1-7a00-7000-8000-0000000000d1?exp=1795000000&sig=…',
        thumbnailUrl: '/api/v1/media/0192f0c1-7a00-7000-8000-0000000000d1/thumbnail?exp=1795000000&sig=…',
        urlExpiresAt: '2026-11-23T11:00:00.000Z',
      },
    ],
  },
);

export const JsonUploadBody = Type.Object(
  {
    fileName: Text({ minLength: 1, maxLength: 255 }),
    dataBase64: Type.String({ minLength: 1, maxLength: Math.ceil(JSON_UPLOAD_MAX_BYTES / 3) * 4, pattern: '^[A-Za-z0-9+/_-]+=*$', description: 'The file, base64; at most 10 MiB decoded.' }),
  },
  { additionalProperties: false, examples: [{ fileName: 'note.pdf', dataBase64: 'JVBERi0xLjQK…' }] },
);

export const MultipartUploadBody = Type.Object({ file: Type.Unsafe<unknown>({ type: 'string', format: 'binary', description: 'The one file of the upload.' }) });

/** An image the caller uploaded, used as a profile or group avatar. */
export const AvatarMediaId = Type.String({
  format: 'uuid',
  description: 'An image you uploaded (POST /media), used as the avatar; avatarUrl becomes /api/v1/media/{id}, readable by every signed-in user.',
});

export const MediaParams = Type.Object({ id: Id });
export const MediaQuery = Type.Object({
  exp: Type.Optional(Text({ maxLength: 12, description: 'Signed link: expiry (unix seconds).' })),
  sig: Type.Optional(Text({ maxLength: 128, description: 'Signed link: signature.' })),
});

export const Binary = Type.Unsafe<unknown>({ type: 'string', format: 'binary' });

export const sharedMediaSchemas = [Media];
