/** The constraint a unique violation (SQLSTATE 23505) hit, from either driver; undefined for other errors. */
export function uniqueViolation(error: unknown): string | undefined {
  for (let current = error as { code?: string; constraint?: string; cause?: unknown } | undefined; current; current = current.cause as typeof current) {
    if (current.code === '23505') return current.constraint ?? '';
  }
  return undefined;
}

/** The SQLSTATE of a database error, from either driver (drizzle wraps it as `cause`); undefined for other errors. */
export function sqlStateOf(error: unknown): string | undefined {
  for (let current = error as { code?: unknown; cause?: unknown } | undefined; current; current = current.cause as typeof current) {
    if (typeof current.code === 'string' && /^[0-9A-Z]{5}$/.test(current.code)) return current.code;
  }
  return undefined;
}

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
