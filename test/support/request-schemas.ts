import type { TSchema } from 'typebox';
import type { App } from '../../src/app.js';
import { clientFrames } from '../../src/realtime/frames.js';

/*
 * Every schema a client's input is checked against: each operation's parameters and request bodies
 * in the app's OpenAPI document, and each socket frame's data. Guard tests walk them to hold a rule
 * for all inputs, including routes added later.
 */

export interface InputSchema {
  /** e.g. `GET /api/v1/users query.q`, `POST /api/v1/message body(application/json)`, `frame message.send`. */
  where: string;
  schema: unknown;
}

export async function inputSchemas(app: App): Promise<{ inputs: InputSchema[]; components: Record<string, unknown> }> {
  await app.ready();
  const doc = app.swagger() as Record<string, any>;
  const inputs: InputSchema[] = [];
  for (const [path, methods] of Object.entries<Record<string, any>>(doc.paths)) {
    for (const [method, operation] of Object.entries<any>(methods)) {
      const where = `${method.toUpperCase()} ${path}`;
      for (const parameter of operation.parameters ?? []) inputs.push({ where: `${where} ${parameter.in}.${parameter.name}`, schema: parameter.schema });
      for (const [type, content] of Object.entries<any>(operation.requestBody?.content ?? {})) inputs.push({ where: `${where} body(${type})`, schema: content.schema });
    }
  }
  for (const [type, schema] of Object.entries<TSchema>(clientFrames)) inputs.push({ where: `frame ${type}`, schema });
  return { inputs, components: doc.components.schemas };
}

/** The paths of the subschemas of `schema` (refs resolved in `components`) for which `offends` is true. */
export function offendingPaths(schema: unknown, components: Record<string, unknown>, path: string, offends: (schema: any) => boolean, seen = new Set<unknown>()): string[] {
  const node = schema as any;
  if (!node || typeof node !== 'object' || seen.has(node)) return [];
  seen.add(node);
  if (typeof node.$ref === 'string') return offendingPaths(components[node.$ref.split('/').pop()!], components, path, offends, seen);
  const found = offends(node) ? [path] : [];
  const walk = (sub: unknown, at: string) => found.push(...offendingPaths(sub, components, at, offends, seen));
  for (const [key, sub] of Object.entries<unknown>(node.properties ?? {})) walk(sub, `${path}.${key}`);
  for (const key of ['items', 'additionalProperties', 'not']) if (typeof node[key] === 'object') walk(node[key], `${path}[]`);
  for (const key of ['anyOf', 'oneOf', 'allOf']) for (const sub of node[key] ?? []) walk(sub, path);
  for (const sub of Object.values<unknown>(node.patternProperties ?? {})) walk(sub, `${path}[]`);
  return found;
}
