import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { IdParams } from '../../schemas/chat.js';
import { Page, problemResponses } from '../../schemas/common.js';
import { AdminSession, AdminUsersQuery, AuditQuery, BanBody, Stats, UserRoleBody } from '../../schemas/operator.js';
import { actorOf } from '../auth/request-context.js';

const tags = ['admin'];
const security = [{ bearerAuth: [] }];
const UserRef = Type.Ref('AdminUser');

/** /admin/users, /admin/audit and /admin/stats: role admin. */
export const adminUsersRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { adminUsers, stats } = app.services;

  app.get(
    '/users',
    {
      schema: {
        tags,
        security,
        operationId: 'adminListUsers',
        summary: 'Accounts by username: filter by a name prefix (or a whole email or phone), status and role',
        querystring: AdminUsersQuery,
        response: { 200: Page(UserRef), ...problemResponses(400, 401, 403) },
      },
    },
    async (request) => adminUsers.search(actorOf(request), request.query),
  );

  app.get('/users/:id', { schema: { tags, security, operationId: 'adminGetUser', summary: 'One account', params: IdParams, response: { 200: UserRef, ...problemResponses(400, 401, 403, 404) } } }, async (request) =>
    adminUsers.get(actorOf(request), request.params.id),
  );

  app.post(
    '/users/:id/ban',
    {
      schema: {
        tags,
        security,
        operationId: 'adminBanUser',
        summary: 'Ban: every session is revoked and every socket of the user closes (4401) at once',
        params: IdParams,
        body: BanBody,
        response: { 200: UserRef, ...problemResponses(400, 401, 403, 404) },
      },
    },
    async (request) => adminUsers.ban(actorOf(request), request.params.id, request.body.reason),
  );

  app.delete(
    '/users/:id/ban',
    { schema: { tags, security, operationId: 'adminUnbanUser', summary: 'Lift a ban (the user signs in again)', params: IdParams, response: { 200: UserRef, ...problemResponses(400, 401, 403, 404) } } },
    async (request) => adminUsers.unban(actorOf(request), request.params.id),
  );

  app.delete(
    '/users/:id',
    {
      schema: {
        tags,
        security,
        summary: 'Delete an account as its owner could (not your own, not an admin): sessions end at once, personal data is erased',
        description: 'Audited as user.deleted. Again on a deleted account: 204, finishing whatever an interrupted deletion left.',
        params: IdParams,
        response: { 204: Type.Null(), ...problemResponses(400, 401, 403, 404) },
      },
    },
    async (request, reply) => {
      await adminUsers.remove(actorOf(request), request.params.id);
      return reply.code(204).send(null);
    },
  );

  app.put(
    '/users/:id/role',
    { schema: { tags, security, operationId: 'adminSetUserRole', summary: 'Change a role (user, support, admin); not your own', params: IdParams, body: UserRoleBody, response: { 200: UserRef, ...problemResponses(400, 401, 403, 404) } } },
    async (request) => adminUsers.setRole(actorOf(request), request.params.id, request.body.role),
  );

  app.get(
    '/users/:id/sessions',
    {
      schema: {
        tags,
        security,
        operationId: 'adminListUserSessions',
        summary: "A user's live sessions (signed-in devices), most recently used first",
        params: IdParams,
        response: { 200: Type.Object({ items: Type.Array(AdminSession) }), ...problemResponses(400, 401, 403, 404) },
      },
    },
    async (request) => adminUsers.sessions(actorOf(request), request.params.id),
  );

  app.get(
    '/audit',
    { schema: { tags, security, operationId: 'adminListAudit', summary: 'Staff actions, newest first: who, what, when, on what', querystring: AuditQuery, response: { 200: Page(Type.Ref('AuditEntry')), ...problemResponses(400, 401, 403) } } },
    async (request) => adminUsers.audit(actorOf(request), request.query),
  );

  app.get(
    '/stats',
    { schema: { tags, security, operationId: 'adminGetStats', summary: 'Users (total, active today), messages per day, online now, open tickets and reports', response: { 200: Stats, ...problemResponses(401, 403) } } },
    async (request) => stats.get(actorOf(request)),
  );
};
