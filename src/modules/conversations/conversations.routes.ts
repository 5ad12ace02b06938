import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import {
  AddMembersBody,
  BroadcastBody,
  ConversationPatchBody,
  DirectBody,
  GroupBody,
  IdParams,
  InboxQuery,
  MemberParams,
  PinsList,
  ReceiptsList,
  RoleBody,
  SeqBody,
  SettingsBody,
} from '../../schemas/chat.js';
import { Page, PageQuery, problemResponses } from '../../schemas/common.js';
import { actorOf } from '../auth/request-context.js';

const tags = ['chat'];
const security = [{ bearerAuth: [] }];
const ConversationRef = Type.Ref('Conversation');
const MemberRef = Type.Ref('Member');

/** /chat: conversations, membership, receipts and per-member settings. Thin adapters over the services. */
export const conversationsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { conversations, members, receipts, reactions } = app.services;
  app.addHook('onRequest', app.authenticate);

  app.post(
    '/direct',
    {
      schema: {
        tags,
        security,
        operationId: 'openDirectChat',
        summary: 'Open the direct chat with a user: 201 when created, 200 when it exists',
        body: DirectBody,
        response: { 200: ConversationRef, 201: ConversationRef, ...problemResponses(400, 401, 404) },
      },
    },
    async (request, reply) => {
      const { conversation, created } = await conversations.openDirect(actorOf(request), request.body.userId);
      return reply.code(created ? 201 : 200).send(conversation);
    },
  );

  app.post(
    '/groups',
    { schema: { tags, security, operationId: 'createGroup', summary: 'Create a group; you are its owner', body: GroupBody, response: { 201: ConversationRef, ...problemResponses(400, 401, 404, 409) } } },
    async (request, reply) => reply.code(201).send(await conversations.createGroup(actorOf(request), request.body)),
  );

  app.post(
    '/broadcasts',
    {
      schema: {
        tags,
        security,
        operationId: 'createBroadcast',
        summary: "Create a broadcast list: what you send to it arrives in each recipient's direct chat with you",
        body: BroadcastBody,
        response: { 201: ConversationRef, ...problemResponses(400, 401, 404, 409) },
      },
    },
    async (request, reply) => reply.code(201).send(await conversations.createBroadcast(actorOf(request), request.body)),
  );

  app.get(
    '/',
    {
      schema: {
        tags,
        security,
        operationId: 'listConversations',
        summary: 'Your conversations: pinned first, then most recent activity',
        querystring: InboxQuery,
        response: { 200: Page(ConversationRef), ...problemResponses(400, 401) },
      },
    },
    async (request) => conversations.list(actorOf(request), request.query),
  );

  app.get('/:id', { schema: { tags, security, operationId: 'getConversation', summary: 'One conversation', params: IdParams, response: { 200: ConversationRef, ...problemResponses(400, 401, 404) } } }, async (request) =>
    conversations.get(actorOf(request), request.params.id),
  );

  app.patch(
    '/:id',
    {
      schema: {
        tags,
        security,
        operationId: 'updateConversation',
        summary: 'Edit title, description, avatar (group owner/admins) or retention (also either member of a direct chat)',
        params: IdParams,
        body: ConversationPatchBody,
        response: { 200: ConversationRef, ...problemResponses(400, 401, 403, 404) },
      },
    },
    async (request) => conversations.update(actorOf(request), request.params.id, request.body),
  );

  app.patch(
    '/:id/settings',
    { schema: { tags, security, operationId: 'updateConversationSettings', summary: 'Your mute, archive and pin flags', params: IdParams, body: SettingsBody, response: { 200: ConversationRef, ...problemResponses(400, 401, 404) } } },
    async (request) => conversations.updateSettings(actorOf(request), request.params.id, request.body),
  );

  app.get(
    '/:id/members',
    { schema: { tags, security, operationId: 'listMembers', summary: 'Current members, earliest first', params: IdParams, querystring: PageQuery, response: { 200: Page(MemberRef), ...problemResponses(400, 401, 404) } } },
    async (request) => members.list(actorOf(request), request.params.id, request.query),
  );

  app.post(
    '/:id/members',
    {
      schema: {
        tags,
        security,
        operationId: 'addMembers',
        summary: 'Add members (group owner/admins) or recipients (broadcast owner)',
        params: IdParams,
        body: AddMembersBody,
        response: { 201: Type.Object({ items: Type.Array(MemberRef) }), ...problemResponses(400, 401, 403, 404, 409) },
      },
    },
    async (request, reply) => reply.code(201).send(await members.add(actorOf(request), request.params.id, request.body.userIds)),
  );

  app.delete(
    '/:id/members/:userId',
    {
      schema: {
        tags,
        security,
        operationId: 'removeMember',
        summary: 'Remove a member (owner/admins), or leave (your own id)',
        params: MemberParams,
        response: { 204: Type.Null(), ...problemResponses(400, 401, 403, 404) },
      },
    },
    async (request, reply) => {
      await members.remove(actorOf(request), request.params.id, request.params.userId);
      return reply.code(204).send(null);
    },
  );

  app.patch(
    '/:id/members/:userId',
    { schema: { tags, security, operationId: 'setMemberRole', summary: 'Make a member admin, or back to member', params: MemberParams, body: RoleBody, response: { 200: MemberRef, ...problemResponses(400, 401, 403, 404) } } },
    async (request) => members.setRole(actorOf(request), request.params.id, request.params.userId, request.body.role),
  );

  for (const kind of ['read', 'delivered'] as const) {
    app.post(
      `/:id/${kind}`,
      {
        schema: {
          tags,
          security,
          operationId: kind === 'read' ? 'markRead' : 'markDelivered',
          summary: `Move your ${kind} receipt forward to seq (never back)`,
          params: IdParams,
          body: SeqBody,
          response: { 200: Type.Ref('Receipt'), ...problemResponses(400, 401, 404) },
        },
      },
      async (request) => receipts[kind](actorOf(request), request.params.id, request.body.seq),
    );
  }

  app.get(
    '/:id/receipts',
    { schema: { tags, security, operationId: 'listReceipts', summary: "Every current member's read and delivered seq", params: IdParams, response: { 200: ReceiptsList, ...problemResponses(400, 401, 404) } } },
    async (request) => receipts.list(actorOf(request), request.params.id),
  );

  app.post(
    '/:id/clear',
    { schema: { tags, security, operationId: 'clearHistory', summary: 'Clear the history for yourself', params: IdParams, response: { 204: Type.Null(), ...problemResponses(400, 401, 404) } } },
    async (request, reply) => {
      await receipts.clear(actorOf(request), request.params.id);
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/:id/pins',
    { schema: { tags, security, operationId: 'listPins', summary: 'Pinned messages, newest pin first', params: IdParams, response: { 200: PinsList, ...problemResponses(400, 401, 404) } } },
    async (request) => reactions.pins(actorOf(request), request.params.id),
  );
};
