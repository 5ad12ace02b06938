import fp from 'fastify-plugin';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { AppError } from '../errors.js';
import { safeEqual } from '../lib/crypto.js';
import { toAppError } from './error-handler.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** This app's Prometheus registry (one per app, so several apps in one process stay apart). */
    metrics: Registry;
  }
}

/** HTTP request counts and durations by route pattern (never the raw URL: bounded label values). */
export const metricsPlugin = fp<{ token: string | undefined }>(
  async (app, { token }) => {
    const registry = new Registry();
    collectDefaultMetrics({ register: registry });
    const requests = new Counter({
      name: 'http_requests_total',
      help: 'HTTP requests answered, by method, route pattern and status code.',
      labelNames: ['method', 'route', 'status_code'] as const,
      registers: [registry],
    });
    const duration = new Histogram({
      name: 'http_request_duration_seconds',
      help: 'Time to answer HTTP requests, by method, route pattern and status code.',
      labelNames: ['method', 'route', 'status_code'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    });
    const serverErrors = new Counter({
      name: 'http_server_errors_total',
      help: 'Requests answered with a 5xx, by method, route pattern and problem code (INTERNAL_ERROR is a bug, SERVICE_UNAVAILABLE a dependency down): alert on any increase.',
      labelNames: ['method', 'route', 'code'] as const,
      registers: [registry],
    });
    app.decorate('metrics', registry);

    // Runs before the error handler answers, with the error it will answer.
    app.addHook('onError', async (request, _reply, error) => {
      const { status, code } = toAppError(error);
      if (status >= 500) serverErrors.inc({ method: request.method, route: request.routeOptions.url ?? 'unmatched', code });
    });

    app.addHook('onResponse', async (request, reply) => {
      const labels = { method: request.method, route: request.routeOptions.url ?? 'unmatched', status_code: String(reply.statusCode) };
      requests.inc(labels);
      duration.observe(labels, reply.elapsedTime / 1000);
    });

    app.get('/metrics', { schema: { hide: true }, config: { rateLimit: false } }, async (request, reply) => {
      if (token && !safeEqual(request.headers.authorization ?? '', `Bearer ${token}`)) throw new AppError('UNAUTHORIZED', 'A valid metrics token is required');
      return reply.type(registry.contentType).send(await registry.metrics());
    });
  },
  { name: 'metrics' },
);
