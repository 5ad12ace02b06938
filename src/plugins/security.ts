import cors from '@fastify/cors';
import helmet from '@fastify/helmet';
import rateLimit from '@fastify/rate-limit';
import fp from 'fastify-plugin';
import type { Config } from '../config.js';
import { AppError } from '../errors.js';

/**
 * Browser and abuse protections for every route: CORS limited to configured origins, helmet's
 * headers, and a per-client rate limit shared across instances through Redis when configured.
 * Routes opt out with `config: { rateLimit: false }` (health, metrics) or set stricter limits.
 * Responses are `Cache-Control: no-store` unless the route says otherwise (media files): tokens and
 * private data must not stay in a browser or proxy cache.
 */
export const securityPlugin = fp<{ config: Config }>(
  async (app, { config }) => {
    await app.register(cors, {
      origin: config.corsOrigins === '*' ? '*' : config.corsOrigins.length > 0 ? [...config.corsOrigins] : false,
      methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
      allowedHeaders: ['Authorization', 'Content-Type', 'X-Request-Id'],
      exposedHeaders: ['X-Request-Id', 'Retry-After', 'X-RateLimit-Limit', 'X-RateLimit-Remaining', 'X-RateLimit-Reset'],
      maxAge: 600,
    });
    // upgrade-insecure-requests would break the docs page on plain-HTTP deployments behind a proxy.
    await app.register(helmet, { global: true, contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } } });
    app.addHook('onSend', async (_request, reply) => {
      if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
    });
    await app.register(rateLimit, {
      global: true,
      max: config.rateLimit.max,
      timeWindow: config.rateLimit.windowMs,
      ...(app.redis ? { redis: app.redis, nameSpace: `${config.redis.keyPrefix}rl:` } : {}),
      // A Redis outage must not take the API down with it.
      skipOnError: true,
      errorResponseBuilder: (_request, context) =>
        new AppError('RATE_LIMITED', `Rate limit exceeded, retry in ${context.after}`, {
          retryAfter: Math.max(1, Math.ceil(context.ttl / 1000)),
        }),
    });
  },
  { name: 'security', dependencies: ['infrastructure'] },
);
