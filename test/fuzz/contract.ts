import Ajv2020Module from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import type { Schema } from './schema-arbitrary.js';

/*
 * The published contract as a checker: a JSON-schema validator (JSON Schema 2020-12, the dialect of
 * OpenAPI 3.1; AsyncAPI's default schema format is a subset) over a whole document, so `$ref`s into
 * its components resolve, and the REST rules every answer must keep: the status is declared for the
 * operation, the media type is the declared one (problem+json for every error), the body matches.
 */

type AjvInstance = InstanceType<typeof import('ajv/dist/2020.js').default>;
type ValidateFunction = ReturnType<AjvInstance['compile']>;
const Ajv2020 = ((Ajv2020Module as unknown as { default?: unknown }).default ?? Ajv2020Module) as unknown as new (options: object) => AjvInstance;
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as unknown as (ajv: AjvInstance) => void;

export interface SchemaChecker {
  /** Errors of `value` against `schema` (a schema of the document, with `#/…` refs); [] when it matches. */
  errors(schema: Schema, value: unknown): string[];
  /** Resolves `#/components/…` of the document. */
  resolve(ref: string): Schema;
}

/** A validator over one document (OpenAPI or AsyncAPI); compiled schemas are cached by identity. */
export function schemaChecker(document: Schema, id: string): SchemaChecker {
  const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: true });
  addFormats(ajv);
  ajv.addFormat('binary', true);
  const docId = `https://contract.test/${id}.json`;
  ajv.addSchema({ ...document, $id: docId });
  const absolute = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(absolute);
    if (value === null || typeof value !== 'object') return value;
    return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, key === '$ref' && typeof inner === 'string' && inner.startsWith('#') ? `${docId}${inner}` : absolute(inner)]));
  };
  const cache = new Map<Schema, ValidateFunction>();
  return {
    errors(schema, value) {
      let validate = cache.get(schema);
      if (!validate) {
        validate = ajv.compile(absolute(schema) as object);
        cache.set(schema, validate);
      }
      if (validate(value)) return [];
      return (validate.errors ?? []).slice(0, 5).map((e) => `${e.instancePath || '(root)'} ${e.message ?? 'is invalid'}${e.params ? ` ${JSON.stringify(e.params)}` : ''}`);
    },
    resolve(ref) {
      let node: any = document;
      for (const part of ref.replace(/^#\//, '').split('/')) node = node?.[part.replaceAll('~1', '/').replaceAll('~0', '~')];
      if (node === undefined) throw new Error(`unresolved $ref ${ref}`);
      return node as Schema;
    },
  };
}

export interface Operation {
  method: string;
  /** As in the document, e.g. /api/v1/chat/{id}. */
  path: string;
  spec: Schema;
}

/** Every operation of an OpenAPI document, in document order. */
export function operationsOf(document: Schema): Operation[] {
  const methods = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'];
  return Object.entries<Schema>(document.paths ?? {}).flatMap(([path, item]) =>
    Object.entries<Schema>(item)
      .filter(([method]) => methods.includes(method))
      .map(([method, spec]) => ({ method: method.toUpperCase(), path, spec })),
  );
}

export interface Answer {
  status: number;
  headers: Record<string, unknown>;
  body: string;
}

const isJsonType = (mediaType: string) => mediaType === 'application/json' || mediaType.endsWith('+json');

/** What about `answer` breaks the operation's contract; [] when nothing does. */
export function restViolations(checker: SchemaChecker, operation: Operation, answer: Answer): string[] {
  const problems: string[] = [];
  const { status } = answer;
  if (status >= 500) problems.push(`answered ${status} (a server error)`);
  const responses = (operation.spec.responses ?? {}) as Record<string, Schema>;
  const declared = responses[String(status)] ?? responses[`${String(status)[0]}XX`] ?? responses.default;
  if (!declared) {
    problems.push(`status ${status} is not declared (declared: ${Object.keys(responses).join(', ')})`);
    return problems;
  }
  const contentType = String(answer.headers['content-type'] ?? '');
  const mediaType = contentType.split(';')[0]!.trim().toLowerCase();
  if (status >= 400 && mediaType !== 'application/problem+json') problems.push(`an error answered as ${contentType || 'no content type'}, not application/problem+json`);
  const content = (declared.content ?? {}) as Record<string, Schema>;
  const declaredTypes = Object.keys(content);
  if (declaredTypes.length === 0) {
    if (answer.body.length > 0) problems.push(`a body where status ${status} declares none: ${answer.body.slice(0, 200)}`);
    return problems;
  }
  const entry = content[mediaType];
  const binary = declaredTypes.find((type) => content[type]?.schema?.format === 'binary');
  if (!entry) {
    // A file download declares application/octet-stream for "the file's own type": any type but JSON passes.
    if (!binary || isJsonType(mediaType)) problems.push(`content type ${contentType || '(none)'} is not declared for ${status} (declared: ${declaredTypes.join(', ')})`);
    return problems;
  }
  if (!isJsonType(mediaType) || !entry.schema) return problems;
  let body: unknown;
  try {
    body = JSON.parse(answer.body);
  } catch {
    problems.push(`the ${mediaType} body is not JSON: ${answer.body.slice(0, 200)}`);
    return problems;
  }
  for (const error of checker.errors(entry.schema, body)) problems.push(`body does not match the declared schema: ${error}`);
  if (mediaType === 'application/problem+json' && (body as { status?: unknown }).status !== status) problems.push(`problem status ${(body as { status?: unknown }).status} differs from HTTP ${status}`);
  if (mediaType === 'application/problem+json' && (body as { code?: unknown }).code === 'INTERNAL_ERROR') problems.push('code INTERNAL_ERROR');
  return problems;
}
