import type { SessionRow } from './session.repository.js';

/** A session (signed-in device) on the wire, as its owner and admins see it. */
export function toSessionView(s: SessionRow) {
  return {
    id: s.id,
    deviceName: s.deviceName,
    userAgent: s.userAgent,
    ip: s.ip,
    createdAt: s.createdAt.toISOString(),
    lastUsedAt: s.lastUsedAt.toISOString(),
    expiresAt: s.expiresAt.toISOString(),
  };
}
