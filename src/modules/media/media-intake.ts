import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileTypeFromBuffer } from 'file-type';
import { AppError } from '../../errors.js';
import { newId } from '../../lib/ids.js';

/** Bytes file-type needs to recognise every format it knows. */
const SNIFF_BYTES = 4100;

export type MediaKind = 'image' | 'video' | 'audio' | 'file';

export interface IntakeRules {
  /** Allowed MIME types ("type/*" allows a family). */
  allowedTypes: readonly string[];
  maxBytes: Record<MediaKind, number>;
  /** Bytes the uploader may still store. */
  quotaLeft: number;
}

export interface ReceivedFile {
  path: string;
  size: number;
  sha256: string;
  mime: string;
  ext: string;
  kind: MediaKind;
}

export function kindOf(mime: string): MediaKind {
  const family = mime.split('/')[0];
  return family === 'image' || family === 'video' || family === 'audio' ? family : 'file';
}

function allowed(mime: string, list: readonly string[]): boolean {
  return list.includes(mime) || list.includes(`${mime.split('/')[0]}/*`);
}

/**
 * Decides the type from the first bytes (never the client's name or header), then counts and hashes
 * every byte, failing the stream with 413 the moment it passes the type's cap or the quota.
 */
class Gatekeeper extends Transform {
  private head: Buffer[] = [];
  private headBytes = 0;
  private limit = 0;
  size = 0;
  type: { mime: string; ext: string; kind: MediaKind } | undefined;
  readonly hash = createHash('sha256');

  private readonly rules: IntakeRules;

  constructor(rules: IntakeRules) {
    super();
    this.rules = rules;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    if (this.type) return done(this.pass(chunk));
    this.head.push(chunk);
    this.headBytes += chunk.length;
    if (this.headBytes < SNIFF_BYTES) return done();
    this.decide().then(() => done(), done);
  }

  override _flush(done: TransformCallback): void {
    if (this.type) return done();
    this.decide().then(() => done(), done);
  }

  private async decide(): Promise<void> {
    const head = Buffer.concat(this.head);
    this.head = [];
    if (head.length === 0) throw new AppError('VALIDATION_FAILED', 'The file is empty', {}, [{ field: 'file', message: 'must not be empty' }]);
    const detected = await fileTypeFromBuffer(head);
    if (!detected || !allowed(detected.mime, this.rules.allowedTypes)) {
      throw new AppError('MEDIA_TYPE_NOT_ALLOWED', detected ? `${detected.mime} files are not accepted` : 'The file type is not recognised', { allowedTypes: this.rules.allowedTypes });
    }
    const kind = kindOf(detected.mime);
    this.type = { mime: detected.mime, ext: detected.ext, kind };
    this.limit = Math.min(this.rules.maxBytes[kind], this.rules.quotaLeft);
    const error = this.pass(head);
    if (error) throw error;
  }

  private pass(chunk: Buffer): Error | undefined {
    this.size += chunk.length;
    if (this.size > this.limit) {
      const cap = this.rules.maxBytes[this.type!.kind];
      return this.size > cap
        ? new AppError('MEDIA_TOO_LARGE', `${this.type!.kind} files may have at most ${cap} bytes`, { maxBytes: cap, kind: this.type!.kind })
        : new AppError('MEDIA_QUOTA_EXCEEDED', 'Your media storage quota is used up', { quotaLeftBytes: this.rules.quotaLeft });
    }
    this.hash.update(chunk);
    this.push(chunk);
    return undefined;
  }
}

/**
 * Streams an upload into a new file under `tempDir`. On any failure (type, size, quota, client
 * abort) the partial file is removed before the error propagates, so nothing is left on disk.
 */
export async function receiveUpload(source: Readable, tempDir: string, rules: IntakeRules): Promise<ReceivedFile> {
  await mkdir(tempDir, { recursive: true });
  const path = join(tempDir, `${newId()}.upload`);
  const gate = new Gatekeeper(rules);
  try {
    await pipeline(source, gate, createWriteStream(path, { flags: 'wx' }));
  } catch (error) {
    await rm(path, { force: true });
    throw error;
  }
  return { path, size: gate.size, sha256: gate.hash.digest('hex'), ...gate.type! };
}
