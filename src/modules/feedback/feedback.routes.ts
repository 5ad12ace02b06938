import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { IdParams } from '../../schemas/chat.js';
import { Page, problemResponses } from '../../schemas/common.js';
import { AdminFeedbackQuery, FeedbackBody, FeedbackPatchBody, OwnFeedbackQuery, ReplyBody } from '../../schemas/operator.js';
import { actorOf } from '../auth/request-context.js';

const tags = ['feedback'];
const security = [{ bearerAuth: [] }];
const Ticket = Type.Ref('FeedbackTicket');

/** /feedback: a user's own tickets. */
export const feedbackRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { feedback } = app.services;
  app.addHook('onRequest', app.authenticate);

  app.post(
    '/',
    {
      config: { rateLimit: { max: 20, timeWindow: 3_600_000 } },
      schema: { tags, security, operationId: 'createFeedback', summary: 'File a ticket (bug, idea, complaint, other)', body: FeedbackBody, response: { 201: Ticket, ...problemResponses(400, 401, 404, 429) } },
    },
    async (request, reply) => reply.code(201).send(await feedback.create(actorOf(request), request.body)),
  );

  app.get(
    '/',
    { schema: { tags, security, operationId: 'listMyFeedback', summary: 'Your tickets with their status and replies, newest first', querystring: OwnFeedbackQuery, response: { 200: Page(Ticket), ...problemResponses(400, 401) } } },
    async (request) => feedback.listOwn(actorOf(request), request.query),
  );
};

/** /admin/feedback: staff (support or admin). */
export const adminFeedbackRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { feedback } = app.services;

  app.get(
    '/',
    {
      schema: {
        tags,
        security,
        operationId: 'adminListFeedback',
        summary: 'Tickets, newest first; filter by status, category, assignee and text',
        querystring: AdminFeedbackQuery,
        response: { 200: Page(Ticket), ...problemResponses(400, 401, 403) },
      },
    },
    async (request) => feedback.list(actorOf(request), request.query),
  );

  app.get('/:id', { schema: { tags, security, operationId: 'adminGetFeedback', summary: 'One ticket', params: IdParams, response: { 200: Ticket, ...problemResponses(400, 401, 403, 404) } } }, async (request) =>
    feedback.get(actorOf(request), request.params.id),
  );

  app.post(
    '/:id/replies',
    {
      schema: {
        tags,
        security,
        operationId: 'adminReplyToFeedback',
        summary: 'Answer a ticket: it becomes answered and its author gets feedback.replied on their sockets',
        params: IdParams,
        body: ReplyBody,
        response: { 201: Ticket, ...problemResponses(400, 401, 403, 404) },
      },
    },
    async (request, reply) => reply.code(201).send(await feedback.reply(actorOf(request), request.params.id, request.body.body)),
  );

  app.patch(
    '/:id',
    { schema: { tags, security, operationId: 'adminUpdateFeedback', summary: 'Set status and assignee', params: IdParams, body: FeedbackPatchBody, response: { 200: Ticket, ...problemResponses(400, 401, 403, 404) } } },
    async (request) => feedback.update(actorOf(request), request.params.id, request.body),
  );
};
