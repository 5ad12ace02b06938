import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { AppError } from '../../errors.js';
import { sendProblem } from '../../plugins/error-handler.js';
import { problemResponses } from '../../schemas/common.js';
import { createHealthService } from './health.service.js';

const Checks = Type.Record(Type.String(), Type.Union([Type.Literal('up'), Type.Literal('down')]), {
  description: 'Status of each dependency, e.g. {"database": "up", "redis": "down"}.',
});

/** Probes for orchestrators and load balancers; outside /api/v1 and never rate limited. */
export const healthRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const health = createHealthService({ database: app.database, bus: app.bus });

  app.get(
    '/health/live',
    {
      config: { rateLimit: false },
      logLevel: 'warn',
      schema: {
        tags: ['health'],
        operationId: 'getLiveness',
        summary: 'Liveness: the process is up and serving',
        response: { 200: Type.Object({ status: Type.Literal('ok') }) },
      },
    },
    async () => ({ status: 'ok' as const }),
  );

  app.get(
    '/health/ready',
    {
      config: { rateLimit: false },
      logLevel: 'warn',
      schema: {
        tags: ['health'],
        operationId: 'getReadiness',
        summary: 'Readiness: the database (and Redis, when configured) answer',
        response: {
          200: Type.Object({ status: Type.Literal('ready'), checks: Checks }),
          ...problemResponses(503),
        },
      },
    },
    async (request, reply) => {
      const { ready, checks } = await health.readiness();
      if (ready) return { status: 'ready' as const, checks };
      const down = Object.keys(checks).filter((name) => checks[name] === 'down');
      return sendProblem(request, reply, new AppError('SERVICE_UNAVAILABLE', `Unavailable: ${down.join(', ')}`, { checks }));
    },
  );
};
