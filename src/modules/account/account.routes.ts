import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { AccountExportDocument, DeleteAccountBody } from '../../schemas/account.js';
import { ChallengeResponse } from '../../schemas/auth.js';
import { problemResponses } from '../../schemas/common.js';
import { actorOf, requestContext } from '../auth/request-context.js';

const tags = ['users'];
const security = [{ bearerAuth: [] }];

/**
 * /users/me: deleting the account (with re-authentication) and exporting its data. Each route has a
 * per-address rate limit like /auth, since a password or code is checked or a large read is made.
 */
export const accountRoutes: FastifyPluginAsyncTypebox<{ rateLimitMax: number }> = async (app, { rateLimitMax }) => {
  const { account, accountExport } = app.services;
  const limited = { rateLimit: { max: rateLimitMax, timeWindow: 60_000 } };
  app.addHook('onRequest', app.authenticate);

  app.post(
    '/me/deletion-code',
    {
      config: limited,
      schema: {
        tags,
        security,
        operationId: 'requestAccountDeletionCode',
        summary: 'Send a code to your verified email (else phone) to confirm DELETE /users/me without your password',
        response: { 202: ChallengeResponse, ...problemResponses(400, 401, 429, 502, 503) },
      },
    },
    async (request, reply) => reply.code(202).send(await account.requestCode(actorOf(request), requestContext(request).ip)),
  );

  app.delete(
    '/me',
    {
      config: limited,
      schema: {
        tags,
        security,
        operationId: 'deleteAccount',
        summary: 'Delete your account: every session ends at once; profile, contacts, uploads and statuses are erased',
        description: 'Messages you sent stay in the other members’ history, from "Deleted account". Admins cannot delete their own account (403).',
        body: DeleteAccountBody,
        response: { 204: Type.Null(), ...problemResponses(400, 401, 403, 429) },
      },
    },
    async (request, reply) => {
      await account.deleteOwn(actorOf(request), request.body);
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/me/export',
    {
      config: limited,
      schema: {
        tags,
        security,
        operationId: 'exportAccount',
        summary: 'Download your data as JSON: profile, conversations, the messages you sent, your uploads (signed links)',
        response: { 200: AccountExportDocument, ...problemResponses(401, 429) },
      },
    },
    async (request, reply) => {
      // A stream skips the serializer: the schema documents the document the stream writes.
      const stream = await accountExport.open(actorOf(request));
      return reply.type('application/json; charset=utf-8').header('cache-control', 'no-store').header('content-disposition', 'attachment; filename="account-export.json"').send(stream as never);
    },
  );
};
