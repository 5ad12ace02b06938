import { readFile } from 'node:fs/promises';
import t from 'tap';
import { parse, stringify } from 'yaml';
import { renderOpenApi } from '../../src/plugins/swagger.js';
import { renderAsyncApi } from '../../src/realtime/asyncapi.js';
import { clientFrames } from '../../src/realtime/frames.js';
import { serverFrames } from '../../src/realtime/server-frames.js';
import { build } from '../helper.js';

t.test('the committed openapi/openapi.json is what the app generates', async (t) => {
  const app = await build(t);
  await app.ready();
  const committed = await readFile(new URL('../../openapi/openapi.json', import.meta.url), 'utf8');
  t.equal(renderOpenApi(app), committed, 'run `npm run openapi` and commit the result');
});

t.test('every response schema compiles to a serializer (they are built lazily, on first use)', async (t) => {
  const app = await build(t);
  await app.ready();
  t.doesNotThrow(() => app.compileAllSerializers(), 'no route declares a response schema fast-json-stringify refuses');
  const health = await app.inject({ method: 'GET', url: '/health/live' });
  t.equal(health.statusCode, 200, 'and a response still serializes afterwards');
});

t.test('the document has the contract integrators rely on', async (t) => {
  const app = await build(t, { env: { PUBLIC_URL: 'https://chat.example.com/' } });
  await app.ready();
  const doc = app.swagger() as Record<string, any>;
  t.equal(doc.openapi, '3.1.0');
  t.ok(doc.info.title && doc.info.version);
  t.same(doc.servers[0], { url: 'https://chat.example.com' }, 'PUBLIC_URL is listed first');
  t.same(doc.components.securitySchemes.bearerAuth, { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' });
  t.ok(doc.components.schemas.Problem, 'shared Problem schema');
  const tags = doc.tags.map((tag: { name: string }) => tag.name);
  for (const tag of ['auth', 'users', 'chat', 'message', 'admin']) t.ok(tags.includes(tag), `tag ${tag}`);
  t.notOk(doc.paths['/metrics'], 'internal routes are hidden');
  for (const [path, methods] of Object.entries<Record<string, any>>(doc.paths)) {
    for (const [method, operation] of Object.entries<any>(methods)) {
      const success = Object.keys(operation.responses ?? {}).filter((status) => status.startsWith('2'));
      t.ok(success.length > 0, `${method.toUpperCase()} ${path} documents its success response`);
      t.ok(operation.tags?.length, `${method.toUpperCase()} ${path} has a tag`);
    }
  }
});

t.test('every operation is a contract a typed-client generator can use', async (t) => {
  const app = await build(t);
  await app.ready();
  const doc = app.swagger() as Record<string, any>;
  const ids = new Set<string>();
  let operations = 0;
  for (const [path, methods] of Object.entries<Record<string, any>>(doc.paths)) {
    for (const [method, operation] of Object.entries<any>(methods)) {
      const name = `${method.toUpperCase()} ${path}`;
      operations += 1;
      t.match(operation.operationId, /^[a-z][A-Za-z0-9]*$/, `${name} has a camelCase operationId`);
      t.notOk(ids.has(operation.operationId), `${name}: operationId ${operation.operationId} is unique`);
      ids.add(operation.operationId);
      t.ok(operation.summary && operation.description, `${name} has a summary and a description`);
      for (const parameter of operation.parameters ?? []) {
        if (parameter.schema?.default !== undefined) t.equal(parameter.required, false, `${name}: ${parameter.name} has a default, so it is optional`);
      }
      for (const [status, response] of Object.entries<any>(operation.responses)) {
        t.not(response.description, 'Default Response', `${name} ${status} is described`);
        const problem = response.content?.['application/problem+json'];
        if (problem) t.same(problem.schema, { $ref: `#/components/schemas/Problem${status}` }, `${name} ${status} names its codes`);
      }
      const body = operation.requestBody?.content;
      if (body) for (const [type, media] of Object.entries<any>(body)) t.ok(media.example ?? media.examples, `${name} ${type} body has an example`);
      const [, main] = Object.entries<any>(operation.responses).find(([status]) => status.startsWith('2'))!;
      const json = main.content?.['application/json'];
      if (json) t.ok(json.example ?? json.examples, `${name} main response has an example`);
    }
  }
  t.ok(operations >= 92, 'every operation was checked');
  for (const id of ['listConversations', 'getConversation', 'sendMessage', 'register', 'login']) t.ok(ids.has(id), `operationId ${id}`);
  const inbox = doc.paths['/api/v1/chat'].get.parameters;
  t.same(inbox.filter((p: any) => p.required).map((p: any) => p.name), [], 'GET /chat needs no query parameter');
  t.equal(doc.paths['/api/v1/message/search'].get.parameters.find((p: any) => p.name === 'q').required, true, 'a parameter without default stays required');
  const conflict = doc.components.schemas.Problem409;
  t.ok(conflict.properties.code.enum.includes('USERNAME_TAKEN'), 'the 409 problem lists USERNAME_TAKEN');
  t.match(doc.paths['/api/v1/auth/register'].post.responses['409'].description, /USERNAME_TAKEN.*CONTACT_TAKEN/, "register's 409 names its codes");
  t.notMatch(JSON.stringify(doc.components.schemas.Message), /without gaps/, 'seq is not documented as gapless for readers');
});

t.test('/docs serves Swagger UI and the JSON document', async (t) => {
  const app = await build(t);
  const page = await app.inject({ method: 'GET', url: '/docs/' });
  t.equal(page.statusCode, 200);
  t.match(String(page.headers['content-type']), /text\/html/);
  t.match(page.body, /swagger-ui/i);
  const json = await app.inject({ method: 'GET', url: '/docs/json' });
  t.equal(json.statusCode, 200);
  t.equal(json.json().openapi, '3.1.0');
  const initializer = await app.inject({ method: 'GET', url: '/docs/static/swagger-initializer.js' });
  t.match(initializer.body, /"persistAuthorization":\s*true/, 'Swagger UI keeps the bearer token across reloads');
});

t.test('openapi/asyncapi.yaml is generated from the frame schemas and parses as an AsyncAPI 3.0 document', async (t) => {
  const committed = await readFile(new URL('../../openapi/asyncapi.yaml', import.meta.url), 'utf8');
  t.equal(committed, renderAsyncApi(stringify), 'run `npm run openapi` and commit the result');
  const doc = parse(committed);
  for (const type of Object.keys(clientFrames)) t.ok(Object.values<any>(doc.components.messages).some((m) => m.name === type && m.payload.$ref.includes('Client')), `client frame ${type} documented`);
  for (const type of Object.keys(serverFrames)) t.ok(Object.values<any>(doc.components.messages).some((m) => m.name === type && m.payload.$ref.includes('Server')), `server frame ${type} documented`);
  const refs = JSON.stringify(doc).match(/"#\/components\/schemas\/[^"]+"/g) ?? [];
  for (const ref of new Set(refs)) t.ok(doc.components.schemas[JSON.parse(ref).split('/').pop()], `${ref} resolves`);
  t.equal(doc.asyncapi, '3.0.0');
  t.ok(doc.info?.title && doc.info?.version);
  t.ok(doc.channels && Object.keys(doc.channels).length > 0, 'declares the socket channels');
  for (const [name, operation] of Object.entries<any>(doc.operations ?? {})) {
    t.ok(['send', 'receive'].includes(operation.action), `operation ${name} has an action`);
    const ref = operation.channel?.$ref as string;
    t.ok(ref && doc.channels[ref.split('/').pop()!], `operation ${name} points at a declared channel`);
  }
});

t.test('chat and message routes document examples for what clients send and receive', async (t) => {
  const app = await build(t);
  await app.ready();
  const doc = app.swagger() as Record<string, any>;
  for (const name of ['Message', 'Conversation']) t.ok(doc.components.schemas[name]?.examples?.length, `${name} has an example`);
  let bodies = 0;
  for (const [path, methods] of Object.entries<Record<string, any>>(doc.paths)) {
    if (!/^\/api\/v1\/(chat|message)/.test(path)) continue;
    for (const [method, operation] of Object.entries<any>(methods)) {
      const body = operation.requestBody?.content?.['application/json'];
      if (!body) continue;
      bodies += 1;
      t.ok(body.examples ?? body.example ?? body.schema?.examples, `${method.toUpperCase()} ${path} has a request example`);
    }
  }
  t.ok(bodies >= 10, 'the chat and message routes with bodies were found');
});
