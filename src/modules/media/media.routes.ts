import multipart from '@fastify/multipart';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Readable } from 'node:stream';
import { Type } from 'typebox';
import { AppError, isAppError } from '../../errors.js';
import { problemResponses } from '../../schemas/common.js';
import { Binary, JSON_UPLOAD_MAX_BYTES, JsonUploadBody, MediaParams, MediaQuery, MultipartUploadBody } from '../../schemas/media.js';
import { actorOf } from '../auth/request-context.js';
import type { Actor } from '../auth/tokens.js';
import type { MediaVariant } from './media-links.js';
import type { MediaReader } from './media.service.js';
import { contentDisposition, etagMatches, parseRange } from './media-http.js';

const tags = ['media'];
const security = [{ bearerAuth: [] }];
const MediaRef = Type.Ref('Media');
/** Base64 of the JSON upload limit plus room for the JSON around it. */
const JSON_BODY_LIMIT = Math.ceil(JSON_UPLOAD_MAX_BYTES / 3) * 4 + 64 * 1024;
const bytes = (description: string) => ({ description, content: { 'application/octet-stream': { schema: Binary } } });
const fileResponses = {
  200: bytes('The file; Content-Type is its detected MIME type'),
  206: bytes('The requested byte range (Content-Range says which)'),
  304: Type.Null({ description: 'Not modified (If-None-Match)' }), ...problemResponses(400, 401, 403, 404),
  416: { ...problemResponses(404)[404], description: 'The range starts past the end of the file' },
};

const isJson = (request: FastifyRequest) => (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase() === 'application/json';

/** An error of the multipart parser: ours when it carries an HTTP status (limits), else the body is malformed. */
function malformedMultipart(error: unknown): unknown {
  if (isAppError(error) || typeof (error as { statusCode?: unknown }).statusCode === 'number') return error;
  return new AppError('MALFORMED_MULTIPART', (error as Error).message);
}

/** /media: upload, read (whole, ranges, thumbnail), metadata with fresh signed links. */
export const mediaRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const media = app.services.media;
  const caps = app.config.media.maxBytes;
  await app.register(multipart, { limits: { fileSize: Math.max(caps.image, caps.audio, caps.video, caps.file) + 1, files: 1, fields: 4, parts: 5, headerPairs: 50 } });

  /** Signed links need no Authorization header; everything else does. */
  const authenticateUnlessSigned = async (request: FastifyRequest, reply: FastifyReply) => {
    const query = request.query as { sig?: string; exp?: string };
    if (query.sig === undefined && query.exp === undefined) await app.authenticate(request, reply);
  };
  const readerOf = (request: FastifyRequest): MediaReader => {
    const { sig, exp } = request.query as { sig?: string; exp?: string };
    if (sig !== undefined || exp !== undefined) return { signature: { sig: sig ?? '', exp: exp ?? '' } };
    return { actor: actorOf(request) };
  };

  app.post(
    '/',
    {
      onRequest: app.authenticate,
      // Multipart bodies are streamed by the handler, never parsed up front: the schema (documentation
      // of the form) is checked against a placeholder, the file itself by the media service.
      preValidation: async (request) => {
        if (request.isMultipart()) request.body = { file: 'streamed' };
        else if (!isJson(request)) throw new AppError('UNSUPPORTED_MEDIA_TYPE', 'Send multipart/form-data or application/json');
      },
      // An upload refused mid-stream (413, 415) is answered at once; the rest of the body is then read
      // and dropped, so the client (still sending) gets the answer and the socket is not left paused.
      onResponse: async (request) => {
        if (!request.raw.readableEnded) request.raw.resume();
      },
      bodyLimit: JSON_BODY_LIMIT,
      schema: {
        tags,
        security,
        operationId: 'uploadMedia',
        summary: 'Upload one file: multipart/form-data (field "file"), or JSON {fileName, dataBase64} up to 10 MiB',
        description: 'The type is detected from the bytes; per-type size caps and the per-user quota are enforced while streaming (413).',
        body: { content: { 'multipart/form-data': { schema: MultipartUploadBody }, 'application/json': { schema: JsonUploadBody } } } as never,
        response: { 201: MediaRef, ...problemResponses(400, 401, 404, 413), 415: { ...problemResponses(400)[400], description: 'Neither multipart/form-data nor JSON, or the detected type is not accepted' } },
      },
    },
    async (request, reply) => {
      const actor = actorOf(request);
      if (request.isMultipart()) return reply.code(201).send(await multipartUpload(request, actor));
      const body = request.body as { fileName: string; dataBase64: string } | undefined;
      if (!body) throw new AppError('UNSUPPORTED_MEDIA_TYPE', 'Send multipart/form-data or application/json');
      const bytes = Buffer.from(body.dataBase64, 'base64');
      if (bytes.length > JSON_UPLOAD_MAX_BYTES) throw new AppError('MEDIA_TOO_LARGE', `JSON uploads may carry at most ${JSON_UPLOAD_MAX_BYTES} bytes; use multipart`, { maxBytes: JSON_UPLOAD_MAX_BYTES });
      return reply.code(201).send(await media.upload(actor, { stream: Readable.from([bytes]), fileName: body.fileName }));
    },
  );

  app.get(
    '/:id/info',
    { onRequest: app.authenticate, schema: { tags, security, operationId: 'getMediaInfo', summary: 'Media metadata with fresh signed URLs', params: MediaParams, response: { 200: MediaRef, ...problemResponses(400, 401, 404) } } },
    async (request) => media.describe(actorOf(request), request.params.id),
  );

  for (const variant of ['original', 'thumbnail'] as const) {
    app.get(
      variant === 'original' ? '/:id' : '/:id/thumbnail',
      {
        onRequest: authenticateUnlessSigned,
        schema: {
          tags,
          security: [{ bearerAuth: [] }, {}],
          operationId: variant === 'original' ? 'downloadMedia' : 'downloadThumbnail',
          summary: variant === 'original' ? 'The file: streams with ETag, Content-Disposition for files, and single byte ranges' : 'A JPEG thumbnail of an image (320 px on the longest side)',
          description: 'Readable by the uploader and members of a conversation it was sent to; others get 404. Without a token, pass a signed link (?exp=&sig=).',
          params: MediaParams,
          querystring: MediaQuery,
          response: fileResponses,
        },
      },
      async (request, reply) => sendFile(request, reply, readerOf(request), request.params.id, variant),
    );
  }

  /** The one file of a multipart upload; a body the parser cannot read is the client's error (400), not ours. */
  async function multipartUpload(request: FastifyRequest, actor: Actor) {
    const part = await request.file().catch((error: unknown) => {
      throw malformedMultipart(error);
    });
    if (!part) throw new AppError('VALIDATION_FAILED', 'Send the file in the multipart field "file"', {}, [{ field: 'body.file', message: 'is required' }]);
    if (part.fieldname !== 'file') throw new AppError('VALIDATION_FAILED', 'The file goes in the field "file"', {}, [{ field: `body.${part.fieldname}`, message: 'is not a known field' }]);
    // The parser fails the file stream when the body ends before its closing boundary (possibly
    // before this line runs: the whole body may already be buffered).
    let bodyError: unknown;
    part.file.once('error', (error) => {
      bodyError = error;
    });
    try {
      return await media.upload(actor, { stream: part.file, fileName: part.filename });
    } catch (error) {
      throw error !== undefined && (error === part.file.errored || error === bodyError) ? malformedMultipart(error) : error;
    }
  }

  async function sendFile(request: FastifyRequest, reply: FastifyReply, reader: MediaReader, id: string, variant: MediaVariant) {
    const row = await media.readable(reader, id, variant);
    const size = variant === 'thumbnail' ? row.thumbnailSize! : row.size;
    const etag = variant === 'thumbnail' ? `"${row.sha256}-thumb"` : `"${row.sha256}"`;
    reply
      .header('etag', etag)
      .header('cache-control', 'private, max-age=3600')
      .header('accept-ranges', 'bytes')
      .header('content-disposition', variant === 'thumbnail' ? 'inline' : contentDisposition(row.kind, row.fileName));
    if (etagMatches(request.headers['if-none-match'], etag)) return reply.code(304).send();
    const range = parseRange(request.headers.range, size);
    if (range === 'unsatisfiable') {
      reply.header('content-range', `bytes */${size}`);
      throw new AppError('RANGE_NOT_SATISFIABLE', `The file has ${size} bytes`, { size });
    }
    const stream = await media.open(row, variant, range);
    reply.type(variant === 'thumbnail' ? 'image/jpeg' : row.mime);
    if (range) {
      reply.code(206).header('content-range', `bytes ${range.start}-${range.end}/${size}`).header('content-length', range.end - range.start + 1);
    } else {
      reply.header('content-length', size);
    }
    return reply.send(stream);
  }
};
