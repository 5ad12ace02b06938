import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { IdParams } from '../../schemas/chat.js';
import { Page, problemResponses } from '../../schemas/common.js';
import { ReportActionBody, ReportBody, ReportsQuery } from '../../schemas/operator.js';
import { actorOf } from '../auth/request-context.js';

const tags = ['reports'];
const security = [{ bearerAuth: [] }];
const ReportRef = Type.Ref('Report');

/** /reports: any user reports abuse. */
export const reportsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { reports } = app.services;
  app.addHook('onRequest', app.authenticate);

  app.post(
    '/',
    {
      config: { rateLimit: { max: 30, timeWindow: 3_600_000 } },
      schema: {
        tags,
        security,
        operationId: 'createReport',
        summary: 'Report a message you can see, or a user, for abuse',
        body: ReportBody,
        response: { 201: ReportRef, ...problemResponses(400, 401, 404, 429) },
      },
    },
    async (request, reply) => reply.code(201).send(await reports.create(actorOf(request), request.body)),
  );
};

/** /admin/reports: role admin. */
export const adminReportsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { reports } = app.services;

  app.get(
    '/',
    { schema: { tags, security, operationId: 'adminListReports', summary: 'The reports queue, newest first (default: open ones)', querystring: ReportsQuery, response: { 200: Page(ReportRef), ...problemResponses(400, 401, 403) } } },
    async (request) => reports.list(actorOf(request), request.query),
  );

  app.post(
    '/:id/actions',
    {
      schema: {
        tags,
        security,
        operationId: 'adminActOnReport',
        summary: 'Act on an open report: dismiss, delete the message for everyone, or ban (the sender / the reported user)',
        params: IdParams,
        body: ReportActionBody,
        response: { 200: ReportRef, ...problemResponses(400, 401, 403, 404, 409) },
      },
    },
    async (request) => reports.act(actorOf(request), request.params.id, request.body),
  );
};
