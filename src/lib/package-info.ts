import { readFileSync } from 'node:fs';

/** name and version from package.json (the same relative path from src/lib and dist/lib). */
export const packageInfo: { name: string; version: string } = JSON.parse(
  readFileSync(new URL('../../package.json', import.meta.url), 'utf8'),
);
