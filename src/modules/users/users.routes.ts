import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import {
  BlockEntry,
  ChallengeResponse,
  ChangeEmailBody,
  ChangePasswordBody,
  ChangePhoneBody,
  ConfirmContactBody,
  ProfilePatchBody,
  SearchQuery,
  UserIdParams,
} from '../../schemas/auth.js';
import { Page, PageQuery, problemResponses } from '../../schemas/common.js';
import { NotificationSettingsPatch } from '../../schemas/push.js';
import { actorOf, requestContext } from '../auth/request-context.js';

const tags = ['users'];
const security = [{ bearerAuth: [] }];

/** GET /users (and its kept alias GET /auth/users): search public profiles. */
export const userSearchRoute: FastifyPluginAsyncTypebox<{ path: string; hide?: boolean; rateLimitMax?: number }> = async (app, { path, hide, rateLimitMax }) => {
  app.get(
    path,
    {
      onRequest: app.authenticate,
      ...(rateLimitMax ? { config: { rateLimit: { max: rateLimitMax, timeWindow: 60_000 } } } : {}),
      schema: {
        tags,
        security,
        hide: hide ?? false,
        operationId: 'searchUsers',
        summary: 'Search users by username or display name prefix, or by a whole email address or phone number',
        querystring: SearchQuery,
        response: { 200: Page(Type.Ref('PublicUser')), ...problemResponses(400, 401) },
      },
    },
    async (request) => app.services.users.search(actorOf(request), request.query),
  );
};

/** /users: profiles, password and contact changes, blocking. All routes need an access token. */
export const usersRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const users = app.services.users;
  app.addHook('onRequest', app.authenticate);

  await app.register(userSearchRoute, { path: '/' });

  app.get('/me', { schema: { tags, security, operationId: 'getMe', summary: 'Your account', response: { 200: Type.Ref('PrivateUser'), ...problemResponses(401) } } }, async (request) =>
    users.me(actorOf(request)),
  );

  app.patch(
    '/me',
    { schema: { tags, security, operationId: 'updateMe', summary: 'Edit your profile', body: ProfilePatchBody, response: { 200: Type.Ref('PrivateUser'), ...problemResponses(400, 401, 404) } } },
    async (request) => users.updateMe(actorOf(request), request.body),
  );

  app.get(
    '/me/notifications',
    { schema: { tags, security, operationId: 'getNotificationSettings', summary: 'Your push settings (do not disturb, previews)', response: { 200: Type.Ref('NotificationSettings'), ...problemResponses(401, 404) } } },
    async (request) => users.notifications(actorOf(request)),
  );

  app.patch(
    '/me/notifications',
    {
      schema: {
        tags,
        security,
        operationId: 'updateNotificationSettings',
        summary: 'Set do not disturb and previews for all your devices',
        description: 'dndUntil: no pushes at all until then (null ends it). preview: false makes your pushes say only "New message". Per conversation, see PATCH /chat/{id}/settings (notify, muted).',
        body: NotificationSettingsPatch,
        response: { 200: Type.Ref('NotificationSettings'), ...problemResponses(400, 401, 404) },
      },
    },
    async (request) => users.updateNotifications(actorOf(request), request.body),
  );

  app.put(
    '/me/password',
    {
      schema: {
        tags,
        security,
        operationId: 'changePassword',
        summary: 'Change your password; your other sessions end',
        body: ChangePasswordBody,
        response: { 204: Type.Null(), ...problemResponses(400, 401) },
      },
    },
    async (request, reply) => {
      await users.changePassword(actorOf(request), request.body);
      return reply.code(204).send(null);
    },
  );

  for (const [kind, body] of [['email', ChangeEmailBody], ['phone', ChangePhoneBody]] as const) {
    app.put(
      `/me/${kind}`,
      {
        schema: {
          tags,
          security,
          operationId: kind === 'email' ? 'changeEmail' : 'changePhone',
          summary: `Change your ${kind}: a code goes to the new one; it takes effect after POST /users/me/contact/verify`,
          body,
          response: { 202: ChallengeResponse, ...problemResponses(400, 401, 429, 502, 503) },
        },
      },
      async (request, reply) => {
        const value = (request.body as Record<typeof kind, string>)[kind];
        return reply.code(202).send(await users.requestContactChange(actorOf(request), kind, value, requestContext(request).ip));
      },
    );
  }

  app.post(
    '/me/contact/verify',
    {
      schema: {
        tags,
        security,
        operationId: 'verifyContactChange',
        summary: 'Confirm an email or phone change with its code',
        body: ConfirmContactBody,
        response: { 200: Type.Ref('PrivateUser'), ...problemResponses(400, 401, 409, 429) },
      },
    },
    async (request) => users.confirmContactChange(actorOf(request), request.body),
  );

  app.get(
    '/me/blocks',
    { schema: { tags, security, operationId: 'listBlockedUsers', summary: 'Users you blocked, newest first', querystring: PageQuery, response: { 200: Page(BlockEntry), ...problemResponses(400, 401) } } },
    async (request) => users.listBlocks(actorOf(request), request.query),
  );

  app.get(
    '/:id',
    { schema: { tags, security, operationId: 'getUser', summary: 'A public profile', params: UserIdParams, response: { 200: Type.Ref('PublicUser'), ...problemResponses(401, 404) } } },
    async (request) => users.profile(actorOf(request), request.params.id),
  );

  app.post(
    '/:id/block',
    { schema: { tags, security, operationId: 'blockUser', summary: 'Block a user', params: UserIdParams, response: { 204: Type.Null(), ...problemResponses(400, 401, 404) } } },
    async (request, reply) => {
      await users.block(actorOf(request), request.params.id);
      return reply.code(204).send(null);
    },
  );

  app.delete(
    '/:id/block',
    { schema: { tags, security, operationId: 'unblockUser', summary: 'Unblock a user', params: UserIdParams, response: { 204: Type.Null(), ...problemResponses(401) } } },
    async (request, reply) => {
      await users.unblock(actorOf(request), request.params.id);
      return reply.code(204).send(null);
    },
  );
};
