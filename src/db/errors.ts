/** The constraint a unique violation (SQLSTATE 23505) hit, from either driver; undefined for other errors. */
export function uniqueViolation(error: unknown): string | undefined {
  for (let current = error as { code?: string; constraint?: string; cause?: unknown } | undefined; current; current = current.cause as typeof current) {
    if (current.code === '23505') return current.constraint ?? '';
  }
  return undefined;
}
