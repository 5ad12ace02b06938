import fc from 'fast-check';
import { extraKey, nastyValue, spliced } from './nasty.js';
import { RawNumber, bareObject } from './wire.js';

/*
 * fast-check arbitraries from the JSON schemas of the published documents (OpenAPI 3.1, AsyncAPI 3):
 * `validOf` aims at values the schema accepts, so that requests reach the service and the database;
 * `invalidOf` at values just outside it (a bound crossed, a field missing or extra, a wrong type, NUL
 * or a lone surrogate inside an otherwise good string). Neither is exact, and nothing asserts that
 * they are: what the fuzz asserts is how the server answers. Where a field or parameter has a name
 * the world knows (an id of something the user owns, a real emoji), `hints` supply real values, so
 * valid input goes past the "not found" checks into the code behind them.
 */

export type Schema = Record<string, any>;

export interface SchemaContext {
  /** Resolves a `$ref` of the document. */
  resolve(ref: string): Schema;
  /** Real values to prefer for a field or parameter of this name (owned ids, …); undefined: none. */
  hints(name: string): readonly unknown[] | undefined;
}

const MAX_DEPTH = 4;

function resolved(schema: Schema, ctx: SchemaContext): Schema {
  let current = schema;
  for (let i = 0; i < 10 && typeof current?.$ref === 'string'; i++) current = ctx.resolve(current.$ref);
  return current ?? {};
}

function typesOf(schema: Schema): string[] {
  if (Array.isArray(schema.type)) return schema.type as string[];
  if (typeof schema.type === 'string') return [schema.type];
  if (schema.properties || schema.patternProperties || schema.required) return ['object'];
  if (schema.items) return ['array'];
  return [];
}

function withHints<T>(base: fc.Arbitrary<T>, hinted: readonly unknown[] | undefined): fc.Arbitrary<unknown> {
  if (!hinted || hinted.length === 0) return base;
  return fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...hinted) }, { weight: 1, arbitrary: base });
}

const sometimes = <T>(usual: fc.Arbitrary<T>, rare: fc.Arbitrary<T>) => fc.oneof({ weight: 5, arbitrary: usual }, { weight: 1, arbitrary: rare });

function validString(schema: Schema): fc.Arbitrary<string> {
  const min = schema.minLength ?? 0;
  const max = schema.maxLength ?? 10_000;
  const fits = (s: string) => s.length >= min && s.length <= max;
  switch (schema.format) {
    case 'uuid':
      return fc.uuid();
    case 'email':
      return fc.emailAddress().filter(fits);
    case 'uri':
      return fc.webUrl({ validSchemes: ['https'] }).filter(fits);
    case 'date-time':
      return fc.date({ min: new Date('2000-01-01'), max: new Date('2100-01-01'), noInvalidDate: true }).map((d) => d.toISOString());
  }
  if (typeof schema.pattern === 'string') return fc.stringMatching(new RegExp(schema.pattern, 'u')).filter(fits);
  const usual = fc.oneof(fc.string({ minLength: min, maxLength: Math.min(max, Math.max(min, 40)) }), fc.lorem({ maxCount: 6 }).filter(fits));
  const atBound = max <= 100_000 ? fc.constant('y'.repeat(max)) : fc.constant('y'.repeat(Math.max(min, 1)));
  return sometimes(usual, atBound);
}

function validNumber(schema: Schema, integer: boolean): fc.Arbitrary<number> {
  const min = schema.minimum ?? (schema.exclusiveMinimum !== undefined ? schema.exclusiveMinimum + (integer ? 1 : 1e-6) : -1000);
  const max = schema.maximum ?? (schema.exclusiveMaximum !== undefined ? schema.exclusiveMaximum - (integer ? 1 : 1e-6) : min + 100_000);
  if (integer) return sometimes(fc.integer({ min: Math.ceil(min), max: Math.min(Math.floor(max), Math.ceil(min) + 200) }), fc.constantFrom(Math.ceil(min), Math.floor(max)));
  return fc.double({ min, max, noNaN: true, noDefaultInfinity: true });
}

/** Values the schema (probably) accepts. `name` is the field or parameter name, for hints. */
export function validOf(schema: Schema, ctx: SchemaContext, name = '', depth = 0): fc.Arbitrary<unknown> {
  const s = resolved(schema, ctx);
  const hinted = name ? ctx.hints(name) : undefined;
  if ('const' in s) return fc.constant(s.const);
  if (Array.isArray(s.enum)) return fc.constantFrom(...(s.enum as unknown[]));
  const branches = (s.anyOf ?? s.oneOf) as Schema[] | undefined;
  if (branches?.length) return fc.oneof(...branches.map((branch) => validOf(branch, ctx, name, depth)));
  if (Array.isArray(s.allOf) && s.allOf.length) return validOf(s.allOf[0], ctx, name, depth);
  const types = typesOf(s);
  if (types.length > 1) return fc.oneof(...types.map((type) => validOf({ ...s, type }, ctx, name, depth)));
  switch (types[0]) {
    case 'string':
      return withHints(validString(s), hinted);
    case 'integer':
      return withHints(validNumber(s, true), hinted);
    case 'number':
      return withHints(validNumber(s, false), hinted);
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    case 'array': {
      const item = s.items ? validOf(s.items, ctx, name, depth + 1) : fc.jsonValue({ maxDepth: 1 });
      const constraints = { minLength: s.minItems ?? 0, maxLength: Math.min(s.maxItems ?? 5, Math.max(s.minItems ?? 0, 5)) };
      return s.uniqueItems ? fc.uniqueArray(item, { ...constraints, selector: (v) => JSON.stringify(v) }) : fc.array(item, constraints);
    }
    case 'object':
      return validObject(s, ctx, name, depth);
  }
  return withHints(fc.jsonValue({ maxDepth: 2 }), hinted);
}

function validObject(s: Schema, ctx: SchemaContext, name: string, depth: number): fc.Arbitrary<unknown> {
  const properties = (s.properties ?? {}) as Record<string, Schema>;
  const required = new Set<string>((s.required as string[] | undefined) ?? []);
  const model: Record<string, fc.Arbitrary<unknown>> = {};
  for (const [key, prop] of Object.entries(properties)) model[key] = depth >= MAX_DEPTH ? fc.constant(null) : validOf(prop, ctx, key, depth + 1);
  const requiredKeys = [...required].filter((key) => key in model);
  let base: fc.Arbitrary<Record<string, unknown>> = fc.record(model, { requiredKeys }) as fc.Arbitrary<Record<string, unknown>>;
  const patterns = Object.entries((s.patternProperties ?? {}) as Record<string, Schema>);
  if (patterns.length && depth < MAX_DEPTH) {
    const [pattern, inner] = patterns[0]!;
    const keyHints = ctx.hints(`${name}{}`);
    const key = withHints(fc.stringMatching(new RegExp(pattern, 'u')), keyHints) as fc.Arbitrary<string>;
    base = fc.tuple(base, fc.dictionary(key, validOf(inner, ctx, '', depth + 1), { maxKeys: 3 })).map(([fixed, free]) => ({ ...free, ...fixed }));
  }
  const minProperties = s.minProperties ?? 0;
  return base.map((value) => bareObject(Object.entries(value))).filter((value) => Object.keys(value).length >= minProperties);
}

/** A violation of a string schema that keeps the rest of the value plausible. */
function invalidString(s: Schema, ctx: SchemaContext, name: string): fc.Arbitrary<unknown> {
  const good = validOf(s, ctx, name).map((v) => (typeof v === 'string' ? v : 'text'));
  const options: Array<fc.Arbitrary<unknown>> = [
    fc.tuple(good, fc.nat(), fc.constantFrom('\u0000', '\ud800', '\udfff', '\u0007', '\u001b[31m')).map(([text, at, needle]) => spliced(text, needle, at)),
    fc.tuple(good, fc.nat()).map(([text, at]) => spliced(text, '\u0000', at)),
    good.map((text) => `${text}\u0000`),
    fc.constantFrom(1, new RawNumber('1e20'), true, null, [], {}),
  ];
  if (typeof s.maxLength === 'number' && s.maxLength < 200_000) options.push(fc.constant('z'.repeat(s.maxLength + 1)));
  if (typeof s.minLength === 'number' && s.minLength > 0) options.push(fc.constant('z'.repeat(s.minLength - 1)));
  if (s.format || s.pattern || s.enum) options.push(fc.constantFrom('not-valid', ' ', '\u0000', 'constructor', '__proto__'));
  return fc.oneof(...options);
}

function invalidNumber(s: Schema, integer: boolean): fc.Arbitrary<unknown> {
  const options: unknown[] = [new RawNumber('1e20'), new RawNumber('99999999999999999999'), new RawNumber('1e999'), new RawNumber('-1e999'), -1, '1', 'one', null, true];
  if (typeof s.minimum === 'number') options.push(s.minimum - 1, s.minimum - 0.5);
  if (typeof s.maximum === 'number') options.push(s.maximum + 1, s.maximum * 1000 + 1);
  if (integer) options.push(0.5, 1.0000001, new RawNumber('1.5e1'));
  return fc.constantFrom(...options);
}

function invalidObject(s: Schema, ctx: SchemaContext, name: string, depth: number): fc.Arbitrary<unknown> {
  const valid = validObject(s, ctx, name, depth) as fc.Arbitrary<Record<string, unknown>>;
  const properties = (s.properties ?? {}) as Record<string, Schema>;
  const keys = Object.keys(properties);
  const required = ((s.required as string[] | undefined) ?? []).filter((key) => key in properties);
  const options: Array<fc.Arbitrary<unknown>> = [
    fc.tuple(valid, extraKey, nastyValue).map(([object, key, value]) => bareObject([...Object.entries(object), [key, value]])),
    fc.tuple(valid, fc.constantFrom('__proto__', 'constructor')).map(([object, key]) => bareObject([...Object.entries(object), [key, bareObject(Object.entries(object))]])),
  ];
  if (required.length) options.push(fc.tuple(valid, fc.constantFrom(...required)).map(([object, drop]) => bareObject(Object.entries(object).filter(([key]) => key !== drop))));
  options.push(fc.constant(bareObject()));
  if (keys.length && depth < MAX_DEPTH) {
    // One field wrong, the rest right: what reaches furthest into the code behind validation.
    const oneField = fc.tuple(valid, fc.constantFrom(...keys)).chain(([object, key]) =>
      invalidOf(properties[key]!, ctx, key, depth + 1).map((bad) => bareObject([...Object.entries(object).filter(([k]) => k !== key), [key, bad]])),
    );
    return fc.oneof({ weight: options.length, arbitrary: oneField }, ...options);
  }
  return fc.oneof(...options);
}

/** Values the schema (probably) refuses. */
export function invalidOf(schema: Schema, ctx: SchemaContext, name = '', depth = 0): fc.Arbitrary<unknown> {
  const s = resolved(schema, ctx);
  const specific: Array<fc.Arbitrary<unknown>> = [];
  const branches = (s.anyOf ?? s.oneOf) as Schema[] | undefined;
  if (branches?.length) specific.push(...branches.map((branch) => invalidOf(branch, ctx, name, depth + 1)));
  if (Array.isArray(s.enum) || 'const' in s) specific.push(fc.constantFrom('__proto__', 'constructor', 'toString', '', 'TEXT', '\u0000'));
  const types = typesOf(s);
  if (depth < MAX_DEPTH) {
    if (types.includes('string')) specific.push(invalidString(s, ctx, name));
    if (types.includes('integer') || types.includes('number')) specific.push(invalidNumber(s, types.includes('integer') && !types.includes('number')));
    if (types.includes('object')) specific.push(invalidObject(s, ctx, name, depth));
    if (types.includes('array') && s.items) {
      const item = validOf(s.items, ctx, name, depth + 1);
      specific.push(
        fc.array(invalidOf(s.items, ctx, name, depth + 1), { minLength: 1, maxLength: 3 }),
        fc.array(item, { minLength: (s.maxItems ?? 50) + 1, maxLength: (s.maxItems ?? 50) + 2 }),
        item.map((one) => [one, one]),
      );
    }
  }
  if (specific.length === 0) return nastyValue;
  return fc.oneof({ weight: 1, arbitrary: nastyValue }, { weight: 3, arbitrary: fc.oneof(...specific) });
}

/** Mostly valid values (to reach deep code), often invalid ones (to probe validation). */
export function inputOf(schema: Schema, ctx: SchemaContext, name = ''): fc.Arbitrary<unknown> {
  return fc.oneof({ weight: 3, arbitrary: validOf(schema, ctx, name) }, { weight: 2, arbitrary: invalidOf(schema, ctx, name) });
}
