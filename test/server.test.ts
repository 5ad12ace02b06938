import { spawn } from 'node:child_process';
import { once } from 'node:events';
import t from 'tap';
import WebSocket from 'ws';
import { CLOSE_GOING_AWAY } from '../src/plugins/websocket.js';
import { build, createPostgresDatabase, runConfig } from './helper.js';
import { SERVER_ENTRY } from './support/server-process.js';

t.test('app.close() closes open sockets with 1001 and stops accepting', async (t) => {
  const app = await build(t);
  // Booting waits for migrations however long they take: with fastify's 10 s plugin timeout, an
  // instance waiting for another's migrations (advisory lock) failed: "Plugin did not start in time".
  t.equal(app.initialConfig.pluginTimeout, 0, 'no plugin timeout');
  app.get('/test/socket', { websocket: true }, (socket) => {
    socket.send('hello');
  });
  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  const client = new WebSocket(`${address.replace('http', 'ws')}/test/socket`);
  const [greeting] = await once(client, 'message');
  t.equal(String(greeting), 'hello');

  const closed = once(client, 'close');
  await app.close();
  const [code, reason] = (await closed) as [number, Buffer];
  t.equal(code, CLOSE_GOING_AWAY);
  t.equal(String(reason), 'server shutting down');
  await t.rejects(fetch(`${address}/health/live`), 'the port no longer accepts connections');
});

t.test('the server process shuts down cleanly on SIGTERM', async (t) => {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOST: '127.0.0.1',
    PORT: '0',
    DATA_DIR: t.testdir(),
    LOG_LEVEL: 'info',
  };
  if (runConfig.database.url) env.DATABASE_URL = await createPostgresDatabase(t, runConfig.database.url, 'empty');
  if (runConfig.redis.url) env.REDIS_URL = runConfig.redis.url;
  const child = spawn(process.execPath, [SERVER_ENTRY], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  let output = '';
  child.stderr.on('data', (chunk) => (output += chunk));
  const address = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (chunk) => {
      output += chunk;
      const match = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
      if (match) resolve(match[1]!);
    });
    child.once('exit', () => reject(new Error(`server exited early:\n${output}`)));
  });
  const ready = await fetch(`${address}/health/ready`);
  t.equal(ready.status, 200);

  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const [code] = await exited;
  t.equal(code, 0, 'exit code 0');
  t.match(output, /"signal":"SIGTERM".*"msg":"shutting down"/);
});

t.test('the server refuses to start on bad config and names the variable', async (t) => {
  const child = spawn(process.execPath, [SERVER_ENTRY], {
    env: { PATH: process.env.PATH ?? '', PORT: 'not-a-port', DATA_DIR: t.testdir() },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const [code] = await once(child, 'exit');
  t.equal(code, 1);
  t.match(stderr, /PORT="not-a-port": must be integer/);
});
