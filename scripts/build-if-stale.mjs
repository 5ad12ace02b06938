// Compiles src/ to dist/ only when dist/ is missing or older than a source: run after `npm ci`
// (postinstall) and before `npm start` and `npm test` (prestart, pretest), so neither waits for a build it does not
// need. `--force` (npm run build) always builds. Does nothing where there is nothing to build with (a production install without TypeScript,
// or a Docker stage that has not copied src/ yet).
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const stamp = join(root, 'dist', '.build-stamp');
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
if (!existsSync(join(root, 'src')) || !existsSync(tsc)) process.exit(0);

function newest(path) {
  const info = statSync(path);
  if (!info.isDirectory()) return info.mtimeMs;
  return Math.max(0, ...readdirSync(path).map((name) => newest(join(path, name))));
}

const sources = Math.max(newest(join(root, 'src')), ...['tsconfig.json', 'tsconfig.build.json', 'package-lock.json'].map((f) => newest(join(root, f))));
const force = process.argv.includes('--force');
if (!force && existsSync(stamp) && statSync(stamp).mtimeMs >= sources) process.exit(0);

if (!force) process.stdout.write('building dist/ (sources changed since the last build)...\n');
rmSync(join(root, 'dist'), { recursive: true, force: true });
execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
writeFileSync(stamp, new Date().toISOString());
