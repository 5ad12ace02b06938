import { type ErrorCode, errorCatalog } from '../errors.js';
import { exampleOf } from '../lib/schema-example.js';
import { problemType } from './error-handler.js';

/*
 * How a route's schema is documented (the `transform` of @fastify/swagger). The route schemas stay
 * what fastify validates and serializes with; this builds a copy for the OpenAPI document that a
 * typed-client generator can rely on:
 * - operationId: the route's own `schema.operationId`, else derived from method and path
 *   (`GET /api/v1/account/export` -> `getAccountExport`, `{id}` -> `ById`);
 * - parameters and body properties with a `default` are optional for the client (fastify fills the
 *   default in before the handler runs, which is why the schemas list them as required);
 * - a description on every operation and every response;
 * - each problem+json response is `Problem<status>`: the Problem whose `code` is an enum of the
 *   codes of src/errors.ts with that status (named in the response description too);
 * - examples on request bodies and success responses, from the schemas' examples, defaults and formats.
 */

type Schema = Record<string, any>;

interface RouteInput {
  schema?: Schema;
  url: string;
  route: { method: string | string[]; config?: { rateLimit?: { max?: number; timeWindow?: number } | false } };
  openapiObject: { components?: { schemas?: Record<string, Schema> } };
}

/** Codes no operation answers: socket frame errors, and the answer to a path no route matches. */
const notAnOperationCode = new Set<ErrorCode>(['MALFORMED_FRAME', 'UNKNOWN_FRAME_TYPE', 'ROUTE_NOT_FOUND']);

/** The error codes an operation may answer with `status`: every catalogue code of that status. */
export function codesForStatus(status: number): ErrorCode[] {
  return (Object.keys(errorCatalog) as ErrorCode[]).filter((code) => errorCatalog[code].status === status && !notAnOperationCode.has(code));
}

const statusText: Record<string, string> = { 200: 'OK', 201: 'Created', 202: 'Accepted', 204: 'Done', 206: 'Partial content' };

const pascal = (word: string) => word.charAt(0).toUpperCase() + word.slice(1);
const camel = (text: string) => text.split(/[^A-Za-z0-9]+/).filter(Boolean).map((word, i) => (i === 0 ? word : pascal(word))).join('');

/** The documented operationId of a route without its own: method, then the path after /api/v1. */
export function deriveOperationId(method: string, url: string): string {
  const segments = url
    .replace(/^\/api\/v\d+/, '')
    .split('/')
    .filter(Boolean)
    .map((segment) => (segment.startsWith(':') ? `by ${segment.slice(1)}` : segment));
  return camel([method.toLowerCase(), ...segments].join(' '));
}

/** A copy of `schema` whose properties with a default are not required (recursively). */
export function clientOptional(schema: Schema): Schema {
  if (!schema || typeof schema !== 'object' || Array.isArray(schema)) return schema;
  const copy: Schema = { ...schema };
  if (schema.properties) {
    copy.properties = Object.fromEntries(Object.entries<Schema>(schema.properties).map(([name, property]) => [name, clientOptional(property)]));
    if (Array.isArray(schema.required)) copy.required = schema.required.filter((name: string) => schema.properties[name]?.default === undefined);
  }
  for (const key of ['anyOf', 'oneOf', 'allOf'] as const) if (Array.isArray(schema[key])) copy[key] = schema[key].map(clientOptional);
  if (schema.items) copy.items = clientOptional(schema.items);
  return copy;
}

function withExample(schema: Schema, resolve: (name: string) => Schema | undefined, minimal: boolean): Schema {
  if (schema.examples?.length || schema.example !== undefined) return schema;
  return { ...schema, examples: [exampleOf(schema, { resolve, minimal })] };
}

function describeBody(schema: Schema, resolve: (name: string) => Schema | undefined): string {
  const name = (ref: unknown) => (typeof ref === 'string' ? ref.split('/').pop() : undefined);
  if (schema.$ref) return `the ${name(schema.$ref)}`;
  const items = schema.properties?.items;
  if (items?.type === 'array') {
    const item = name(items.items?.$ref) ?? 'item';
    return schema.properties.nextCursor ? `a page of ${item} (items, nextCursor)` : `the ${item} list (items)`;
  }
  if (schema.properties) return `{${Object.keys(schema.properties).join(', ')}}`;
  return resolve(name(schema.$ref) ?? '')?.description ?? 'the result';
}

/**
 * A success response in the explicit `{description, content}` form: @fastify/swagger drops what sits
 * next to a bare `$ref`, so the description and example go on the response and its media type.
 */
function successResponse(status: string, schema: Schema, resolve: (name: string) => Schema | undefined): Schema {
  if (schema.type === 'null') return schema.description ? schema : { ...schema, description: `${statusText[status] ?? 'Done'}: no body` };
  if (schema.content) return schema;
  const referenced = typeof schema.$ref === 'string' ? resolve(schema.$ref.split('/').pop()!)?.description : undefined;
  const description = schema.description ?? referenced ?? `${statusText[status] ?? 'Success'}: ${describeBody(schema, resolve)}`;
  const example = schema.examples?.[0] ?? exampleOf(schema, { resolve });
  return { description, content: { 'application/json': { schema, example } } };
}

const problemStatuses = [...new Set(Object.values(errorCatalog).map((entry) => entry.status))].filter((status) => codesForStatus(status).length > 0);

/**
 * One shared schema per error status (`Problem404`, ...): the Problem whose `code` is one of the
 * codes of that status. Registered with addSchema, so they are components of the document.
 */
export function problemStatusSchemas(): Schema[] {
  return problemStatuses.map((status) => {
    const codes = codesForStatus(status);
    const first = codes[0]!;
    return {
      $id: `Problem${status}`,
      description: `A ${status} problem. ${codes.map((code) => `${code}: ${errorCatalog[code].title}.`).join(' ')}`,
      allOf: [{ $ref: 'Problem' }],
      type: 'object',
      properties: { code: { type: 'string', enum: codes } },
      required: ['code'],
      examples: [{ type: problemType(first), title: errorCatalog[first].title, status, code: first, requestId: 'req-1a2b3c' }],
    };
  });
}

function problemResponse(status: number, response: Schema): Schema {
  const codes = codesForStatus(status);
  if (codes.length === 0) return response;
  return {
    ...response,
    description: `${response.description}. \`code\`: ${codes.join(', ')}.`,
    content: { 'application/problem+json': { schema: { $ref: `Problem${status}` } } },
  };
}

function isProblem(response: Schema): boolean {
  return Boolean(response?.content?.['application/problem+json']);
}

function rateLimitNote(config: RouteInput['route']['config']): string | undefined {
  const limit = config?.rateLimit;
  if (!limit || !limit.max) return undefined;
  const seconds = Math.round((limit.timeWindow ?? 60_000) / 1000);
  return `Rate limited to ${limit.max} requests per ${seconds} s per client address (429 RATE_LIMITED with retryAfter).`;
}

function operationDescription(schema: Schema, input: RouteInput): string {
  const parts: string[] = schema.description ? [schema.description] : [];
  parts.push(schema.security?.length ? 'Needs an access token: `Authorization: Bearer <accessToken>`.' : 'No access token needed.');
  const query = schema.querystring?.properties ?? {};
  if (query.cursor && query.limit) {
    parts.push(`Paged: pass the answer's \`nextCursor\` as \`?cursor=\` for the next page; \`limit\` defaults to ${query.limit.default} (at most ${query.limit.maximum}).`);
  }
  const success = Object.keys(schema.response ?? {}).filter((status) => status.startsWith('2'));
  if (success.length > 1) parts.push(`Answers ${success.join(' or ')} as the summary says.`);
  const errors = Object.keys(schema.response ?? {}).filter((status) => isProblem(schema.response[status]));
  if (errors.length) parts.push(`Errors are application/problem+json (${errors.join(', ')}); each response lists its codes.`);
  const limit = rateLimitNote(input.route.config);
  if (limit) parts.push(limit);
  return parts.join('\n\n');
}

/** The @fastify/swagger `transform`: the documented form of one route (see the comment at the top). */
export function documentRoute(input: RouteInput): { schema?: Schema; url: string } {
  const { schema, url, route } = input;
  if (!schema || schema.hide) return { schema, url };
  const components = input.openapiObject.components?.schemas ?? {};
  const resolve = (name: string) => components[name];
  const method = Array.isArray(route.method) ? route.method[0]! : route.method;
  const operationId: string = schema.operationId ?? deriveOperationId(method, url);
  const documented: Schema = { ...schema, operationId, description: operationDescription(schema, input) };
  if (schema.querystring) documented.querystring = clientOptional(schema.querystring);
  if (schema.body) {
    const body = clientOptional(schema.body);
    documented.body = body.content
      ? { ...body, content: Object.fromEntries(Object.entries<Schema>(body.content).map(([type, media]) => [type, { ...media, schema: withExample(clientOptional(media.schema), resolve, true) }])) }
      : withExample(body, resolve, true);
  }
  if (schema.response) {
    documented.response = Object.fromEntries(
      Object.entries<Schema>(schema.response).map(([status, response]) => {
        if (isProblem(response)) return [status, problemResponse(Number(status), response)];
        if (status.startsWith('2')) return [status, successResponse(status, response, resolve)];
        return [status, response];
      }),
    );
  }
  return { schema: documented, url };
}
