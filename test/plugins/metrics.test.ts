import t from 'tap';
import { AppError } from '../../src/errors.js';
import { build, problemOf } from '../helper.js';

t.test('metrics count requests by route pattern and status', async (t) => {
  const app = await build(t);
  await app.inject({ method: 'GET', url: '/health/live' });
  await app.inject({ method: 'GET', url: '/health/live' });
  await app.inject({ method: 'GET', url: '/api/v1/nope/123' });
  const response = await app.inject({ method: 'GET', url: '/metrics' });
  t.equal(response.statusCode, 200);
  t.match(String(response.headers['content-type']), /^text\/plain/);
  t.match(response.body, /http_requests_total\{method="GET",route="\/health\/live",status_code="200"\} 2/);
  t.match(response.body, /http_requests_total\{method="GET",route="unmatched",status_code="404"\} 1/);
  t.match(response.body, /http_request_duration_seconds_bucket\{le="0.005",method="GET",route="\/health\/live",status_code="200"\}/);
  t.notMatch(response.body, /nope\/123/, 'raw URLs never become label values');
});

t.test('METRICS_TOKEN protects /metrics', async (t) => {
  const token = 'metrics-token-0123456789';
  const app = await build(t, { env: { METRICS_TOKEN: token } });
  const anonymous = await app.inject({ method: 'GET', url: '/metrics' });
  t.equal(anonymous.statusCode, 401);
  t.equal(problemOf(t, anonymous).code, 'UNAUTHORIZED');
  const wrong = await app.inject({ method: 'GET', url: '/metrics', headers: { authorization: 'Bearer nope' } });
  t.equal(wrong.statusCode, 401);
  const allowed = await app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${token}` } });
  t.equal(allowed.statusCode, 200);
  t.match(allowed.body, /http_requests_total/);
});

t.test('5xx answers are counted by route and problem code', async (t) => {
  const app = await build(t);
  app.get('/api/v1/test/crash/:id', async () => {
    throw new Error('a bug');
  });
  app.get('/api/v1/test/down', async () => {
    throw new AppError('SERVICE_UNAVAILABLE');
  });
  app.get('/api/v1/test/refused', async () => {
    throw new AppError('CONFLICT');
  });
  for (const url of ['/api/v1/test/crash/1', '/api/v1/test/crash/2', '/api/v1/test/down', '/api/v1/test/refused']) await app.inject({ method: 'GET', url });
  const { body } = await app.inject({ method: 'GET', url: '/metrics' });
  t.match(body, /http_server_errors_total\{method="GET",route="\/api\/v1\/test\/crash\/:id",code="INTERNAL_ERROR"\} 2/);
  t.match(body, /http_server_errors_total\{method="GET",route="\/api\/v1\/test\/down",code="SERVICE_UNAVAILABLE"\} 1/);
  t.notMatch(body, /http_server_errors_total\{[^}]*test\/refused/, '4xx answers are not server errors');
});
