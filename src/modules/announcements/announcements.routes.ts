import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { IdParams } from '../../schemas/chat.js';
import { Page, PageQuery, problemResponses } from '../../schemas/common.js';
import { AdminAnnouncementsQuery, AnnouncementBody, AnnouncementPatchBody } from '../../schemas/operator.js';
import { actorOf } from '../auth/request-context.js';

const tags = ['announcements'];
const security = [{ bearerAuth: [] }];
const AdminRef = Type.Ref('AdminAnnouncement');

/** /announcements: what every user sees. */
export const announcementsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { announcements } = app.services;
  app.addHook('onRequest', app.authenticate);

  app.get(
    '/',
    { schema: { tags, security, operationId: 'listAnnouncements', summary: 'Active announcements, newest first, with your read flag', querystring: PageQuery, response: { 200: Page(Type.Ref('Announcement')), ...problemResponses(400, 401) } } },
    async (request) => announcements.listActive(actorOf(request), request.query),
  );

  app.post(
    '/:id/read',
    { schema: { tags, security, operationId: 'markAnnouncementRead', summary: 'Mark an active announcement read', params: IdParams, response: { 204: Type.Null(), ...problemResponses(400, 401, 404) } } },
    async (request, reply) => {
      await announcements.markRead(actorOf(request), request.params.id);
      return reply.code(204).send(null);
    },
  );
};

/** /admin/announcements: role admin. */
export const adminAnnouncementsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { announcements } = app.services;

  app.get(
    '/',
    { schema: { tags, security, operationId: 'adminListAnnouncements', summary: 'Every announcement with its read count, newest start first', querystring: AdminAnnouncementsQuery, response: { 200: Page(AdminRef), ...problemResponses(400, 401, 403) } } },
    async (request) => announcements.list(actorOf(request), request.query),
  );

  app.post(
    '/',
    {
      schema: {
        tags,
        security,
        operationId: 'adminCreateAnnouncement',
        summary: 'Publish: if active now, every connected socket gets an announcement frame at once',
        body: AnnouncementBody,
        response: { 201: AdminRef, ...problemResponses(400, 401, 403) },
      },
    },
    async (request, reply) => reply.code(201).send(await announcements.create(actorOf(request), request.body)),
  );

  app.patch(
    '/:id',
    { schema: { tags, security, operationId: 'adminUpdateAnnouncement', summary: 'Edit title, body or window', params: IdParams, body: AnnouncementPatchBody, response: { 200: AdminRef, ...problemResponses(400, 401, 403, 404) } } },
    async (request) => announcements.update(actorOf(request), request.params.id, request.body),
  );

  app.delete(
    '/:id',
    { schema: { tags, security, operationId: 'adminDeleteAnnouncement', summary: 'Withdraw (it leaves every list; the record stays)', params: IdParams, response: { 204: Type.Null(), ...problemResponses(400, 401, 403, 404) } } },
    async (request, reply) => {
      await announcements.withdraw(actorOf(request), request.params.id);
      return reply.code(204).send(null);
    },
  );
};
