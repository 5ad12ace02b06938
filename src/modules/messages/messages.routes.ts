import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import {
  DeleteQuery,
  EditBody,
  HistoryPage,
  HistoryParams,
  HistoryQuery,
  IdParams,
  ReactionParams,
  ReactionsResult,
  SearchMessagesQuery,
  SendBody,
  VersionsList,
} from '../../schemas/chat.js';
import { Id, Page, PageQuery, problemResponses } from '../../schemas/common.js';
import { actorOf } from '../auth/request-context.js';

const tags = ['message'];
const security = [{ bearerAuth: [] }];
const MessageRef = Type.Ref('Message');

/** /message: send, history, edit, delete, reactions, pins, search. Thin adapters over the services. */
export const messagesRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { messages, reactions, conversations } = app.services;
  app.addHook('onRequest', app.authenticate);

  app.post(
    '/',
    {
      schema: {
        tags,
        security,
        operationId: 'sendMessage',
        summary: 'Send a message: 201 stored, or 200 with the original when this clientId was already sent',
        body: SendBody,
        response: { 200: MessageRef, 201: MessageRef, ...problemResponses(400, 401, 403, 404) },
      },
    },
    async (request, reply) => {
      const { message, created } = await messages.send(actorOf(request), request.body);
      return reply.code(created ? 201 : 200).send(message);
    },
  );

  app.get(
    '/chat/:conversationId',
    {
      schema: {
        tags,
        security,
        operationId: 'listMessages',
        summary: 'History in ascending seq: the newest page, or ?before= / ?after= a seq',
        params: HistoryParams,
        querystring: HistoryQuery,
        response: { 200: HistoryPage, ...problemResponses(400, 401, 404) },
      },
    },
    async (request) => messages.history(actorOf(request), request.params.conversationId, request.query),
  );

  app.get(
    '/chatprofile/:userId',
    {
      schema: {
        tags,
        security,
        operationId: 'listSharedConversations',
        summary: 'The conversations you currently share with a user (kept for existing clients)',
        params: Type.Object({ userId: Id }),
        querystring: PageQuery,
        response: { 200: Page(Type.Ref('Conversation')), ...problemResponses(400, 401) },
      },
    },
    async (request) => conversations.list(actorOf(request), { ...request.query, sharedWith: request.params.userId }),
  );

  app.get(
    '/search',
    {
      schema: {
        tags,
        security,
        operationId: 'searchMessages',
        summary: 'Full-text search in your conversations, newest first',
        querystring: SearchMessagesQuery,
        response: { 200: Page(MessageRef), ...problemResponses(400, 401, 404) },
      },
    },
    async (request) => messages.search(actorOf(request), request.query),
  );

  app.get('/:id', { schema: { tags, security, operationId: 'getMessage', summary: 'One message', params: IdParams, response: { 200: MessageRef, ...problemResponses(400, 401, 404) } } }, async (request) =>
    messages.get(actorOf(request), request.params.id),
  );

  app.get(
    '/:id/versions',
    { schema: { tags, security, operationId: 'listMessageVersions', summary: 'Earlier bodies of an edited message, oldest first', params: IdParams, response: { 200: VersionsList, ...problemResponses(400, 401, 404) } } },
    async (request) => messages.versions(actorOf(request), request.params.id),
  );

  app.patch(
    '/:id',
    {
      schema: { tags, security, operationId: 'editMessage', summary: 'Edit your message within the edit window', params: IdParams, body: EditBody, response: { 200: MessageRef, ...problemResponses(400, 401, 403, 404, 409) } },
    },
    async (request) => messages.edit(actorOf(request), request.params.id, request.body.body),
  );

  app.delete(
    '/:id',
    {
      schema: {
        tags,
        security,
        operationId: 'deleteMessage',
        summary: 'Delete for you (for=me) or for everyone (sender within the window, or a group admin)',
        params: IdParams,
        querystring: DeleteQuery,
        response: { 204: Type.Null(), ...problemResponses(400, 401, 403, 404) },
      },
    },
    async (request, reply) => {
      await messages.remove(actorOf(request), request.params.id, request.query.for);
      return reply.code(204).send(null);
    },
  );

  for (const [method, action] of [['PUT', 'add'], ['DELETE', 'remove']] as const) {
    app.route({
      method,
      url: '/:id/reactions/:emoji',
      schema: {
        tags,
        security,
        operationId: action === 'add' ? 'addReaction' : 'removeReaction',
        summary: action === 'add' ? 'React with an emoji (idempotent)' : 'Take your reaction back (idempotent)',
        params: ReactionParams,
        response: { 200: ReactionsResult, ...problemResponses(400, 401, 404, 409) },
      },
      handler: async (request) => {
        const params = request.params as { id: string; emoji: string };
        return reactions[action](actorOf(request), params.id, params.emoji);
      },
    });
  }

  for (const [method, action] of [['POST', 'pin'], ['DELETE', 'unpin']] as const) {
    app.route({
      method,
      url: '/:id/pin',
      schema: { tags, security, operationId: action === 'pin' ? 'pinMessage' : 'unpinMessage', summary: action === 'pin' ? 'Pin a message in its conversation' : 'Unpin a message', params: IdParams, response: { 204: Type.Null(), ...problemResponses(400, 401, 404, 409) } },
      handler: async (request, reply) => {
        await reactions[action](actorOf(request), (request.params as { id: string }).id);
        return reply.code(204).send(null);
      },
    });
  }
};
