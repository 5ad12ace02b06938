import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';

/**
 * Everything under /api/v1. Each domain module registers its routes here; unknown paths fall through
 * to the app's not-found handler (404 problem+json, code ROUTE_NOT_FOUND).
 */
export const apiRoutes: FastifyPluginAsyncTypebox = async () => {};
