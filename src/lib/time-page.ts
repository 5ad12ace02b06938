import { type SQL, sql } from 'drizzle-orm';
import type { AnyPgColumn } from 'drizzle-orm/pg-core';
import { decodeCursor, encodeCursor } from './cursor.js';

/*
 * Pages over (timestamp, id) indexes: the cursor is the last row's position, and the next page is
 * everything past it in the list's order (`below` for newest-first walks). Rows are written with
 * millisecond JS timestamps so a position read back compares exactly.
 */

export interface TimePosition {
  at: Date;
  id: string;
}

type TimeCursor = { t: string; i: string };
const isTimeCursor = (v: unknown): v is TimeCursor =>
  typeof (v as TimeCursor)?.t === 'string' && !Number.isNaN(Date.parse((v as TimeCursor).t)) && typeof (v as TimeCursor).i === 'string' && /^[0-9a-f-]{36}$/i.test((v as TimeCursor).i);

/** The position a `?cursor=` points at (400 INVALID_CURSOR when it is not one of ours). */
export function timePosition(cursor: string | undefined): TimePosition | undefined {
  if (!cursor) return undefined;
  const c = decodeCursor(cursor, isTimeCursor);
  return { at: new Date(c.t), id: c.i };
}

/** `(at, id) < position`, for a `order by at desc, id desc` walk. */
export function below(at: AnyPgColumn, id: AnyPgColumn, position: TimePosition | undefined): SQL | undefined {
  return position ? sql`(${at}, ${id}) < (${position.at.toISOString()}::timestamptz, ${position.id}::uuid)` : undefined;
}

/** Cuts `limit + 1` rows to a page and the cursor of the next one. */
export function timePage<R, V>(rows: R[], limit: number, positionOf: (row: R) => TimePosition, view: (row: R) => V): { items: V[]; nextCursor: string | null } {
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  const position = last && rows.length > limit ? positionOf(last) : undefined;
  return { items: page.map(view), nextCursor: position ? encodeCursor({ t: position.at.toISOString(), i: position.id }) : null };
}
