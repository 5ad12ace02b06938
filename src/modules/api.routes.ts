import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { sharedAuthSchemas } from '../schemas/auth.js';
import { sharedChatSchemas } from '../schemas/chat.js';
import { sharedOperatorSchemas } from '../schemas/operator.js';
import { adminRoutes } from './admin/admin.routes.js';
import { announcementsRoutes } from './announcements/announcements.routes.js';
import { feedbackRoutes } from './feedback/feedback.routes.js';
import { reportsRoutes } from './reports/reports.routes.js';
import { supportRoutes } from './support/support.routes.js';
import { conversationsRoutes } from './conversations/conversations.routes.js';
import { messagesRoutes } from './messages/messages.routes.js';
import { syncRoutes } from './sync/sync.routes.js';
import { sharedSyncSchemas } from '../schemas/sync.js';
import { sharedPushSchemas } from '../schemas/push.js';
import { pushRoutes } from './push/push.routes.js';
import { mediaRoutes } from './media/media.routes.js';
import { sharedMediaSchemas } from '../schemas/media.js';
import { sharedStatusSchemas } from '../schemas/status.js';
import { statusRoutes } from './status/status.routes.js';
import { authRoutes } from './auth/auth.routes.js';
import { userSearchRoute, usersRoutes } from './users/users.routes.js';
import { accountRoutes } from './account/account.routes.js';

/**
 * Everything under /api/v1. Each domain module registers its routes here; unknown paths fall through
 * to the app's not-found handler (404 problem+json, code ROUTE_NOT_FOUND).
 */
export const apiRoutes: FastifyPluginAsyncTypebox<{ authRateLimitMax: number }> = async (app, { authRateLimitMax }) => {
  for (const schema of [...sharedAuthSchemas, ...sharedChatSchemas, ...sharedMediaSchemas, ...sharedStatusSchemas, ...sharedOperatorSchemas, ...sharedSyncSchemas, ...sharedPushSchemas]) app.addSchema(schema);
  await app.register(authRoutes, { prefix: '/auth', rateLimitMax: authRateLimitMax });
  // Kept for existing clients: GET /auth/users is GET /users.
  await app.register(
    async (scope) => {
      await scope.register(userSearchRoute, { path: '/users', hide: true, rateLimitMax: authRateLimitMax });
    },
    { prefix: '/auth' },
  );
  await app.register(usersRoutes, { prefix: '/users' });
  await app.register(accountRoutes, { prefix: '/users', rateLimitMax: authRateLimitMax });
  await app.register(conversationsRoutes, { prefix: '/chat' });
  await app.register(messagesRoutes, { prefix: '/message' });
  await app.register(syncRoutes, { prefix: '/sync' });
  await app.register(pushRoutes, { prefix: '/push' });
  await app.register(mediaRoutes, { prefix: '/media' });
  await app.register(statusRoutes, { prefix: '/status' });
  await app.register(feedbackRoutes, { prefix: '/feedback' });
  await app.register(announcementsRoutes, { prefix: '/announcements' });
  await app.register(supportRoutes, { prefix: '/support' });
  await app.register(reportsRoutes, { prefix: '/reports' });
  await app.register(adminRoutes, { prefix: '/admin' });
};
