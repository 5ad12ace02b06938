import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { once } from 'node:events';
import { rmSync } from 'node:fs';
import t, { type Test } from 'tap';
import { SERVER_ENTRY } from './support/server-process.js';

/*
 * The first minutes of a user on the embedded default, with real processes: the boot line says what
 * runs where; a second process on the same embedded database (another server, admin:create,
 * db:migrate) is refused with a message naming the holder, and nothing the first one stored is
 * lost; a killed server's stale lock does not block the next start; a busy port names PORT.
 */

interface Started {
  child: ChildProcessWithoutNullStreams;
  address: string;
  output: () => string;
}

/** `args[0]` a TypeScript entry (what `npm run` scripts start through tsx) or the built server. */
function run(t: Test, args: string[], env: Record<string, string>) {
  const nodeArgs = args[0]!.endsWith('.ts') ? ['--import', 'tsx', ...args] : args;
  const child = spawn(process.execPath, nodeArgs, { env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'info', ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  const stop = () => {
    if (child.exitCode === null) child.kill('SIGKILL');
  };
  t.teardown(stop);
  process.once('exit', stop); // also when the file is cut short by a timeout
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  return { child, output: () => output };
}

async function startServer(t: Test, env: Record<string, string>): Promise<Started> {
  const { child, output } = run(t, [SERVER_ENTRY], { HOST: '127.0.0.1', PORT: '0', ...env });
  const address = await new Promise<string>((resolve, reject) => {
    const check = () => {
      const match = /chat backend ready at (http:\/\/127\.0\.0\.1:\d+)/.exec(output());
      if (match) resolve(match[1]!);
    };
    child.stdout.on('data', check);
    child.once('exit', () => reject(new Error(`server exited early:\n${output()}`)));
  });
  return { child, address, output };
}

async function exitOf(t: Test, args: string[], env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const { child, output } = run(t, args, env);
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, output: output() };
}

const json = { 'content-type': 'application/json' };
// Each case starts several Node processes: more than the default per-file limit on 2 busy cores.
t.setTimeout(300_000);

t.test('one process per embedded database; what the first stored survives a crash and a restart', async (t) => {
  const dataDir = t.testdir();
  const env = { DATA_DIR: dataDir, AUTH_LOGIN_OTP: 'false', ARGON2_MEMORY_COST: '1024', ARGON2_TIME_COST: '2' };
  const first = await startServer(t, env);
  const line = first.output().split('\n').find((l) => l.includes('chat backend ready'))!;
  t.match(line, new RegExp(`"database":"embedded ${dataDir}/pglite"`), 'the boot line names the embedded database');
  t.match(line, /"bus":"in-process \(single instance\)"/, 'and the bus');
  t.match(line, /"docs":"http:\/\/127\.0\.0\.1:\d+\/docs"/, 'and where the docs are');
  t.match(line, /"sms":"console/);
  t.match(line, /"push":"webpush"/, 'and the push platforms (Web Push only, unconfigured)');
  t.notMatch(line, /secret|password/i, 'no secret');

  const admin = await exitOf(t, ['scripts/admin-create.ts', '--username', 'root', '--password', 'correct horse battery'], env);
  t.equal(admin.code, 1, 'admin:create refuses while the server holds the database');
  t.match(admin.output, new RegExp(`in use by process ${first.child.pid}`), 'and names the process that holds it');
  t.match(admin.output, /ADMIN_USERNAME/, 'and says how to create an admin instead');
  t.notMatch(admin.output, /created admin/, 'it does not claim success');

  const migrate = await exitOf(t, ['src/db/migrate-cli.ts'], env);
  t.equal(migrate.code, 1, 'db:migrate refuses too');
  t.match(migrate.output, /in use by process/);

  const second = await exitOf(t, [SERVER_ENTRY], { ...env, HOST: '127.0.0.1', PORT: '0' });
  t.equal(second.code, 1, 'a second server on the same data dir refuses to start');
  t.match(second.output, /in use by process/);

  const registered = await fetch(`${first.address}/api/v1/auth/register`, { method: 'POST', headers: json, body: JSON.stringify({ username: 'keeper', password: 'a long enough passphrase', email: 'keeper@example.test' }) });
  t.equal(registered.status, 201, 'the first server still works');

  first.child.kill('SIGKILL'); // leaves a stale lock behind
  await once(first.child, 'exit');
  const restarted = await startServer(t, env);
  const login = await fetch(`${restarted.address}/api/v1/auth/login`, { method: 'POST', headers: json, body: JSON.stringify({ identifier: 'keeper', password: 'a long enough passphrase' }) });
  t.equal(login.status, 200, 'after a crash the next start takes over the stale lock, and the account is there');
  restarted.child.kill('SIGTERM');
  await once(restarted.child, 'exit');
  const created = await exitOf(t, ['scripts/admin-create.ts', '--username', 'root', '--password', 'correct horse battery'], env);
  t.equal(created.code, 0, 'with the server stopped, admin:create works');
  t.match(created.output, /created admin root/);
});

t.test('a port in use names the variable to change', async (t) => {
  const first = await startServer(t, { DATA_DIR: t.testdir() });
  const port = new URL(first.address).port;
  const otherDir = `${t.testdirName}-other`;
  t.teardown(() => rmSync(otherDir, { recursive: true, force: true }));
  const second = await exitOf(t, [SERVER_ENTRY], { DATA_DIR: otherDir, HOST: '127.0.0.1', PORT: port });
  t.equal(second.code, 1);
  t.match(second.output, new RegExp(`Port ${port} on 127.0.0.1 is already in use: set PORT`));
  t.notMatch(second.output, /\n\s+at .*:\d+:\d+/, 'no stack trace');
});
