import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { HistoryPage, HistoryQuery, IdParams } from '../../schemas/chat.js';
import { Page, problemResponses } from '../../schemas/common.js';
import { SupportQueueQuery, SupportSendBody } from '../../schemas/operator.js';
import { actorOf } from '../auth/request-context.js';

const tags = ['support'];
const security = [{ bearerAuth: [] }];
const Thread = Type.Ref('SupportThread');

/** /support: a user's support conversation. */
export const supportRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { support } = app.services;
  app.addHook('onRequest', app.authenticate);

  app.post(
    '/',
    {
      schema: {
        tags,
        security,
        operationId: 'openSupportConversation',
        summary: 'Open your support conversation (201), or get it (200); then chat in it with /message and the socket as in any other',
        response: { 200: Thread, 201: Thread, ...problemResponses(401) },
      },
    },
    async (request, reply) => {
      const { thread, created } = await support.open(actorOf(request));
      return reply.code(created ? 201 : 200).send(thread);
    },
  );
};

/** /admin/support: the queue, for roles support and admin. */
export const adminSupportRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { support } = app.services;

  app.get(
    '/',
    {
      schema: {
        tags,
        security,
        operationId: 'adminListSupport',
        summary: 'Support conversations, newest first, with unread counts and waiting time; filter by assignee',
        querystring: SupportQueueQuery,
        response: { 200: Page(Type.Ref('SupportQueueItem')), ...problemResponses(400, 401, 403) },
      },
    },
    async (request) => support.queue(actorOf(request), request.query),
  );

  app.post(
    '/:id/claim',
    { schema: { tags, security, operationId: 'adminClaimSupport', summary: 'Claim a support conversation: you join it and it is assigned to you', params: IdParams, response: { 200: Thread, ...problemResponses(400, 401, 403, 404) } } },
    async (request) => support.claim(actorOf(request), request.params.id),
  );

  app.get(
    '/:id/messages',
    {
      schema: {
        tags,
        security,
        operationId: 'adminListSupportMessages',
        summary: 'Read a support conversation (you join it); the same cursors as GET /message/:conversationId',
        params: IdParams,
        querystring: HistoryQuery,
        response: { 200: HistoryPage, ...problemResponses(400, 401, 403, 404) },
      },
    },
    async (request) => support.history(actorOf(request), request.params.id, request.query),
  );

  app.post(
    '/:id/messages',
    {
      schema: {
        tags,
        security,
        operationId: 'adminSendSupportMessage',
        summary: 'Answer (you join it; unclaimed, it becomes yours); 201, or 200 for a repeated clientId',
        params: IdParams,
        body: SupportSendBody,
        response: { 200: Type.Ref('Message'), 201: Type.Ref('Message'), ...problemResponses(400, 401, 403, 404) },
      },
    },
    async (request, reply) => {
      const { message, created } = await support.send(actorOf(request), request.params.id, request.body);
      return reply.code(created ? 201 : 200).send(message);
    },
  );
};
