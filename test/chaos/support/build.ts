import { mkdtempSync, readdirSync, symlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';
import { removeOnExit } from './services.js';

/**
 * Compiles src/ once per run (esbuild, file by file, as tsx would on every start) into a scratch
 * directory that mirrors the project root (package.json, migrations and node_modules are linked), so
 * an instance starts and restarts as `node build/server.js` without paying tsx's compile each time.
 * Returns the entry script.
 */
export async function buildServer(root = process.cwd()): Promise<string> {
  const dir = mkdtempSync('/tmp/chaos-build-');
  removeOnExit(dir);
  for (const name of ['package.json', 'migrations', 'node_modules']) symlinkSync(resolve(root, name), join(dir, name));
  const src = resolve(root, 'src');
  const entryPoints = readdirSync(src, { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.ts'))
    .map((file) => join(src, file));
  await build({ entryPoints, outbase: src, outdir: join(dir, 'build'), format: 'esm', platform: 'node', target: 'node20', sourcemap: 'inline', logLevel: 'warning' });
  return join(dir, 'build', 'server.js');
}
