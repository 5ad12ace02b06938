// Builds tap's test class for the plugin list in package.json (`tap build`), once per install and list.
// tap notices a changed list only after its runner has started, and rebuilds then: the test processes of
// that first run still load the default plugins, @tapjs/typescript's loader among them, which made the
// first `npm test` after `npm ci` about half as slow again. `npm test` runs this before tap (pretest).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const tap = join(root, 'node_modules', '.bin', 'tap');
const marker = join(root, 'node_modules', '.cache', 'tap-plugins.json');
if (!existsSync(tap)) process.exit(0);

const wanted = JSON.stringify(JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).tap?.plugin ?? []);
if (existsSync(marker) && readFileSync(marker, 'utf8') === wanted) process.exit(0);

process.stdout.write('building tap for the configured plugins (once per install)...\n');
execFileSync(tap, ['build'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
mkdirSync(dirname(marker), { recursive: true });
writeFileSync(marker, wanted);
