import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { Page, PageQuery, problemResponses } from '../../schemas/common.js';
import { MyStatuses, StatusBody, StatusFeed, StatusParams, StatusViewer } from '../../schemas/status.js';
import { actorOf } from '../auth/request-context.js';

const tags = ['status'];
const security = [{ bearerAuth: [] }];

/** /status: 24-hour status updates. Thin adapters over the status service. */
export const statusRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const status = app.services.status;
  app.addHook('onRequest', app.authenticate);

  app.post(
    '/',
    {
      schema: {
        tags,
        security,
        operationId: 'postStatus',
        summary: 'Post a status update, visible to your contacts for STATUS_TTL_SECONDS (24 h)',
        body: StatusBody,
        response: { 201: Type.Ref('Status'), ...problemResponses(400, 401, 404, 409) },
      },
    },
    async (request, reply) => reply.code(201).send(await status.create(actorOf(request), request.body)),
  );

  app.get(
    '/',
    { schema: { tags, security, operationId: 'listStatuses', summary: "Your contacts' live statuses, grouped by contact, with what you have seen", response: { 200: StatusFeed, ...problemResponses(401) } } },
    async (request) => status.feed(actorOf(request)),
  );

  app.get(
    '/me',
    { schema: { tags, security, operationId: 'listMyStatuses', summary: 'Your live statuses with their view counts', response: { 200: MyStatuses, ...problemResponses(401) } } },
    async (request) => status.mine(actorOf(request)),
  );

  app.post(
    '/:id/view',
    { schema: { tags, security, operationId: 'viewStatus', summary: 'Mark a status seen (idempotent)', params: StatusParams, response: { 204: Type.Null(), ...problemResponses(400, 401, 404) } } },
    async (request, reply) => {
      await status.view(actorOf(request), request.params.id);
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/:id/viewers',
    {
      schema: { tags, security, operationId: 'listStatusViewers', summary: 'Who saw your status, most recent first', params: StatusParams, querystring: PageQuery, response: { 200: Page(StatusViewer), ...problemResponses(400, 401, 404) } },
    },
    async (request) => status.viewers(actorOf(request), request.params.id, request.query),
  );

  app.delete(
    '/:id',
    { schema: { tags, security, operationId: 'deleteStatus', summary: 'Delete your status', params: StatusParams, response: { 204: Type.Null(), ...problemResponses(400, 401, 404) } } },
    async (request, reply) => {
      await status.remove(actorOf(request), request.params.id);
      return reply.code(204).send(null);
    },
  );
};
