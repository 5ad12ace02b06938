import { createReadStream } from 'node:fs';
import { unlink } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { DeleteObjectCommand, GetObjectCommand, NoSuchKey, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { type ByteRange, ObjectNotFoundError, type ObjectStorage } from './object-storage.js';

export interface S3StorageOptions {
  bucket: string;
  endpoint: string | undefined;
  region: string;
  accessKeyId: string | undefined;
  secretAccessKey: string | undefined;
  forcePathStyle: boolean;
  timeoutMs: number;
}

/**
 * Objects in an S3 bucket through @aws-sdk/client-s3; works with any S3-compatible service.
 * Checksums are sent and validated only where S3 requires them: the SDK's default (streamed
 * aws-chunked trailers) is not understood by many compatible services.
 */
export function createS3Storage(options: S3StorageOptions): ObjectStorage {
  const client = new S3Client({
    region: options.region,
    forcePathStyle: options.forcePathStyle,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    ...(options.accessKeyId && options.secretAccessKey ? { credentials: { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey } } : {}),
  });
  const Bucket = options.bucket;

  return {
    driver: 's3',

    async putFile(key, localPath, meta) {
      const body = createReadStream(localPath);
      try {
        await client.send(new PutObjectCommand({ Bucket, Key: key, Body: body, ContentLength: meta.size, ContentType: meta.contentType }), {
          abortSignal: AbortSignal.timeout(Math.max(options.timeoutMs, 60_000)),
        });
      } finally {
        body.destroy();
      }
      await unlink(localPath);
    },

    async read(key, range?: ByteRange): Promise<Readable> {
      try {
        const output = await client.send(new GetObjectCommand({ Bucket, Key: key, ...(range ? { Range: `bytes=${range.start}-${range.end}` } : {}) }));
        return output.Body as Readable;
      } catch (error) {
        if (error instanceof NoSuchKey || (error as { name?: string }).name === 'NoSuchKey') throw new ObjectNotFoundError(key);
        throw error;
      }
    },

    async delete(key) {
      await client.send(new DeleteObjectCommand({ Bucket, Key: key }));
    },

    async close() {
      client.destroy();
    },
  };
}
