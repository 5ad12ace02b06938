import { copyFile, mkdir, open, rename, rm, unlink } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { type ByteRange, ObjectNotFoundError, type ObjectStorage } from './object-storage.js';

/** Objects as files under `root` (DATA_DIR/media by default); a key maps to a relative path. */
export function createDiskStorage(root: string): ObjectStorage {
  const base = resolve(root);
  const pathOf = (key: string) => {
    const path = resolve(base, ...key.split('/'));
    if (!path.startsWith(base + sep)) throw new Error(`storage key escapes the media root: ${key}`);
    return path;
  };

  return {
    driver: 'disk',

    async putFile(key, localPath) {
      const target = pathOf(key);
      await mkdir(dirname(target), { recursive: true });
      try {
        await rename(localPath, target);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EXDEV') throw error;
        // Another filesystem: copy to a temporary name first so readers never see a partial file.
        const partial = `${target}.partial`;
        await copyFile(localPath, partial);
        await rename(partial, target);
        await unlink(localPath);
      }
    },

    async read(key, range?: ByteRange): Promise<Readable> {
      const path = pathOf(key);
      // Open first so a missing file rejects here, not later as a stream error mid-response.
      const handle = await open(path, 'r').catch((error: NodeJS.ErrnoException) => {
        throw error.code === 'ENOENT' ? new ObjectNotFoundError(key) : error;
      });
      return handle.createReadStream(range ? { start: range.start, end: range.end } : {});
    },

    async delete(key) {
      await rm(pathOf(key), { force: true });
    },

    async close() {},
  };
}

/** The temporary directory uploads stream into before they are stored (same filesystem as the disk root). */
export function uploadTempDir(dataDir: string): string {
  return join(resolve(dataDir), 'tmp');
}
