/**
 * An example value built from a JSON schema, for the OpenAPI document: the schema's own `examples`
 * (or `example`) win, then `default`, `const` and the first `enum` member, then a value of the `type`
 * that meets `format`, `minimum` and `minLength`. Examples therefore follow the schemas they document.
 */

type Schema = Record<string, unknown>;

export interface ExampleOptions {
  /** The schema a `$ref` names (`Conversation` or `#/components/schemas/Conversation`), if known. */
  resolve: (name: string) => Schema | undefined;
  /**
   * Request bodies: only required properties and those with an example of their own, so the example
   * is a minimal valid request (not every optional field at once).
   */
  minimal?: boolean;
}

const formatExamples: Record<string, string> = {
  uuid: '0192f0c1-7a00-7000-8000-000000000001',
  'date-time': '2026-11-23T18:00:00.000Z',
  date: '2026-11-23',
  email: 'alice@example.com',
  uri: 'https://example.com/avatar.jpg',
  binary: '(binary)',
};

/** Strings named like these read better than "string" (used only when they meet the schema). */
const nameExamples: Record<string, string> = {
  username: 'alice',
  displayName: 'Alice',
  about: 'Coffee first.',
  avatarUrl: 'https://example.com/avatar.jpg',
  email: 'alice@example.com',
  phone: '+14155550123',
  accessToken: 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIwMTkyIn0.c2lnbmF0dXJl',
  refreshToken: 'rt_4f9c2b7e1a8d4c3b9e6f',
  title: 'Weekend trip',
  body: 'See you at 8?',
  text: 'See you at 8?',
  fileName: 'notes.pdf',
  mime: 'image/jpeg',
  userAgent: 'Mozilla/5.0',
  ip: '203.0.113.7',
};

const MAX_DEPTH = 8;

function own(schema: Schema): { found: true; value: unknown } | { found: false } {
  if (Array.isArray(schema.examples) && schema.examples.length > 0) return { found: true, value: schema.examples[0] };
  for (const key of ['example', 'default', 'const'] as const) if (key in schema) return { found: true, value: schema[key] };
  if (Array.isArray(schema.enum) && schema.enum.length > 0) return { found: true, value: schema.enum[0] };
  return { found: false };
}

function fits(schema: Schema, value: string): boolean {
  if (typeof schema.pattern === 'string' && !new RegExp(schema.pattern, 'u').test(value)) return false;
  const min = typeof schema.minLength === 'number' ? schema.minLength : 0;
  const max = typeof schema.maxLength === 'number' ? schema.maxLength : Infinity;
  return value.length >= min && value.length <= max;
}

function stringExample(schema: Schema, name: string | undefined): string {
  const format = typeof schema.format === 'string' ? formatExamples[schema.format] : undefined;
  if (format) return format;
  const named = name === undefined ? undefined : nameExamples[name];
  if (named !== undefined && fits(schema, named)) return named;
  const minLength = typeof schema.minLength === 'number' ? schema.minLength : 0;
  return 'string'.padEnd(minLength, 'x');
}

function objectExample(schema: Schema, options: ExampleOptions, depth: number): Record<string, unknown> {
  const properties = (schema.properties ?? {}) as Record<string, Schema>;
  const required = new Set(Array.isArray(schema.required) ? (schema.required as string[]) : []);
  const result: Record<string, unknown> = {};
  for (const [name, property] of Object.entries(properties)) {
    if (options.minimal && !required.has(name) && !own(property).found) continue;
    result[name] = exampleOf(property, options, depth + 1, name);
  }
  return result;
}

/** `name`: the property the schema describes, if any (picks a readable string). */
export function exampleOf(schema: Schema, options: ExampleOptions, depth = 0, name?: string): unknown {
  const given = own(schema);
  if (given.found) return given.value;
  if (depth > MAX_DEPTH) return null;
  if (typeof schema.$ref === 'string') {
    const target = options.resolve(schema.$ref.split('/').pop()!);
    return target ? exampleOf(target, options, depth + 1) : {};
  }
  const branches = (schema.anyOf ?? schema.oneOf) as Schema[] | undefined;
  if (branches) {
    // Nullable(x) lists null first: show the value, not the null.
    const branch = branches.find((candidate) => candidate.type !== 'null') ?? branches[0];
    return branch ? exampleOf(branch, options, depth + 1, name) : null;
  }
  if (Array.isArray(schema.allOf)) {
    return Object.assign({}, ...(schema.allOf as Schema[]).map((part) => exampleOf(part, options, depth + 1)));
  }
  const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== 'null') : schema.type;
  switch (type) {
    case 'object':
      return objectExample(schema, options, depth);
    case 'array': {
      const items = schema.items as Schema | undefined;
      const count = Math.max(1, typeof schema.minItems === 'number' ? schema.minItems : 1);
      return items ? Array.from({ length: count }, () => exampleOf(items, options, depth + 1)) : [];
    }
    case 'string':
      return stringExample(schema, name);
    case 'integer':
    case 'number':
      return typeof schema.minimum === 'number' ? Math.max(schema.minimum, 1) : 1;
    case 'boolean':
      return false;
    case 'null':
      return null;
    default:
      return schema.properties ? objectExample(schema, options, depth) : {};
  }
}
