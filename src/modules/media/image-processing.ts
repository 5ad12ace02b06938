import { rename, rm, stat } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { createHash } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import type { Sharp } from 'sharp';
import { AppError } from '../../errors.js';

/** Longest side of a thumbnail, in pixels. */
export const THUMBNAIL_SIZE = 320;
/** Decompression-bomb guard: images with more pixels than this are refused. */
const MAX_PIXELS = 100_000_000;

type SharpOptions = { limitInputPixels: number; failOn: 'error' };
type SharpFactory = (typeof import('sharp'))['default'];

/** sharp (libvips) is loaded with the first image, not at every boot. */
let sharpModule: Promise<SharpFactory> | undefined;
const loadSharp = () => (sharpModule ??= import('sharp').then((module) => module.default));

/**
 * How each accepted image type is rewritten so that no metadata reaches storage: EXIF (GPS location,
 * camera serials), XMP, comments (a GIF comment block can carry anything). GIFs keep every frame. A
 * type without an entry cannot be cleaned, so it is refused (MEDIA_TYPE_NOT_ALLOWED), even when
 * MEDIA_ALLOWED_TYPES lets it in.
 */
const REENCODE: Record<string, (sharp: SharpFactory, path: string, options: SharpOptions) => Sharp> = {
  'image/jpeg': (sharp, path, options) => sharp(path, options).rotate().keepIccProfile(),
  'image/png': (sharp, path, options) => sharp(path, options).rotate().keepIccProfile(),
  'image/webp': (sharp, path, options) => sharp(path, options).rotate().keepIccProfile(),
  'image/avif': (sharp, path, options) => sharp(path, options).rotate().keepIccProfile().avif(),
  'image/tiff': (sharp, path, options) => sharp(path, options).rotate().keepIccProfile().tiff(),
  'image/gif': (sharp, path, options) => sharp(path, { ...options, animated: true }).gif(),
};

export interface ProcessedImage {
  width: number;
  height: number;
  size: number;
  sha256: string;
  thumbnailPath: string;
}

async function fileDigest(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path), hash);
  return hash.digest('hex');
}

/**
 * Rewrites the image at `path` without its metadata (orientation applied first, colour profile
 * kept; see REENCODE), measures it, and writes a JPEG thumbnail beside it. A file whose header claims an image
 * but does not decode is refused (400 MEDIA_UNREADABLE).
 */
export async function processImage(path: string, mime: string): Promise<ProcessedImage> {
  const thumbnailPath = `${path}.thumb`;
  const cleaned = `${path}.clean`;
  try {
    const options: SharpOptions = { limitInputPixels: MAX_PIXELS, failOn: 'error' };
    const reencode = REENCODE[mime];
    if (!reencode) throw new AppError('MEDIA_TYPE_NOT_ALLOWED', `${mime} images are not accepted: their metadata cannot be removed`);
    const sharp = await loadSharp();
    await reencode(sharp, path, options).toFile(cleaned);
    await rename(cleaned, path);
    const meta = await sharp(path, options).metadata();
    await sharp(path, { ...options, pages: 1 })
      .rotate()
      .resize(THUMBNAIL_SIZE, THUMBNAIL_SIZE, { fit: 'inside', withoutEnlargement: true })
      .flatten({ background: '#ffffff' })
      .jpeg({ quality: 70 })
      .toFile(thumbnailPath);
    const { size } = await stat(path);
    return { width: meta.width ?? 0, height: meta.pageHeight ?? meta.height ?? 0, size, sha256: await fileDigest(path), thumbnailPath };
  } catch (error) {
    await Promise.all([rm(cleaned, { force: true }), rm(thumbnailPath, { force: true })]);
    if (error instanceof Error && !(error instanceof AppError)) throw new AppError('MEDIA_UNREADABLE', 'The image could not be decoded');
    throw error;
  }
}
