import { randomUUID } from 'node:crypto';
import { type AddressInfo, type Server, createServer } from 'node:net';
import t, { type Test } from 'tap';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { isDatabaseUnavailable } from '../../src/db/errors.js';
import { captureLogs, problemOf } from '../helper.js';
import { authHeader, call } from '../support/accounts.js';

/*
 * A database that cannot be reached is a retryable 503 SERVICE_UNAVAILABLE with Retry-After, logged
 * at warn, never a 500. The app really talks to a port where no Postgres is: one closed, one that
 * accepts and hangs up at once (a server going down mid-restart).
 */

const JWT_SECRET = 'outage-test-secret-0123456789abcdef-0123456789';

async function listening(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

/** A loopback port nothing listens on (it was bound, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  const port = await listening(server);
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A server that accepts every connection and closes it before a word of the protocol. */
async function hangingUpPort(t: Test): Promise<number> {
  const server = createServer((socket) => socket.destroy());
  const port = await listening(server);
  t.teardown(() => new Promise((resolve) => server.close(resolve)));
  return port;
}

async function appWithout(t: Test, port: number) {
  const logs = captureLogs();
  const config = loadConfig({
    LOG_LEVEL: 'warn',
    DATA_DIR: t.testdir(),
    DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/none`,
    MIGRATE_ON_START: 'false',
    JWT_SECRET,
    RATE_LIMIT_MAX: '100000',
  });
  const app = await buildApp(config, { redis: null, logStream: logs.stream });
  t.teardown(() => app.close());
  return { app, logs };
}

for (const [what, port] of [
  ['a closed port', () => closedPort()],
  ['a server that hangs up', (t: Test) => hangingUpPort(t)],
] as const) {
  t.test(`Postgres behind ${what}: 503 SERVICE_UNAVAILABLE with Retry-After, logged at warn`, async (t) => {
    const { app, logs } = await appWithout(t, await port(t));
    const token = app.accessTokens.sign({ sub: randomUUID(), sid: randomUUID(), role: 'user' });
    for (const [label, response] of [
      ['a sign-in', await call(app, 'POST', '/auth/login', { payload: { identifier: 'alice', password: 'Corr3ct-Horse-Battery' } })],
      ['a signed-in read (the session check)', await app.inject({ method: 'GET', url: '/api/v1/users/me', headers: authHeader(token) })],
    ] as const) {
      t.equal(response.statusCode, 503, `${label}: 503`);
      const problem = problemOf(t, response);
      t.equal(problem.code, 'SERVICE_UNAVAILABLE', label);
      t.equal(problem.retryable, true, `${label}: retryable`);
      t.equal(response.headers['retry-after'], String(problem.retryAfter), `${label}: Retry-After matches retryAfter`);
      t.ok(Number(response.headers['retry-after']) > 0);
    }
    const ready = await app.inject({ method: 'GET', url: '/health/ready' });
    t.equal(ready.statusCode, 503, 'readiness says so too');
    const lines = logs.text().trim().split('\n').map((line) => JSON.parse(line) as { level: number; msg: string });
    t.ok(lines.some((line) => line.level === 40 && /dependency is unavailable/.test(line.msg)), 'logged at warn');
    t.notOk(lines.some((line) => line.level >= 50), 'nothing logged at error');
  });
}

t.test('isDatabaseUnavailable tells an unreachable database from a refused query', async (t) => {
  const wrapped = (cause: unknown) => Object.assign(new Error('Failed query: select 1'), { cause });
  for (const [code, expected] of [
    ['ECONNREFUSED', true],
    ['08006', true],
    ['08P01', true],
    ['57P01', true],
    ['57P03', true],
    ['53300', true],
    ['23505', false],
    ['22P02', false],
    ['42P01', false],
  ] as const) {
    t.equal(isDatabaseUnavailable(wrapped(Object.assign(new Error('x'), { code }))), expected, `${code} under a drizzle error`);
  }
  t.ok(isDatabaseUnavailable(wrapped(new Error('Connection terminated unexpectedly'))));
  t.ok(isDatabaseUnavailable(new AggregateError([Object.assign(new Error('connect'), { code: 'ECONNREFUSED' })])), 'dual-stack connect failures');
  t.notOk(isDatabaseUnavailable(new TypeError('x is undefined')));
});
