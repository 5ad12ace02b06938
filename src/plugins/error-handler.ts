import type { FastifyError, FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import fp from 'fastify-plugin';
import { isDatabaseUnavailable } from '../db/errors.js';
import { AppError, type ErrorCode, type FieldError, codeForStatus, isAppError } from '../errors.js';
import { patternMessage, problemResponses } from '../schemas/common.js';

const PROBLEM_TYPE_BASE = 'urn:chat-backend:problem:';
/** Seconds a client is told to wait before retrying when the database is unreachable. */
export const DATABASE_RETRY_AFTER_SECONDS = 5;

/** The problem `type` URI of a code: stable, one per code. */
export function problemType(code: ErrorCode): string {
  return PROBLEM_TYPE_BASE + code.toLowerCase().replaceAll('_', '-');
}

interface AjvError {
  instancePath?: string;
  keyword?: string;
  message?: string;
  params?: { missingProperty?: string; additionalProperty?: string; pattern?: string };
}

const contextName: Record<string, string> = { querystring: 'query', body: 'body', params: 'params', headers: 'headers' };

function fieldErrors(context: string | undefined, errors: AjvError[]): FieldError[] {
  const root = contextName[context ?? 'body'] ?? context ?? 'body';
  return errors.map((error) => {
    const segments = (error.instancePath ?? '').split('/').filter(Boolean);
    const leaf = error.params?.missingProperty ?? error.params?.additionalProperty;
    if (leaf) segments.push(leaf);
    return { field: [root, ...segments].join('.'), message: patternMessage(error.params?.pattern, error.message ?? 'is invalid') };
  });
}

/**
 * Maps anything thrown during a request or a socket frame to the AppError that describes it to the
 * client. Transport-neutral: REST (answerError) and the socket gateway both use it.
 */
export function toAppError(error: unknown): AppError {
  if (isAppError(error)) return error;
  if (isDatabaseUnavailable(error)) {
    return new AppError('SERVICE_UNAVAILABLE', 'The database cannot be reached; retry shortly', { retryable: true, retryAfter: DATABASE_RETRY_AFTER_SECONDS });
  }
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
    case 'FST_ERR_BAD_URL':
      return new AppError('BAD_REQUEST', 'The URL is not valid (percent-encoding or UTF-8)');
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return new AppError('URI_TOO_LONG', 'A path segment is longer than 100 characters');
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
  const retryAfter = error.extensions.retryAfter;
  if (typeof retryAfter === 'number' && !reply.hasHeader('retry-after')) reply.header('retry-after', String(retryAfter));
  return reply.code(error.status).type('application/problem+json; charset=utf-8').send(JSON.stringify(body));
}

/** Answers requests no route matched. app.ts installs it behind the rate limiter, so scanners are limited too. */
export function notFoundHandler(request: FastifyRequest, reply: FastifyReply): FastifyReply {
  return sendProblem(request, reply, new AppError('ROUTE_NOT_FOUND', `${request.method} ${request.url.split('?')[0]} does not exist`));
}

/**
 * Adds to a documented route's responses the problems any such route can answer, whatever it does:
 * 400 (a malformed URL or input), 414 (a path parameter over 100 characters), 413/415 (a body too
 * large or of another type, on every method that reads one), 401/403 (a missing, invalid or banned token on secured routes), 429
 * (the global rate limit), 500 and 503 (a dependency down). So every status reaches the OpenAPI.
 */
function declareCommonProblems(route: RouteOptions): void {
  const schema = route.schema;
  if (!schema?.response) return;
  const statuses = [400, 500, 503];
  if (route.url.includes(':')) statuses.push(414);
  // Fastify reads a body on every method but GET and HEAD, whether or not the route declares one.
  const methods = [route.method].flat().map((m) => String(m).toUpperCase());
  if (schema.body || methods.some((m) => m !== 'GET' && m !== 'HEAD')) statuses.push(413, 415);
  if (schema.security?.some((requirement) => Object.keys(requirement).length > 0)) statuses.push(401, 403);
  if ((route.config as { rateLimit?: unknown } | undefined)?.rateLimit !== false) statuses.push(429);
  // New objects: one schema may serve several routes (not all with a path parameter).
  route.schema = { ...schema, response: { ...problemResponses(...statuses), ...(schema.response as object) } };
}

/** Answers an error raised anywhere in a request: the error handler, and fastify's `frameworkErrors` option. */
export function answerError(error: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const appError = toAppError(error);
  // A dependency that is down is an operational condition (alert on its rate), not a bug.
  if (appError.code === 'SERVICE_UNAVAILABLE') request.log.warn({ err: error, errorCode: appError.code }, 'request failed: a dependency is unavailable');
  else if (appError.status >= 500) request.log.error({ err: error }, 'request failed');
  else request.log.debug({ errorCode: appError.code }, 'request rejected');
  return sendProblem(request, reply, appError);
}

/**
 * Errors fastify answers before routing (a path that is no valid URL, a path parameter over
 * maxParamLength): no hook has run, so the request id header is set here.
 */
export function frameworkErrors(error: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  reply.header('x-request-id', request.id);
  return answerError(error, request, reply);
}

/** One error handler for the whole app (registered at the root, inherited by every plugin). */
export const errorHandlerPlugin = fp(
  async (app) => {
    app.setErrorHandler(answerError);
    app.addHook('onRoute', declareCommonProblems);
  },
  { name: 'error-handler' },
);
