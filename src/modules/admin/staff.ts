import type { FastifyRequest } from 'fastify';
import { AppError } from '../../errors.js';
import type { Actor, Role } from '../auth/tokens.js';

/** Roles that may use the staff routes at all (support queue, tickets); some routes need `admin`. */
export const STAFF_ROLES: readonly Role[] = ['support', 'admin'];

export const isStaff = (actor: Actor) => STAFF_ROLES.includes(actor.role);

/** 403 FORBIDDEN unless the actor has one of `roles` (the role is read from the database on every request). */
export function assertRole(actor: Actor, roles: readonly Role[]): void {
  if (!roles.includes(actor.role)) throw new AppError('FORBIDDEN', `Needs role ${roles.join(' or ')}`);
}

/** onRequest hook (after authenticate): refuses before the input is even validated. */
export const requireRole = (roles: readonly Role[]) => async (request: FastifyRequest) => {
  if (!request.actor) throw new AppError('UNAUTHORIZED');
  assertRole(request.actor, roles);
};
