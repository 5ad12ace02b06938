import t from 'tap';
import { problemOf } from '../helper.js';
import { call } from '../support/accounts.js';
import { buildChatApp } from '../support/chat.js';

/*
 * Errors fastify raises before routing come out as problem+json like every other error, and every
 * status a route can answer is declared in the OpenAPI with a problem+json body (issue 13 item 6).
 */

const harness = await buildChatApp(t);
const { app } = harness;

t.test('a path parameter over 100 characters: 414 URI_TOO_LONG as problem+json', async (t) => {
  const alice = await harness.user();
  const response = await call(app, 'GET', `/users/${'a'.repeat(120)}`, { token: alice.accessToken });
  t.equal(response.statusCode, 414);
  const problem = problemOf(t, response);
  t.equal(problem.code, 'URI_TOO_LONG');
  t.equal(problem.status, 414);
  t.equal(problem.requestId, response.headers['x-request-id'], 'the request id is set although no hook ran');
});

t.test('invalid UTF-8 or percent-encoding in a path: 400 BAD_REQUEST as problem+json', async (t) => {
  const alice = await harness.user();
  for (const path of ['/users/%c0%af', '/users/%E0%A4%A', '/chat/%ff/members']) {
    const response = await call(app, 'GET', path, { token: alice.accessToken });
    t.equal(response.statusCode, 400, path);
    t.equal(problemOf(t, response).code, 'BAD_REQUEST', path);
  }
});

t.test('every operation declares the problems any such route can answer', async (t) => {
  await app.ready();
  const doc = app.swagger() as Record<string, any>;
  const listed = [
    ['get', '/api/v1/users/{id}'],
    ['delete', '/api/v1/users/{id}/block'],
    ['delete', '/api/v1/auth/sessions/{id}'],
    ['post', '/api/v1/auth/refresh'],
  ];
  for (const [method, path] of listed) t.ok(doc.paths[path!]?.[method!]?.responses?.['400'], `${method!.toUpperCase()} ${path} declares 400`);
  for (const [path, methods] of Object.entries<Record<string, any>>(doc.paths)) {
    for (const [method, operation] of Object.entries<any>(methods)) {
      const where = `${method.toUpperCase()} ${path}`;
      const declared = Object.keys(operation.responses ?? {});
      const expected = ['400', '500', '503'];
      if (path.includes('{')) expected.push('414');
      if (operation.requestBody) expected.push('413', '415');
      if ((operation.security ?? []).some((requirement: object) => Object.keys(requirement).length > 0)) expected.push('401', '403');
      const missing = expected.filter((status) => !declared.includes(status));
      t.same(missing, [], `${where} declares ${expected.join(', ')}`);
      for (const status of declared.filter((s) => Number(s) >= 400)) {
        t.ok(operation.responses[status].content?.['application/problem+json'], `${where} ${status} is problem+json`);
      }
    }
  }
});

t.test('POST /auth/refresh answers 400 for a malformed body, as now declared', async (t) => {
  const response = await call(app, 'POST', '/auth/refresh', { payload: { refreshToken: '' } });
  t.equal(response.statusCode, 400);
  t.equal(problemOf(t, response).code, 'VALIDATION_FAILED');
});
