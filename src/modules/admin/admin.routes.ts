import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { adminAnnouncementsRoutes } from '../announcements/announcements.routes.js';
import { adminFeedbackRoutes } from '../feedback/feedback.routes.js';
import { adminReportsRoutes } from '../reports/reports.routes.js';
import { adminSupportRoutes } from '../support/support.routes.js';
import { adminUsersRoutes } from './admin-users.routes.js';
import { STAFF_ROLES, requireRole } from './staff.js';

/**
 * /admin: staff only. Everyone else gets 403 FORBIDDEN before the input is looked at. Tickets and the
 * support queue are for roles support and admin; everything else for admin only. Services check the
 * role again, so a route mounted elsewhere could not skip it.
 */
export const adminRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.addHook('onRequest', app.authenticate);
  app.addHook('onRequest', requireRole(STAFF_ROLES));

  await app.register(adminFeedbackRoutes, { prefix: '/feedback' });
  await app.register(adminSupportRoutes, { prefix: '/support' });
  await app.register(async (admins) => {
    admins.addHook('onRequest', requireRole(['admin']));
    await admins.register(adminAnnouncementsRoutes, { prefix: '/announcements' });
    await admins.register(adminReportsRoutes, { prefix: '/reports' });
    await admins.register(adminUsersRoutes);
  });
};
