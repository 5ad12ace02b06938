import { parsePhoneNumberFromString } from 'libphonenumber-js/max';
import { AppError } from '../../errors.js';

export type Channel = 'sms' | 'email';

/** E.164 (`+4915112345678`) for any valid number of any country; INVALID_PHONE otherwise. */
export function normalizePhone(input: string): string {
  const parsed = parsePhoneNumberFromString(input.trim());
  if (!parsed || !parsed.isValid()) throw new AppError('INVALID_PHONE', 'Give the number in international format, e.g. +14155550123');
  return parsed.number;
}

export function normalizeEmail(input: string): string {
  return input.trim().toLowerCase();
}

/** What an identifier looks like, so login can find the account by it. */
export function classifyIdentifier(identifier: string): { kind: 'email' | 'phone' | 'username'; value: string } {
  const trimmed = identifier.trim();
  if (trimmed.includes('@')) return { kind: 'email', value: normalizeEmail(trimmed) };
  if (/^\+[\d\s().-]{6,}$/.test(trimmed)) {
    try {
      return { kind: 'phone', value: normalizePhone(trimmed) };
    } catch {
      // Not a valid number: treat as a username, which will simply not match.
    }
  }
  return { kind: 'username', value: trimmed };
}

/** `a***@example.com`, `+49******4567`: enough for the user to recognise, not to harvest. */
export function maskDestination(channel: Channel, destination: string): string {
  if (channel === 'email') {
    const at = destination.lastIndexOf('@');
    return `${destination.slice(0, Math.min(1, at))}***${destination.slice(at)}`;
  }
  return `${destination.slice(0, 3)}${'*'.repeat(Math.max(0, destination.length - 7))}${destination.slice(-4)}`;
}
