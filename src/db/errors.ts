/** The database error in `error` (drizzle wraps it as `cause`), from either driver; undefined for other errors. */
function databaseErrorOf(error: unknown): { code: string; constraint?: string } | undefined {
  for (let current = error as { code?: unknown; constraint?: string; cause?: unknown } | undefined; current; current = current.cause as typeof current) {
    if (typeof current.code === 'string' && /^[0-9A-Z]{5}$/.test(current.code)) return { code: current.code, constraint: current.constraint };
  }
  return undefined;
}

/** The constraint a unique violation (SQLSTATE 23505) hit, from either driver; undefined for other errors. */
export function uniqueViolation(error: unknown): string | undefined {
  const found = databaseErrorOf(error);
  return found?.code === '23505' ? (found.constraint ?? '') : undefined;
}

/** The SQLSTATE of a database error, from either driver; undefined for other errors. */
export const sqlStateOf = (error: unknown): string | undefined => databaseErrorOf(error)?.code;

/** SQLSTATEs of a server that is shutting down, restarting or full (class 08 is matched as a prefix). */
const unavailableStates = new Set(['57P01', '57P02', '57P03', '53300']);
/** Socket errors of a server that cannot be reached or went away. */
const unavailableErrnos = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
/** What pg and pg-pool say when a connection drops or cannot be made in time (they set no code). */
const unavailableMessages = /Connection terminated|timeout exceeded when trying to connect|Connection terminated due to connection timeout/i;

/**
 * Whether `error` (or an error it wraps: drizzle's `cause`, an AggregateError's `errors`) says the
 * database cannot be reached right now, as opposed to refusing the query: the request may succeed
 * when retried. Transport-neutral; REST answers it 503 SERVICE_UNAVAILABLE with Retry-After.
 */
export function isDatabaseUnavailable(error: unknown, depth = 0): boolean {
  if (!error || typeof error !== 'object' || depth > 8) return false;
  const { code, message, cause, errors } = error as { code?: unknown; message?: unknown; cause?: unknown; errors?: unknown };
  if (typeof code === 'string' && (unavailableErrnos.has(code) || unavailableStates.has(code) || /^08[0-9A-Z]{3}$/.test(code))) return true;
  if (typeof message === 'string' && unavailableMessages.test(message)) return true;
  if (Array.isArray(errors) && errors.some((inner) => isDatabaseUnavailable(inner, depth + 1))) return true;
  return isDatabaseUnavailable(cause, depth + 1);
}
