import { AppError } from '../errors.js';

/**
 * Page cursors are opaque to clients: base64url JSON of whatever position the list needs
 * (e.g. `{t: lastActivity, id}`). Decoding validates shape through the caller's guard.
 */
export function encodeCursor(position: Record<string, unknown>): string {
  return Buffer.from(JSON.stringify(position)).toString('base64url');
}

export function decodeCursor<T>(cursor: string, isValid: (value: unknown) => value is T): T {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw new AppError('INVALID_CURSOR');
  }
  if (!isValid(value)) throw new AppError('INVALID_CURSOR');
  return value;
}
