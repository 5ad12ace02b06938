import type { Column } from 'drizzle-orm';

/**
 * Reads rows that Postgres wrote as JSON (`to_jsonb(t)`, keyed by column name) into the records
 * drizzle returns for `columns` (keyed by field): the way to fetch nested rows (a user, a message)
 * inside one statement's result. Each value goes through its column's own driver mapping (dates,
 * bigints); jsonb values are already parsed, and a missing or null key is null.
 */
export function jsonRecordReader<T>(columns: Record<string, Column>): (json: Record<string, unknown>) => T {
  const fields = Object.entries(columns).map(([key, column]) => ({ key, name: column.name, column, parsed: column.columnType === 'PgJsonb' || column.columnType === 'PgJson' }));
  return (json) => {
    const record: Record<string, unknown> = {};
    for (const { key, name, column, parsed } of fields) {
      const value = json[name];
      record[key] = value === null || value === undefined ? null : parsed ? value : column.mapFromDriverValue(value);
    }
    return record as T;
  };
}
