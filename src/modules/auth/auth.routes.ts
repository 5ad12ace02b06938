import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import {
  ChallengeIdBody,
  ChallengeResponse,
  IdentifierBody,
  LoginBody,
  LoginResponse,
  OtpRequestBody,
  RefreshBody,
  RegisterBody,
  ResetPasswordBody,
  SessionView,
  TokenPair,
  VerifyOtpBody,
  WsTicket,
} from '../../schemas/auth.js';
import { Id, problemResponses } from '../../schemas/common.js';
import { actorOf, requestContext } from './request-context.js';

/** /auth: thin adapters over AuthService. Every route has its own per-address rate limit. */
export const authRoutes: FastifyPluginAsyncTypebox<{ rateLimitMax: number }> = async (app, { rateLimitMax }) => {
  const auth = app.services.auth;
  const limited = { rateLimit: { max: rateLimitMax, timeWindow: 60_000 } };
  const tags = ['auth'];
  const secured = [{ bearerAuth: [] }];

  app.post(
    '/register',
    {
      config: limited,
      schema: {
        tags,
        operationId: 'register',
        summary: 'Create an account; a code is sent to the email (or else phone) to verify it',
        body: RegisterBody,
        response: { 201: Type.Object({ user: Type.Ref('PrivateUser'), challenge: Type.Ref('Challenge') }), ...problemResponses(400, 409, 429, 502, 503) },
      },
    },
    async (request, reply) => reply.code(201).send(await auth.register(request.body, requestContext(request))),
  );

  app.post(
    '/login',
    {
      config: limited,
      schema: {
        tags,
        operationId: 'login',
        summary: 'Password sign-in: answers a code challenge (two-step, default) or tokens (AUTH_LOGIN_OTP=false)',
        body: LoginBody,
        response: { 200: LoginResponse, ...problemResponses(400, 401, 403, 429, 502, 503) },
      },
    },
    async (request) => auth.login(request.body, requestContext(request)),
  );

  app.post(
    '/otp',
    {
      config: limited,
      schema: {
        tags,
        operationId: 'requestOtp',
        summary: 'Passwordless sign-in: send a code to a registered, verified phone or email',
        description: 'Unknown contacts get the same answer; their challenge never verifies.',
        body: OtpRequestBody,
        response: { 202: ChallengeResponse, ...problemResponses(400, 429) },
      },
    },
    async (request, reply) => reply.code(202).send(await auth.requestOtp(request.body, requestContext(request))),
  );

  app.post(
    '/verify-otp',
    {
      config: limited,
      schema: {
        tags,
        operationId: 'verifyOtp',
        summary: 'Answer a register, login or passwordless challenge; returns tokens',
        body: VerifyOtpBody,
        response: { 200: Type.Ref('TokenPair'), ...problemResponses(400, 403, 429) },
      },
    },
    async (request) => auth.verifyOtp(request.body, requestContext(request)),
  );

  app.post(
    '/resend-otp',
    {
      config: limited,
      schema: {
        tags,
        operationId: 'resendOtp',
        summary: 'Send a new code for a live challenge (spaced and counted)',
        body: ChallengeIdBody,
        response: { 202: ChallengeResponse, ...problemResponses(400, 429, 502, 503) },
      },
    },
    async (request, reply) => reply.code(202).send(await auth.resendOtp(request.body.challengeId, requestContext(request))),
  );

  app.post(
    '/forgot-password',
    {
      config: limited,
      schema: {
        tags,
        operationId: 'forgotPassword',
        summary: 'Send a password-reset code; always 202, whether or not the account exists',
        body: IdentifierBody,
        response: { 202: ChallengeResponse, ...problemResponses(400, 429) },
      },
    },
    async (request, reply) => reply.code(202).send(await auth.forgotPassword(request.body.identifier, requestContext(request))),
  );

  app.post(
    '/reset-password',
    {
      config: limited,
      schema: {
        tags,
        operationId: 'resetPassword',
        summary: 'Set a new password with a reset code; every session of the account ends',
        body: ResetPasswordBody,
        response: { 204: Type.Null(), ...problemResponses(400, 429) },
      },
    },
    async (request, reply) => {
      await auth.resetPassword(request.body);
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/refresh',
    {
      config: limited,
      schema: {
        tags,
        operationId: 'refreshTokens',
        summary: 'Exchange a refresh token for a new pair; a reused token revokes its session',
        body: RefreshBody,
        response: { 200: TokenPair, ...problemResponses(401, 403, 429) },
      },
    },
    async (request) => auth.refresh(request.body.refreshToken),
  );

  app.post(
    '/logout',
    {
      config: limited,
      schema: { tags, operationId: 'logout', summary: 'End the session of this refresh token', body: RefreshBody, response: { 204: Type.Null(), ...problemResponses(400, 429) } },
    },
    async (request, reply) => {
      await auth.logout(request.body.refreshToken);
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/logout-all',
    {
      config: limited,
      onRequest: app.authenticate,
      schema: { tags, security: secured, operationId: 'logoutAll', summary: 'End every session of the account', response: { 204: Type.Null(), ...problemResponses(401, 429) } },
    },
    async (request, reply) => {
      await auth.logoutAll(actorOf(request));
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/sessions',
    {
      config: limited,
      onRequest: app.authenticate,
      schema: { tags, security: secured, operationId: 'listSessions', summary: 'Signed-in devices', response: { 200: Type.Object({ items: Type.Array(SessionView) }), ...problemResponses(401, 429) } },
    },
    async (request) => ({ items: await auth.listSessions(actorOf(request)) }),
  );

  app.delete(
    '/sessions/:id',
    {
      config: limited,
      onRequest: app.authenticate,
      schema: {
        tags,
        security: secured,
        operationId: 'revokeSession',
        summary: 'Sign a device out',
        params: Type.Object({ id: Id }),
        response: { 204: Type.Null(), ...problemResponses(401, 404, 429) },
      },
    },
    async (request, reply) => {
      await auth.revokeSession(actorOf(request), request.params.id);
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/ws-ticket',
    {
      config: limited,
      onRequest: app.authenticate,
      schema: {
        tags,
        security: secured,
        operationId: 'createWsTicket',
        summary: 'A single-use socket ticket (valid 60 s) for browsers, which cannot send headers on a WebSocket',
        response: { 200: WsTicket, ...problemResponses(401, 429) },
      },
    },
    async (request) => auth.createWsTicket(actorOf(request)),
  );
};
