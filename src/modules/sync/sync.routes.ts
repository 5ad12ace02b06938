import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { problemResponses } from '../../schemas/common.js';
import { SyncAnswer, SyncQuery } from '../../schemas/sync.js';
import { actorOf } from '../auth/request-context.js';

/** /sync: what changed since a token (offline sync), or a snapshot to start from. */
export const syncRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { sync } = app.services;
  app.addHook('onRequest', app.authenticate);

  app.get(
    '/',
    {
      schema: {
        tags: ['sync'],
        security: [{ bearerAuth: [] }],
        operationId: 'sync',
        summary: 'Everything that changed since a token, or a snapshot',
        description:
          'Without since: a snapshot (your conversations, with unread counts and receipts) and the token to continue from. With since: every change ' +
          'you may see since that token (the socket\'s logged events, in seq order per conversation), paged by limit; store nextToken once a page is applied ' +
          'and call again at once while more is true. 410 SYNC_TOKEN_EXPIRED: the token is too old (SYNC_TOKEN_TTL_DAYS) or from another database: take a snapshot.',
        querystring: SyncQuery,
        response: { 200: SyncAnswer, ...problemResponses(400, 401, 410) },
      },
    },
    async (request) => {
      const { since, limit } = request.query;
      return since === undefined ? sync.snapshot(actorOf(request)) : sync.since(actorOf(request), since, limit);
    },
  );
};
