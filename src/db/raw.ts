/**
 * Values of raw `db.execute` rows, which the two drivers type differently: pg returns int8 as a string
 * and PGlite as a number or bigint; timestamps come as Date or string.
 */
export function rowsOf<T = Record<string, unknown>>(result: unknown): T[] {
  return ((result as { rows?: T[] }).rows ?? []) as T[];
}

export function toNumber(value: unknown): number {
  return typeof value === 'number' ? value : Number(value);
}

export function toDate(value: unknown): Date {
  return value instanceof Date ? value : new Date(String(value));
}

export function toDateOrNull(value: unknown): Date | null {
  return value === null || value === undefined ? null : toDate(value);
}

/**
 * A Postgres array literal of `values` (`{"a","b"}`), each element quoted and escaped, to bind as one
 * parameter cast to `text[]` or `uuid[]` (drizzle's `sql` turns a JS array into a list of parameters).
 */
export function arrayLiteral(values: readonly string[]): string {
  return `{${values.map((v) => `"${v.replace(/["\\]/g, '\\$&')}"`).join(',')}}`;
}
