import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import type { InjectOptions } from 'fastify';
import { multipartBody } from '../support/media.js';
import { signHs256, unsignedToken } from '../support/jwt.js';
import type { Operation } from './contract.js';
import { PROTOTYPE_NAMES, nastyStrings, nastyValue } from './nasty.js';
import { type Schema, type SchemaContext, inputOf } from './schema-arbitrary.js';
import { componentText, describe, encodeComponent, queryString, toJsonText } from './wire.js';
import type { World } from './world.js';

/*
 * One fuzzed HTTP request per input: path parameters, query, body (JSON, raw text, multipart) and
 * credentials, each drawn from the operation's own declarations, then turned into app.inject options.
 */

export type Credentials = 'own' | 'none' | 'garbage' | 'basic' | 'unsigned' | 'foreign-key' | 'forged' | 'other-role';

type Body =
  | { kind: 'none' }
  | { kind: 'json'; value: unknown; contentType: string }
  | { kind: 'raw'; text: string | Buffer; contentType: string | undefined };

export interface RestInput {
  path: Record<string, unknown>;
  query: Record<string, unknown>;
  body: Body;
  credentials: Credentials;
  forged: number;
  headers: Record<string, string>;
}

/** Hint names of path parameters: the segment before them, `admin.` in front on operator routes (see World). */
export function pathHint(path: string, param: string): string {
  const segments = path.split('/');
  const at = segments.indexOf(`{${param}}`);
  const before = segments[at - 1] ?? '';
  return `${path.startsWith('/api/v1/admin/') ? 'admin.' : ''}${before}.${param}`;
}

const malformedJson = fc.constantFrom('{', '{"a":', '[1,2', 'nul', '"\\ud800"', '{"a":1}{"b":2}', '\u0000', '{"__proto__":{"polluted":true}}', '', ' ', '{"a":1e999}', '{"a":99999999999999999999}');
const otherContentTypes = fc.constantFrom('text/plain', 'application/x-www-form-urlencoded', 'application/json; charset=utf-16', 'application/json; charset=latin1', 'application/xml', 'multipart/form-data', 'application/problem+json', '', '\u0000');

function jsonBody(schema: Schema | undefined, ctx: SchemaContext): fc.Arbitrary<Body> {
  const value = schema ? inputOf(schema, ctx) : nastyValue;
  return fc.oneof(
    { weight: 12, arbitrary: value.map((v): Body => ({ kind: 'json', value: v, contentType: 'application/json' })) },
    { weight: 1, arbitrary: malformedJson.map((text): Body => ({ kind: 'raw', text, contentType: 'application/json' })) },
    { weight: 1, arbitrary: fc.tuple(value, otherContentTypes).map(([v, contentType]): Body => ({ kind: 'raw', text: toJsonText(v), contentType })) },
    { weight: 1, arbitrary: fc.constant<Body>({ kind: 'none' }) },
    { weight: 1, arbitrary: fc.constant<Body>({ kind: 'raw', text: OVERSIZED_BODY, contentType: 'application/json' }) },
  );
}

/** Past the default BODY_LIMIT_BYTES (1 MiB). */
const OVERSIZED_BODY = `{"body":"${'x'.repeat(1_100_000)}"}`;

/** Uploads: real images, junk bytes, odd file names, and multipart bodies that are broken on purpose. */
function multipartUploads(image: Buffer): fc.Arbitrary<Body> {
  const bytes = fc.oneof({ weight: 3, arbitrary: fc.constant(image) }, fc.uint8Array({ maxLength: 4096 }).map((a) => Buffer.from(a)), fc.constant(Buffer.alloc(0)), fc.constant(Buffer.from('GIF89a<script>alert(1)</script>')));
  const fileName = fc.oneof({ weight: 3, arbitrary: fc.constantFrom('photo.png', 'a.txt', 'x') }, fc.constantFrom(...nastyStrings.filter((s) => s.length < 1000)), fc.constant('a\r\nContent-Type: text/html'));
  const part = fc.record({ field: fc.oneof({ weight: 4, arbitrary: fc.constant('file') }, fc.constantFrom(...PROTOTYPE_NAMES, 'files', '')), fileName: fc.option(fileName, { nil: undefined }), contentType: fc.option(fc.constantFrom('image/png', 'text/plain', 'application/octet-stream', ''), { nil: undefined }), bytes });
  const asBody = (parts: Array<{ field: string; fileName?: string | undefined; contentType?: string | undefined; bytes: Buffer }>) =>
    multipartBody(parts.map((p) => ({ field: p.field, bytes: p.bytes, ...(p.fileName !== undefined ? { fileName: p.fileName } : {}), ...(p.contentType ? { contentType: p.contentType } : {}) })));
  return fc.oneof(
    { weight: 6, arbitrary: fc.array(part, { minLength: 1, maxLength: 2 }).map((parts): Body => ({ kind: 'raw', ...rename(asBody(parts)) })) },
    { weight: 1, arbitrary: fc.constant<Body>({ kind: 'raw', ...rename(asBody([])) }) },
    {
      weight: 3,
      arbitrary: fc.tuple(part, fc.constantFrom('no-boundary', 'cut', 'text/plain', 'other-boundary', 'no-closing'), fc.nat()).map(([p, how, at]): Body => {
        const good = asBody([p]);
        const text = good.payload;
        switch (how) {
          case 'no-boundary':
            return { kind: 'raw', text, contentType: 'multipart/form-data' };
          case 'cut':
            return { kind: 'raw', text: text.subarray(0, at % Math.max(1, text.length)), contentType: good.contentType };
          case 'text/plain':
            return { kind: 'raw', text, contentType: 'text/plain' };
          case 'other-boundary':
            return { kind: 'raw', text, contentType: 'multipart/form-data; boundary=nothing-like-it' };
          default:
            return { kind: 'raw', text: text.subarray(0, text.lastIndexOf('--') - 30), contentType: good.contentType };
        }
      }),
    },
  );
}

const rename = (body: { payload: Buffer; contentType: string }) => ({ text: body.payload, contentType: body.contentType });

function bodyOf(operation: Operation, ctx: SchemaContext, image: Buffer): fc.Arbitrary<Body> {
  const content = operation.spec.requestBody?.content as Record<string, Schema> | undefined;
  if (!content) return fc.oneof({ weight: 9, arbitrary: fc.constant<Body>({ kind: 'none' }) }, { weight: 1, arbitrary: jsonBody(undefined, ctx) });
  const options: Array<fc.Arbitrary<Body>> = [];
  for (const [mediaType, entry] of Object.entries(content)) {
    if (mediaType === 'multipart/form-data') options.push(multipartUploads(image));
    else options.push(jsonBody(entry.schema as Schema, ctx));
  }
  return fc.oneof(...options);
}

const MEDIA_HEADERS = fc.record(
  {
    range: fc.constantFrom('bytes=0-10', 'bytes=5-', 'bytes=-5', 'bytes=100000-', 'bytes=10-5', 'bytes=abc', 'bytes=0-1,3-4', 'bytes=99999999999999999999-', 'items=0-1', 'bytes=\u0000'),
    'if-none-match': fc.constantFrom('*', '"x"', 'W/"1"', ''),
  },
  { requiredKeys: [] },
);

/** The arbitrary of requests for one operation. */
export function restInputs(operation: Operation, ctx: SchemaContext, image: Buffer): fc.Arbitrary<RestInput> {
  const parameters = (operation.spec.parameters ?? []) as Schema[];
  const pathModel: Record<string, fc.Arbitrary<unknown>> = {};
  const queryModel: Record<string, fc.Arbitrary<unknown>> = {};
  const requiredQuery: string[] = [];
  for (const parameter of parameters) {
    if (parameter.in === 'path') pathModel[parameter.name] = inputOf(parameter.schema ?? {}, ctx, pathHint(operation.path, parameter.name));
    if (parameter.in === 'query') {
      queryModel[parameter.name] = inputOf(parameter.schema ?? {}, ctx, parameter.name);
      if (parameter.required) requiredQuery.push(parameter.name);
    }
  }
  const extraQuery = fc.option(fc.tuple(fc.constantFrom(...PROTOTYPE_NAMES, 'extra'), fc.constantFrom(...nastyStrings.slice(0, 10))), { nil: undefined, freq: 6 });
  const query = fc.tuple(fc.record(queryModel, { requiredKeys: requiredQuery }), extraQuery).map(([known, extra]) => (extra ? { ...known, [extra[0]]: extra[1] } : known));
  const credentials = fc.oneof(
    { weight: 20, arbitrary: fc.constant<Credentials>('own') },
    { weight: 2, arbitrary: fc.constantFrom<Credentials>('none', 'garbage', 'basic', 'unsigned', 'foreign-key', 'other-role') },
    { weight: 2, arbitrary: fc.constant<Credentials>('forged') },
  );
  return fc.record({
    path: fc.record(pathModel) as fc.Arbitrary<Record<string, unknown>>,
    query: query as fc.Arbitrary<Record<string, unknown>>,
    body: bodyOf(operation, ctx, image),
    credentials,
    forged: fc.nat(),
    headers: operation.path.startsWith('/api/v1/media/') ? (MEDIA_HEADERS as fc.Arbitrary<Record<string, string>>) : fc.constant({}),
  });
}

const forgedByWorld = new WeakMap<World, string[]>();

/** Tokens the server signed with its own key, carrying claims it must refuse (401), never choke on. */
function forgedTokens(world: World): string[] {
  const cached = forgedByWorld.get(world);
  if (cached) return cached;
  const sign = (claims: Record<string, unknown>) => world.app.jwt.sign(claims);
  const sub = world.me.user.id;
  const tokens = [
    sign({ sub, sid: 'not-a-uuid', role: 'user' }),
    sign({ sub: 'not-a-uuid', sid: randomUUID(), role: 'user' }),
    sign({ sub, role: 'user' }),
    sign({ sub, sid: randomUUID(), role: 'superuser' }),
    sign({ sub: { id: sub }, sid: [1], role: 1 }),
    sign({ sub: '\u0000', sid: '\ud800', role: '__proto__' }),
    sign({ sub: '__proto__', sid: 'constructor', role: 'admin' }),
  ];
  forgedByWorld.set(world, tokens);
  return tokens;
}

const protectedOperation = (operation: Operation) => Array.isArray(operation.spec.security) && operation.spec.security.length > 0;

function authorization(world: World, operation: Operation, input: RestInput, forged: string[]): string | undefined {
  const admin = operation.path.startsWith('/api/v1/admin/');
  const own = admin ? world.admin : world.me;
  switch (input.credentials) {
    case 'own':
      return `Bearer ${own.accessToken}`;
    case 'other-role':
      return `Bearer ${(admin ? world.me : world.admin).accessToken}`;
    case 'none':
      return undefined;
    case 'garbage':
      return 'Bearer \u0000not.a.token';
    case 'basic':
      return `Basic ${Buffer.from('a:b').toString('base64')}`;
    case 'unsigned':
      return `Bearer ${unsignedToken({ sub: world.me.user.id, sid: randomUUID(), role: 'admin' })}`;
    case 'foreign-key':
      return `Bearer ${signHs256({ sub: world.me.user.id, sid: randomUUID(), role: 'admin', exp: 4_000_000_000 }, 'not-the-server-key')}`;
    case 'forged':
      return `Bearer ${forged[input.forged % forged.length]}`;
  }
}

/** Path parameter text: never empty or a dot segment, which would address another route rather than fuzz this one. */
function pathSegment(value: unknown): string {
  const text = encodeComponent(componentText(value));
  return text === '' || /^(\.|%2e){1,2}$/i.test(text) ? `${text}x` : text;
}

export interface Prepared {
  request: InjectOptions;
  /** For failure reports. */
  summary: string;
}

export function prepareRequest(world: World, operation: Operation, input: RestInput): Prepared {
  const forged = forgedTokens(world);
  const url = operation.path.replace(/\{(\w+)\}/g, (_m, name: string) => pathSegment(input.path[name])) + queryString(input.query);
  const headers: Record<string, string> = { ...input.headers };
  const auth = protectedOperation(operation) || input.credentials !== 'own' ? authorization(world, operation, input, forged) : undefined;
  if (auth) headers.authorization = auth;
  let payload: string | Buffer | undefined;
  if (input.body.kind === 'json') {
    payload = toJsonText(input.body.value);
    headers['content-type'] = input.body.contentType;
  } else if (input.body.kind === 'raw') {
    payload = input.body.text;
    if (input.body.contentType !== undefined) headers['content-type'] = input.body.contentType;
  }
  const bodyText = input.body.kind === 'json' ? describe(input.body.value) : input.body.kind === 'raw' ? `${input.body.contentType ?? '(no content type)'} ${JSON.stringify(String(input.body.text).slice(0, 300))}` : '(no body)';
  const summary = `${operation.method} ${url.length > 300 ? `${url.slice(0, 300)}…` : url}\n  credentials: ${input.credentials}${input.credentials === 'forged' ? ` #${input.forged % forged.length}` : ''}; headers: ${JSON.stringify(input.headers)}\n  body: ${bodyText}`;
  return { request: { method: operation.method as InjectOptions['method'], url, headers, ...(payload !== undefined ? { payload } : {}) }, summary };
}
