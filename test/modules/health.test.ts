import t from 'tap';
import { createDatabase } from '../../src/db/client.js';
import { createRedis } from '../../src/lib/redis.js';
import { build, problemOf } from '../helper.js';

t.test('live answers ok', async (t) => {
  const app = await build(t);
  const response = await app.inject({ method: 'GET', url: '/health/live' });
  t.equal(response.statusCode, 200);
  t.same(response.json(), { status: 'ok' });
  t.ok(response.headers['x-request-id'], 'every response carries a request id');
});

t.test('ready checks the database (and Redis when configured)', async (t) => {
  const app = await build(t);
  const response = await app.inject({ method: 'GET', url: '/health/ready' });
  t.equal(response.statusCode, 200);
  const body = response.json();
  t.equal(body.status, 'ready');
  t.equal(body.checks.database, 'up');
  t.equal(body.checks.redis, app.redis ? 'up' : undefined);
});

t.test('ready is 503 naming the database when it is unreachable', async (t) => {
  // A real pg pool pointed at a port nothing listens on.
  const database = createDatabase({ url: 'postgres://postgres@127.0.0.1:1/none', poolMax: 1 });
  t.teardown(() => database.close());
  // JWT_SECRET given, so booting needs nothing from the database (an unset one is read from it).
  const app = await build(t, { env: { MIGRATE_ON_START: 'false', JWT_SECRET: 'x'.repeat(32) }, overrides: { database } });
  const response = await app.inject({ method: 'GET', url: '/health/ready' });
  t.equal(response.statusCode, 503);
  const problem = problemOf(t, response);
  t.equal(problem.code, 'SERVICE_UNAVAILABLE');
  t.equal(problem.checks && (problem.checks as Record<string, string>).database, 'down');
  t.match(problem.detail, /database/);
  t.notMatch(JSON.stringify(problem), /ECONNREFUSED|127\.0\.0\.1:1/, 'no connection internals in the body');
});

t.test('ready is 503 naming redis when Redis is configured but down', async (t) => {
  const redis = createRedis('redis://127.0.0.1:1');
  t.teardown(() => redis.disconnect());
  const app = await build(t, { overrides: { redis, bus: undefined } });
  const response = await app.inject({ method: 'GET', url: '/health/ready' });
  t.equal(response.statusCode, 503);
  const problem = problemOf(t, response);
  t.same(problem.checks, { database: 'up', redis: 'down' });
  t.match(problem.detail, /redis/);
});
