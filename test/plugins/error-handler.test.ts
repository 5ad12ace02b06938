import t from 'tap';
import { Type } from 'typebox';
import { AppError } from '../../src/errors.js';
import { PageQuery } from '../../src/schemas/common.js';
import { build, problemOf } from '../helper.js';

t.test('errors are problem+json with stable codes', async (t) => {
  const app = await build(t, { env: { BODY_LIMIT_BYTES: '2048' } });
  app.post(
    '/api/v1/test/echo',
    { schema: { body: Type.Object({ name: Type.String({ minLength: 2 }), age: Type.Integer({ minimum: 0 }) }) } },
    async (request) => request.body,
  );
  app.get('/api/v1/test/page', { schema: { querystring: PageQuery } }, async (request) => request.query);
  app.get('/api/v1/test/domain', async () => {
    throw new AppError('CONFLICT', 'Already there', { existingId: 'abc' });
  });
  app.get('/api/v1/test/crash', async () => {
    throw new Error('relation "users" does not exist at /srv/app/secret.ts:42');
  });

  t.test('unknown route: 404 ROUTE_NOT_FOUND', async (t) => {
    const response = await app.inject({ method: 'GET', url: '/api/v1/nope?x=1' });
    t.equal(response.statusCode, 404);
    const problem = problemOf(t, response);
    t.equal(problem.code, 'ROUTE_NOT_FOUND');
    t.equal(problem.status, 404);
    t.equal(problem.type, 'urn:chat-backend:problem:route-not-found');
    t.equal(problem.requestId, response.headers['x-request-id']);
  });

  t.test('validation lists every offending field', async (t) => {
    const response = await app.inject({ method: 'POST', url: '/api/v1/test/echo', payload: { name: 'x', age: -1 } });
    t.equal(response.statusCode, 400);
    const problem = problemOf(t, response);
    t.equal(problem.code, 'VALIDATION_FAILED');
    t.same(problem.errors?.map((e) => e.field).sort(), ['body.age', 'body.name']);
  });

  t.test('a missing required field is named', async (t) => {
    const response = await app.inject({ method: 'POST', url: '/api/v1/test/echo', payload: { age: 3 } });
    const problem = problemOf(t, response);
    t.same(problem.errors?.map((e) => e.field), ['body.name']);
  });

  t.test('page limit above the cap is a 400 naming query.limit', async (t) => {
    const over = await app.inject({ method: 'GET', url: '/api/v1/test/page?limit=101' });
    t.equal(over.statusCode, 400);
    t.same(problemOf(t, over).errors?.map((e) => e.field), ['query.limit']);
    const ok = await app.inject({ method: 'GET', url: '/api/v1/test/page' });
    t.same(ok.json(), { limit: 50 }, 'default limit applies');
  });

  t.test('malformed JSON: 400 MALFORMED_JSON', async (t) => {
    const response = await app.inject({
      method: 'POST',
      url: '/api/v1/test/echo',
      headers: { 'content-type': 'application/json' },
      payload: '{"name": ',
    });
    t.equal(response.statusCode, 400);
    t.equal(problemOf(t, response).code, 'MALFORMED_JSON');
  });

  t.test('unsupported content type: 415', async (t) => {
    const response = await app.inject({ method: 'POST', url: '/api/v1/test/echo', headers: { 'content-type': 'application/xml' }, payload: '<a/>' });
    t.equal(response.statusCode, 415);
    t.equal(problemOf(t, response).code, 'UNSUPPORTED_MEDIA_TYPE');
  });

  t.test('body over the limit: 413', async (t) => {
    const response = await app.inject({ method: 'POST', url: '/api/v1/test/echo', payload: { name: 'x'.repeat(4096), age: 1 } });
    t.equal(response.statusCode, 413);
    t.equal(problemOf(t, response).code, 'PAYLOAD_TOO_LARGE');
  });

  t.test('domain errors keep their code and extension members', async (t) => {
    const response = await app.inject({ method: 'GET', url: '/api/v1/test/domain' });
    t.equal(response.statusCode, 409);
    const problem = problemOf(t, response);
    t.equal(problem.code, 'CONFLICT');
    t.equal(problem.detail, 'Already there');
    t.equal(problem.existingId, 'abc');
  });

  t.test('unexpected errors: 500 without internals', async (t) => {
    const response = await app.inject({ method: 'GET', url: '/api/v1/test/crash' });
    t.equal(response.statusCode, 500);
    const problem = problemOf(t, response);
    t.equal(problem.code, 'INTERNAL_ERROR');
    t.notMatch(response.body, /relation|secret|\.ts|stack/i);
  });
});

t.test('an incoming well-formed x-request-id is kept, a malformed one replaced', async (t) => {
  const app = await build(t);
  const kept = await app.inject({ method: 'GET', url: '/health/live', headers: { 'x-request-id': 'lb-123.abc' } });
  t.equal(kept.headers['x-request-id'], 'lb-123.abc');
  const replaced = await app.inject({ method: 'GET', url: '/health/live', headers: { 'x-request-id': 'bad id\twith spaces' } });
  t.not(replaced.headers['x-request-id'], 'bad id\twith spaces');
  t.match(String(replaced.headers['x-request-id']), /^[0-9a-f-]{36}$/);
});
