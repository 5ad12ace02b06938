import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * The README's walkthroughs are copies of the scripts in docs/walkthroughs/, which a test runs against
 * a started server. A copy is the ```sh block right after a `<!-- walkthrough: <path> -->` line, and
 * holds the whole file at that path (relative to the repository root).
 *
 * `npx tsx scripts/readme-walkthroughs.ts` rewrites every marked block of README.md from its script;
 * test/docs/walkthroughs.test.ts fails while a block and its script differ.
 */
const MARKED_BLOCK = /<!-- walkthrough: (\S+) -->\n```sh\n([\s\S]*?)```/g;

export const ROOT = fileURLToPath(new URL('..', import.meta.url));

export interface WalkthroughBlock {
  /** The script's path from the repository root. */
  path: string;
  /** The block's text, up to the closing fence. */
  text: string;
}

export function walkthroughBlocks(readme: string): WalkthroughBlock[] {
  return [...readme.matchAll(MARKED_BLOCK)].map((match) => ({ path: match[1]!, text: match[2]! }));
}

/** The README with every marked block replaced by the current text of its script. */
export function syncWalkthroughs(readme: string, read: (path: string) => string): string {
  return readme.replace(MARKED_BLOCK, (_block, path: string) => `<!-- walkthrough: ${path} -->\n\`\`\`sh\n${read(path)}\`\`\``);
}

export function readFromRoot(path: string): string {
  return readFileSync(`${ROOT}${path}`, 'utf8');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const readme = readFromRoot('README.md');
  const synced = syncWalkthroughs(readme, readFromRoot);
  writeFileSync(`${ROOT}README.md`, synced);
  const paths = walkthroughBlocks(synced).map((block) => block.path);
  process.stdout.write(synced === readme ? `README.md already matches ${paths.join(', ')}\n` : `README.md updated from ${paths.join(', ')}\n`);
}
