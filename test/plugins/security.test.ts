import t from 'tap';
import { build, createBackend, problemOf, runConfig } from '../helper.js';

t.test('CORS answers only configured origins', async (t) => {
  const app = await build(t, { env: { CORS_ORIGINS: 'https://app.example.com' } });
  const allowed = await app.inject({
    method: 'OPTIONS',
    url: '/api/v1/anything',
    headers: { origin: 'https://app.example.com', 'access-control-request-method': 'POST' },
  });
  t.equal(allowed.headers['access-control-allow-origin'], 'https://app.example.com');
  t.match(String(allowed.headers['access-control-allow-headers']), /Authorization/);

  const denied = await app.inject({
    method: 'OPTIONS',
    url: '/api/v1/anything',
    headers: { origin: 'https://evil.example.com', 'access-control-request-method': 'POST' },
  });
  t.notOk(denied.headers['access-control-allow-origin'], 'no CORS grant for other origins');
});

t.test('security headers are set', async (t) => {
  const app = await build(t);
  const response = await app.inject({ method: 'GET', url: '/health/live' });
  t.equal(response.headers['x-content-type-options'], 'nosniff');
  t.ok(response.headers['content-security-policy']);
  t.notMatch(String(response.headers['content-security-policy']), /upgrade-insecure-requests/);
});

t.test('rate limit: 429 problem+json with retryAfter, health exempt', async (t) => {
  const app = await build(t, { env: { RATE_LIMIT_MAX: '3', RATE_LIMIT_WINDOW_MS: '60000' } });
  const statuses: number[] = [];
  for (let i = 0; i < 4; i++) statuses.push((await app.inject({ method: 'GET', url: '/api/v1/anything' })).statusCode);
  t.same(statuses, [404, 404, 404, 429]);
  const limited = await app.inject({ method: 'GET', url: '/api/v1/anything' });
  const problem = problemOf(t, limited);
  t.equal(problem.code, 'RATE_LIMITED');
  t.type(problem.retryAfter, 'number');
  t.ok(Number(problem.retryAfter) >= 1 && Number(problem.retryAfter) <= 60);
  t.ok(limited.headers['retry-after'], 'Retry-After header');
  for (let i = 0; i < 5; i++) t.equal((await app.inject({ method: 'GET', url: '/health/live' })).statusCode, 200, 'health is never limited');
});

if (runConfig.redis.url) {
  t.test('rate limit counts are shared across instances through Redis', async (t) => {
    const backend = await createBackend(t);
    const env = { RATE_LIMIT_MAX: '4', RATE_LIMIT_WINDOW_MS: '60000' };
    const a = await build(t, { backend, env });
    const b = await build(t, { backend, env });
    for (let i = 0; i < 2; i++) {
      t.equal((await a.inject({ method: 'GET', url: '/api/v1/x' })).statusCode, 404);
      t.equal((await b.inject({ method: 'GET', url: '/api/v1/x' })).statusCode, 404);
    }
    t.equal((await a.inject({ method: 'GET', url: '/api/v1/x' })).statusCode, 429, 'the fifth request across both is limited');
  });
}

t.test('TRUST_PROXY hop count trusts exactly that many proxies', async (t) => {
  const app = await build(t, { env: { TRUST_PROXY: '1' } });
  app.get('/api/v1/test/ip', async (request) => ({ ip: request.ip }));
  const response = await app.inject({
    method: 'GET',
    url: '/api/v1/test/ip',
    remoteAddress: '10.0.0.2',
    headers: { 'x-forwarded-for': '6.6.6.6, 203.0.113.9' },
  });
  t.equal(response.json().ip, '203.0.113.9', 'the address the one trusted proxy saw');
});
