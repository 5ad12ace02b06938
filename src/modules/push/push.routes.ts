import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { AppError } from '../../errors.js';
import { IdParams } from '../../schemas/chat.js';
import { problemResponses } from '../../schemas/common.js';
import { PushDeviceBody, PushDeviceList, VapidKey } from '../../schemas/push.js';
import { actorOf } from '../auth/request-context.js';
import type { PushDeviceInput } from './push.service.js';

const tags = ['push'];
const security = [{ bearerAuth: [] }];

/** /push: where your session's push notifications go. Thin adapters over the push service. */
export const pushRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { push } = app.services;

  app.get(
    '/vapid-key',
    { schema: { tags, operationId: 'getVapidKey', summary: 'The VAPID public key browsers subscribe with (applicationServerKey)', response: { 200: VapidKey, ...problemResponses(400) } } },
    async () => push.vapidKey(),
  );
  await app.register(pushDeviceRoutes);
};

const pushDeviceRoutes: FastifyPluginAsyncTypebox = async (authed) => {
  const { push } = authed.services;
  authed.addHook('onRequest', authed.authenticate);

  authed.post(
    '/devices',
    {
      schema: {
        tags,
        security,
        operationId: 'registerPushDevice',
        summary: 'Register where this session gets pushes (a Web Push subscription, or an FCM or APNs token)',
        description:
          'The device lives as long as the session (logout, logout-all, a password change or a ban ends it). The same subscription or token registered again ' +
          'moves to this session (a shared phone). At most PUSH_MAX_DEVICES_PER_USER per user (409 PUSH_DEVICE_LIMIT_REACHED).',
        body: PushDeviceBody,
        response: { 201: Type.Ref('PushDevice'), ...problemResponses(400, 401, 409) },
      },
    },
    async (request, reply) => {
      const body = request.body;
      const input: PushDeviceInput =
        body.platform === 'webpush'
          ? { platform: 'webpush', subscription: required(body.subscription, 'body.subscription', 'webpush'), ...optional(body) }
          : { platform: body.platform, token: required(body.token, 'body.token', body.platform), ...optional(body) };
      return reply.code(201).send(await push.register(actorOf(request), input));
    },
  );

  authed.get(
    '/devices',
    { schema: { tags, security, operationId: 'listPushDevices', summary: 'Your push devices (every session of yours)', response: { 200: PushDeviceList, ...problemResponses(401) } } },
    async (request) => push.list(actorOf(request)),
  );

  authed.delete(
    '/devices/:id',
    { schema: { tags, security, operationId: 'deletePushDevice', summary: 'Stop pushes to one of your devices', params: IdParams, response: { 204: Type.Null(), ...problemResponses(400, 401, 404) } } },
    async (request, reply) => {
      await push.remove(actorOf(request), request.params.id);
      return reply.code(204).send(null);
    },
  );
};

function required<T>(value: T | undefined, field: string, platform: string): T {
  if (value === undefined) throw new AppError('VALIDATION_FAILED', `${platform} needs ${field.slice(5)}`, {}, [{ field, message: `is required for ${platform}` }]);
  return value;
}

const optional = (body: { appId?: string; locale?: string }) => ({ ...(body.appId ? { appId: body.appId } : {}), ...(body.locale ? { locale: body.locale } : {}) });
