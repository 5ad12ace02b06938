import type { FastifyRequest } from 'fastify';
import { AppError } from '../../errors.js';
import type { RequestContext } from './auth.service.js';
import type { Actor } from './tokens.js';

export function requestContext(request: FastifyRequest): RequestContext {
  return { ip: request.ip ?? null, userAgent: request.headers['user-agent'] ?? null };
}

/** The actor set by app.authenticate; routes that use it list `onRequest: app.authenticate`. */
export function actorOf(request: FastifyRequest): Actor {
  if (!request.actor) throw new AppError('UNAUTHORIZED');
  return request.actor;
}
