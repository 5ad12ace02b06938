import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { AppError, type ErrorCode, type FieldError, codeForStatus, isAppError } from '../errors.js';

const PROBLEM_TYPE_BASE = 'urn:chat-backend:problem:';

/** The problem `type` URI of a code: stable, one per code. */
export function problemType(code: ErrorCode): string {
  return PROBLEM_TYPE_BASE + code.toLowerCase().replaceAll('_', '-');
}

interface AjvError {
  instancePath?: string;
  keyword?: string;
  message?: string;
  params?: { missingProperty?: string; additionalProperty?: string };
}

const contextName: Record<string, string> = { querystring: 'query', body: 'body', params: 'params', headers: 'headers' };

function fieldErrors(context: string | undefined, errors: AjvError[]): FieldError[] {
  const root = contextName[context ?? 'body'] ?? context ?? 'body';
  return errors.map((error) => {
    const segments = (error.instancePath ?? '').split('/').filter(Boolean);
    const leaf = error.params?.missingProperty ?? error.params?.additionalProperty;
    if (leaf) segments.push(leaf);
    return { field: [root, ...segments].join('.'), message: error.message ?? 'is invalid' };
  });
}

/** Maps anything thrown during a request to the AppError that describes it to the client. */
export function toAppError(error: unknown): AppError {
  if (isAppError(error)) return error;
  const err = error as Partial<FastifyError> & { validation?: AjvError[] };
  if (err.validation) {
    const errors = fieldErrors(err.validationContext, err.validation);
    return new AppError('VALIDATION_FAILED', errors.map((e) => `${e.field} ${e.message}`).join('; '), {}, errors);
  }
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new AppError('PAYLOAD_TOO_LARGE');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new AppError('UNSUPPORTED_MEDIA_TYPE', err.statusCode === 415 ? err.message : undefined);
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new AppError('MALFORMED_JSON');
  }
  const status = typeof err.statusCode === 'number' ? err.statusCode : 500;
  if (status >= 400 && status < 500) {
    // JSON syntax errors from the body parser carry 400 and a SyntaxError name.
    if (status === 400 && err.name === 'SyntaxError') return new AppError('MALFORMED_JSON');
    return new AppError(codeForStatus(status), err.message);
  }
  return new AppError(status === 503 ? 'SERVICE_UNAVAILABLE' : 'INTERNAL_ERROR');
}

/** Writes an AppError as application/problem+json. The one place REST errors are serialized. */
export function sendProblem(request: FastifyRequest, reply: FastifyReply, error: AppError): FastifyReply {
  const body = {
    type: problemType(error.code),
    title: error.title,
    status: error.status,
    code: error.code,
    ...(error.detail ? { detail: error.detail } : {}),
    requestId: request.id,
    ...(error.errors ? { errors: error.errors } : {}),
    ...error.extensions,
  };
  return reply.code(error.status).type('application/problem+json; charset=utf-8').send(JSON.stringify(body));
}

/** Answers requests no route matched. app.ts installs it behind the rate limiter, so scanners are limited too. */
export function notFoundHandler(request: FastifyRequest, reply: FastifyReply): FastifyReply {
  return sendProblem(request, reply, new AppError('ROUTE_NOT_FOUND', `${request.method} ${request.url.split('?')[0]} does not exist`));
}

/** One error handler for the whole app (registered at the root, inherited by every plugin). */
export const errorHandlerPlugin = fp(
  async (app) => {
    app.setErrorHandler((error, request, reply) => {
      const appError = toAppError(error);
      if (appError.status >= 500) request.log.error({ err: error }, 'request failed');
      else request.log.debug({ errorCode: appError.code }, 'request rejected');
      return sendProblem(request, reply, appError);
    });
  },
  { name: 'error-handler' },
);
