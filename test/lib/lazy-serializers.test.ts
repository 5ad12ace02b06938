import { SerializerSelector } from '@fastify/fast-json-stringify-compiler';
import Fastify from 'fastify';
import t from 'tap';
import { lazySerializers } from '../../src/lib/lazy-serializers.js';

function appWith(serializers = lazySerializers()) {
  return { serializers, app: Fastify({ schemaController: { compilersFactory: { buildSerializer: serializers.factory } } }) };
}

t.test('a response is serialized by its schema, as with the eager compiler', async (t) => {
  const { app } = appWith();
  const shape = { 200: { type: 'object', properties: { id: { type: 'integer' }, name: { type: 'string' } } } };
  app.get('/a', { schema: { response: shape } }, async () => ({ id: 7, name: 'seven', secret: 'dropped' }));
  const response = await app.inject('/a');
  t.same(response.json(), { id: 7, name: 'seven' }, 'fields outside the schema are not written');
});

t.test('compileAll surfaces a schema fast-json-stringify refuses, which boot no longer does', async (t) => {
  const { app, serializers } = appWith();
  app.get('/broken', { schema: { response: { 200: { type: 'object', properties: { a: { $ref: '#/definitions/missing' } } } } } }, async () => ({}));
  await app.ready();
  t.throws(() => serializers.compileAll(), 'the broken schema throws when compiled');
});

t.test('nothing compiles at boot; one schema object shared by many routes compiles once, on first use', async (t) => {
  const compiledSchemas: unknown[] = [];
  const eager = SerializerSelector();
  const counting: typeof eager = (external, options) => {
    const compile = eager(external, options);
    return (route) => {
      compiledSchemas.push(route.schema);
      return compile(route);
    };
  };
  const { app } = appWith(lazySerializers(counting));
  const shared = { type: 'object', properties: { n: { type: 'integer' } } };
  for (let i = 0; i < 20; i++) app.get(`/r${i}`, { schema: { response: { 200: shared } } }, async () => ({ n: i, extra: true }));
  await app.ready();
  t.equal(compiledSchemas.length, 0, 'ready compiled nothing');
  for (const i of [0, 7, 19]) t.same((await app.inject(`/r${i}`)).json(), { n: i }, `route ${i} answers through the shared serializer`);
  t.equal(compiledSchemas.length, 1, 'the shared schema was compiled once for all routes');
});

t.test('a schema with an $id, serialized first, does not break a later one that $refs it', async (t) => {
  const { app } = appWith();
  app.addSchema({ $id: 'Problem', type: 'object', properties: { code: { type: 'string' } } });
  app.get('/fails', { schema: { response: { 400: { $ref: 'Problem#' } } } }, async (_request, reply) => reply.code(400).send({ code: 'BAD', extra: 1 }));
  app.get('/also', { schema: { response: { 200: { type: 'object', properties: { problem: { $ref: 'Problem#' } } } } } }, async () => ({ problem: { code: 'X' } }));
  const shared = app.getSchema('Problem') as object;
  app.get('/direct', { schema: { response: { 400: shared } } }, async (_request, reply) => reply.code(400).send({ code: 'DIRECT' }));
  await app.ready();
  t.same((await app.inject('/direct')).json(), { code: 'DIRECT' }, 'the $id schema itself');
  t.same((await app.inject('/fails')).json(), { code: 'BAD' }, 'a $ref to it afterwards');
  t.same((await app.inject('/also')).json(), { problem: { code: 'X' } }, 'a nested $ref to it afterwards');
});
