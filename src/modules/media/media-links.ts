import { createHmac } from 'node:crypto';
import { safeEqual } from '../../lib/crypto.js';

export type MediaVariant = 'original' | 'thumbnail';

/**
 * Signed, expiring media URLs for clients that cannot send an Authorization header (an <img> tag, a
 * video player): `?exp=<unix seconds>&sig=<HMAC-SHA256(id:variant:exp)>`. Anyone holding the URL may
 * read that one variant of that one media until `exp`.
 */
export function createMediaLinks(options: { secret: string; ttlSeconds: number; basePath: string }) {
  const sign = (id: string, variant: MediaVariant, exp: number) => createHmac('sha256', options.secret).update(`${id}:${variant}:${exp}`).digest('base64url');
  const pathOf = (id: string, variant: MediaVariant) => `${options.basePath}/${id}${variant === 'thumbnail' ? '/thumbnail' : ''}`;

  return {
    pathOf,
    /** A signed URL valid for the configured TTL (rounded up to the minute so repeated calls agree). */
    signed(id: string, variant: MediaVariant, now = Date.now()) {
      const exp = Math.ceil((now / 1000 + options.ttlSeconds) / 60) * 60;
      return { url: `${pathOf(id, variant)}?exp=${exp}&sig=${sign(id, variant, exp)}`, expiresAt: new Date(exp * 1000) };
    },
    verify(id: string, variant: MediaVariant, exp: string, sig: string, now = Date.now()): boolean {
      if (!/^\d{1,12}$/.test(exp) || Number(exp) * 1000 < now) return false;
      return safeEqual(sign(id, variant, Number(exp)), sig);
    },
  };
}

export type MediaLinks = ReturnType<typeof createMediaLinks>;
