import type { Readable } from 'node:stream';

/** An inclusive byte range of a stored object, as HTTP `Range: bytes=start-end` names it. */
export interface ByteRange {
  start: number;
  end: number;
}

/**
 * Where media bytes live: local disk or an S3-compatible bucket. Keys are opaque, '/'-separated
 * paths chosen by the media service. Objects are written whole from a finished local file (so the
 * length is known and nothing is held in memory) and read as streams, optionally a byte range.
 */
export interface ObjectStorage {
  readonly driver: 'disk' | 's3';
  /** Stores the file at `localPath` under `key`, consuming the file (it may be moved, not copied). */
  putFile(key: string, localPath: string, meta: { size: number; contentType: string }): Promise<void>;
  /** The object's bytes, or only `range` of them. Rejects with ObjectNotFoundError when missing. */
  read(key: string, range?: ByteRange): Promise<Readable>;
  /** Removes the object; a missing one is not an error. */
  delete(key: string): Promise<void>;
  close(): Promise<void>;
}

export class ObjectNotFoundError extends Error {
  override name = 'ObjectNotFoundError';
  readonly key: string;

  constructor(key: string) {
    super(`no stored object ${key}`);
    this.key = key;
  }
}
