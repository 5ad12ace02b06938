import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import t, { type Test } from 'tap';
import { ROOT, readFromRoot, walkthroughBlocks } from '../../scripts/readme-walkthroughs.js';
import { SERVER_ENTRY } from '../support/server-process.js';

/*
 * The README's walkthroughs are the scripts in docs/walkthroughs/: the README shows each one as it is,
 * and each runs top to bottom (exit 0: every request answered as the script expects) against the real
 * server process on the embedded defaults, started as the README says (log in a file, an admin from
 * ADMIN_USERNAME/ADMIN_PASSWORD).
 */

const scripts = readdirSync(`${ROOT}docs/walkthroughs`)
  .filter((name) => /^\d\d-.*\.sh$/.test(name))
  .sort()
  .map((name) => `docs/walkthroughs/${name}`);

// Starting the server (tsx transpiles on start) and signing up a dozen users with argon2 at its production
// cost: more than the default per-file limit on 2 busy cores.
t.setTimeout(300_000);

t.test('the README shows every walkthrough script exactly as it is', async (t) => {
  t.ok(scripts.length >= 4, `found the scripts: ${scripts.join(', ')}`);
  const blocks = walkthroughBlocks(readFromRoot('README.md'));
  t.same(blocks.map((block) => block.path).sort(), scripts, 'one marked block per script, none for a missing script');
  for (const block of blocks) {
    t.equal(block.text, readFromRoot(block.path), `${block.path}: the README block is the script (npx tsx scripts/readme-walkthroughs.ts copies them in)`);
  }
});

/** The server on a fresh data directory in `dir`, its log in `logPath`; answers its base URL once it is ready. */
async function startServer(t: Test, dir: string, logPath: string): Promise<string> {
  const log = openSync(logPath, 'w');
  const child = spawn(process.execPath, [SERVER_ENTRY], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HOST: '127.0.0.1',
      PORT: '0',
      DATA_DIR: `${dir}/data`,
      LOG_LEVEL: 'info',
      ADMIN_USERNAME: 'root',
      ADMIN_PASSWORD: 'a long admin passphrase',
    },
    stdio: ['ignore', log, log],
  });
  closeSync(log);
  const stop = () => {
    if (child.exitCode === null) child.kill('SIGKILL');
  };
  t.teardown(stop);
  process.once('exit', stop); // also when the file is cut short by a timeout
  for (;;) {
    const output = readFileSync(logPath, 'utf8');
    const match = /chat backend ready at (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
    if (match) return match[1]!;
    if (child.exitCode !== null) throw new Error(`server exited early:\n${output}`);
    await sleep(100);
  }
}

async function runScript(script: string, env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const child = spawn('bash', [script], { cwd: ROOT, env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, output };
}

t.test('every walkthrough runs top to bottom against npm start on the embedded defaults', async (t) => {
  const dir = t.testdir();
  const serverLog = `${dir}/server.log`;
  const started = performance.now();
  const baseUrl = await startServer(t, dir, serverLog);
  const ready = performance.now();
  // Each script makes users of its own (RUN), so they can share the server and run at once.
  const results = await Promise.all(scripts.map((script, index) => runScript(script, { BASE_URL: baseUrl, SERVER_LOG: serverLog, RUN: `w${index}` })));
  t.comment(`server ready in ${Math.round(ready - started)} ms, walkthroughs done ${Math.round(performance.now() - ready)} ms later`);
  scripts.forEach((script, index) => {
    const { code, output } = results[index]!;
    t.equal(code, 0, `${script} exits 0`, { output: output.slice(-4000) });
  });
  const codesSent = readFileSync(serverLog, 'utf8').split('\n').filter((line) => line.includes('(console provider)')).length;
  t.equal(codesSent, 15, 'one run of all of them sends the 15 codes the README counts against OTP_IP_HOURLY_CAP');
});
