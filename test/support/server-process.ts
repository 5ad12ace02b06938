import { fileURLToPath } from 'node:url';

/**
 * How tests start the server as a user does: `npm start` runs `node dist/server.js` (after its
 * prestart build; it also passes --max-semi-space-size, a memory setting the tests do not need).
 * `pretest` (scripts/build-if-stale.mjs, package.json) brings dist/ up to date with src/ once,
 * before any test file runs, so a spawned server is the current code without paying a TypeScript
 * transpile on each start.
 */
export const SERVER_ENTRY = fileURLToPath(new URL('../../dist/server.js', import.meta.url));
