import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LightMyRequestResponse } from 'fastify';
import S3rver from 's3rver';
import sharp from 'sharp';
import type { Test } from 'tap';
import type { App } from '../../src/app.js';
import type { MessageAttachment } from '../../src/db/schema.js';
import type { Env } from '../helper.js';
import { API, type Account, authHeader, expectStatus } from './accounts.js';

/*
 * Media test support: both storage drivers (disk under the app's DATA_DIR, and S3 through the AWS
 * SDK against s3rver on loopback), real files (generated with sharp, or committed under
 * test/fixtures/media), and multipart uploads built byte by byte.
 */

export type Driver = 'disk' | 's3';
export const DRIVERS: Driver[] = ['disk', 's3'];

const FIXTURES = new URL('../fixtures/media/', import.meta.url);

export async function fixture(name: string): Promise<Buffer> {
  return readFile(new URL(name, FIXTURES));
}

/** An S3-compatible server on an ephemeral loopback port with one empty bucket; the env that points the app at it. */
export async function startS3(t: Test): Promise<{ env: Env; directory: string }> {
  // Not t.testdir(): the app's DATA_DIR is that, and tap empties it when it is asked for again.
  const directory = await mkdtemp(join(tmpdir(), 's3rver-'));
  t.teardown(() => rm(directory, { recursive: true, force: true }));
  const bucket = `media-${randomBytes(4).toString('hex')}`;
  const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory, configureBuckets: [{ name: bucket, configs: [] }] });
  const address = (await server.run()) as unknown as { address: string; port: number };
  t.teardown(() => server.close());
  return {
    directory,
    env: {
      S3_BUCKET: bucket,
      S3_ENDPOINT: `http://127.0.0.1:${address.port}`,
      S3_REGION: 'us-east-1',
      S3_ACCESS_KEY_ID: 'S3RVER',
      S3_SECRET_ACCESS_KEY: 'S3RVER',
      S3_FORCE_PATH_STYLE: 'true',
    },
  };
}

/** The env for a driver (starting s3rver for 's3'). */
export async function storageEnv(t: Test, driver: Driver): Promise<Env> {
  return driver === 's3' ? (await startS3(t)).env : {};
}

/** Every file under `dir` (recursively), as relative paths; [] when it does not exist. */
export async function filesUnder(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir, { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name).slice(dir.length + 1));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}

export function multipartBody(parts: Array<{ field: string; fileName?: string; contentType?: string; bytes: Buffer | string }>) {
  const boundary = `----test${randomBytes(8).toString('hex')}`;
  const chunks: Buffer[] = [];
  for (const part of parts) {
    const disposition = `form-data; name="${part.field}"${part.fileName !== undefined ? `; filename="${part.fileName}"` : ''}`;
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: ${disposition}\r\n${part.contentType ? `Content-Type: ${part.contentType}\r\n` : ''}\r\n`));
    chunks.push(Buffer.isBuffer(part.bytes) ? part.bytes : Buffer.from(part.bytes));
    chunks.push(Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { payload: Buffer.concat(chunks), contentType: `multipart/form-data; boundary=${boundary}` };
}

/** POST /media as multipart with one file; `contentType` is what the client claims (ignored by the server). */
export function uploadRaw(app: App, who: Account, bytes: Buffer, fileName = 'upload.bin', contentType = 'application/octet-stream'): Promise<LightMyRequestResponse> {
  const body = multipartBody([{ field: 'file', fileName, contentType, bytes }]);
  return app.inject({ method: 'POST', url: `${API}/media`, headers: { ...authHeader(who.accessToken), 'content-type': body.contentType }, payload: body.payload });
}

/** The media resource: the attachment fields plus signed URLs. */
export interface MediaBody extends MessageAttachment {
  createdAt: string;
  url: string;
  thumbnailUrl: string | null;
  urlExpiresAt: string;
}

export async function upload(app: App, who: Account, bytes: Buffer, fileName?: string): Promise<MediaBody> {
  return expectStatus<MediaBody>(await uploadRaw(app, who, bytes, fileName), 201, `upload ${fileName ?? ''} by ${who.username}`);
}

/** GET a media path (or signed URL) with optional headers and bearer. */
export function fetchMedia(app: App, url: string, options: { token?: string; headers?: Record<string, string> } = {}) {
  return app.inject({ method: 'GET', url: url.startsWith('/api/') ? url : `${API}${url}`, headers: { ...(options.token ? authHeader(options.token) : {}), ...options.headers } });
}

/** A real PNG of the given size (a gradient-ish solid, so it compresses but decodes). */
export function png(width = 64, height = 48): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: { r: 200, g: 30, b: 60 } } }).png().toBuffer();
}

/** A real JPEG carrying EXIF with a GPS position and a camera make. */
export function jpegWithGps(width = 800, height = 600): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: { r: 20, g: 120, b: 200 } } })
    .jpeg({ quality: 90 })
    .withExif({ IFD0: { Make: 'TestCam', Model: 'Leaky 1' }, IFD3: { GPSLatitudeRef: 'N', GPSLatitude: '51/1 30/1 0/1', GPSLongitudeRef: 'W', GPSLongitude: '0/1 7/1 0/1' } })
    .toBuffer();
}

/** A buffer of `size` bytes that starts like a real PNG (file-type says image/png) but does not decode. */
export async function pngHeaderPadded(size: number): Promise<Buffer> {
  const head = await png(8, 8);
  return Buffer.concat([head.subarray(0, 64), Buffer.alloc(size - 64, 7)]);
}
