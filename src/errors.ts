/**
 * Stable machine-readable error codes. REST answers them as application/problem+json
 * `{type, title, status, detail, code, requestId, errors?, ...extensions}`; the socket's `error` frame
 * carries the same `code`. Codes are part of the public contract: add new ones, never rename.
 */
export const errorCatalog = {
  BAD_REQUEST: { status: 400, title: 'Bad request' },
  VALIDATION_FAILED: { status: 400, title: 'The request is invalid' },
  MALFORMED_JSON: { status: 400, title: 'The request body is not valid JSON' },
  MALFORMED_MULTIPART: { status: 400, title: 'The multipart/form-data body is malformed (no boundary, or cut before its end)' },
  MALFORMED_FRAME: { status: 400, title: 'The socket frame is not a JSON object {type, id?, data?}' },
  UNKNOWN_FRAME_TYPE: { status: 400, title: 'The socket frame type is unknown' },
  INVALID_CURSOR: { status: 400, title: 'The pagination cursor is invalid' },
  WEAK_PASSWORD: { status: 400, title: 'The password does not meet the policy' },
  INVALID_PHONE: { status: 400, title: 'The phone number is not valid' },
  OTP_INVALID: { status: 400, title: 'The code is not valid' },
  OTP_EXPIRED: { status: 400, title: 'The code has expired' },
  CURRENT_PASSWORD_INCORRECT: { status: 400, title: 'The current password is incorrect' },
  CANNOT_BLOCK_SELF: { status: 400, title: 'You cannot block yourself' },
  CANNOT_CHAT_WITH_SELF: { status: 400, title: 'You cannot start a direct chat with yourself' },
  NOT_A_GROUP: { status: 400, title: 'Only groups and broadcast lists have this operation' },
  SEQ_OUT_OF_RANGE: { status: 400, title: 'The seq is beyond the last message of the conversation' },
  SYNC_TOKEN_INVALID: { status: 400, title: 'The sync token is not one this server issued' },
  PUSH_PLATFORM_UNAVAILABLE: { status: 400, title: 'This server sends no pushes on that platform' },
  PUSH_ENDPOINT_REFUSED: { status: 400, title: 'The push endpoint must be an https URL on a public address' },
  EMPTY_MESSAGE: { status: 400, title: 'A text message needs a body' },
  MESSAGE_TOO_LONG: { status: 400, title: 'The message body is too long' },
  MEDIA_UNREADABLE: { status: 400, title: 'The file could not be read as the type it claims' },
  INVALID_ATTACHMENTS: { status: 400, title: 'The attachments do not fit the message' },
  UNAUTHORIZED: { status: 401, title: 'Authentication is required' },
  INVALID_CREDENTIALS: { status: 401, title: 'Wrong identifier or password' },
  TOKEN_EXPIRED: { status: 401, title: 'The access token has expired' },
  SESSION_REVOKED: { status: 401, title: 'The session has ended' },
  REFRESH_TOKEN_INVALID: { status: 401, title: 'The refresh token is not valid' },
  REFRESH_TOKEN_REUSED: { status: 401, title: 'The refresh token was already used; the session is revoked' },
  TICKET_INVALID: { status: 401, title: 'The socket ticket is not valid' },
  FORBIDDEN: { status: 403, title: 'Not allowed' },
  MEDIA_LINK_INVALID: { status: 403, title: 'The signed media link is invalid or has expired' },
  ACCOUNT_BANNED: { status: 403, title: 'The account is banned' },
  NOT_GROUP_ADMIN: { status: 403, title: 'Only the owner or an admin of the group may do this' },
  NOT_A_MEMBER: { status: 403, title: 'You are no longer a member of this conversation' },
  USER_BLOCKED: { status: 403, title: 'One of you blocked the other' },
  NOT_MESSAGE_SENDER: { status: 403, title: 'Only the sender may do this' },
  EDIT_WINDOW_EXPIRED: { status: 403, title: 'The message can no longer be changed' },
  NOT_FOUND: { status: 404, title: 'Not found' },
  ROUTE_NOT_FOUND: { status: 404, title: 'No such route' },
  USER_NOT_FOUND: { status: 404, title: 'No such user' },
  SESSION_NOT_FOUND: { status: 404, title: 'No such session' },
  CONVERSATION_NOT_FOUND: { status: 404, title: 'No such conversation' },
  MESSAGE_NOT_FOUND: { status: 404, title: 'No such message' },
  MEDIA_NOT_FOUND: { status: 404, title: 'No such media' },
  STATUS_NOT_FOUND: { status: 404, title: 'No such status update' },
  METHOD_NOT_ALLOWED: { status: 405, title: 'Method not allowed' },
  NOT_ACCEPTABLE: { status: 406, title: 'Not acceptable' },
  CONFLICT: { status: 409, title: 'Conflict' },
  USERNAME_TAKEN: { status: 409, title: 'The username is taken' },
  CONTACT_TAKEN: { status: 409, title: 'The email address or phone number belongs to another account' },
  MEMBER_LIMIT_REACHED: { status: 409, title: 'The conversation has reached its member limit' },
  MESSAGE_DELETED: { status: 409, title: 'The message was deleted' },
  REACTION_LIMIT_REACHED: { status: 409, title: 'Too many different reactions on this message' },
  STATUS_LIMIT_REACHED: { status: 409, title: 'Too many live status updates' },
  PUSH_DEVICE_LIMIT_REACHED: { status: 409, title: 'Too many push devices' },
  PIN_LIMIT_REACHED: { status: 409, title: 'Too many pinned messages in this conversation' },
  SYNC_TOKEN_EXPIRED: { status: 410, title: 'The sync token is too old or from another database: take a fresh snapshot' },
  PAYLOAD_TOO_LARGE: { status: 413, title: 'The request body is too large' },
  MEDIA_TOO_LARGE: { status: 413, title: 'The file is larger than allowed for its type' },
  MEDIA_QUOTA_EXCEEDED: { status: 413, title: 'The media storage quota is used up' },
  URI_TOO_LONG: { status: 414, title: 'A path segment is too long' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, title: 'Unsupported content type' },
  MEDIA_TYPE_NOT_ALLOWED: { status: 415, title: 'This type of file is not accepted' },
  RANGE_NOT_SATISFIABLE: { status: 416, title: 'The requested range is outside the file' },
  RATE_LIMITED: { status: 429, title: 'Too many requests' },
  OTP_ATTEMPTS_EXCEEDED: { status: 429, title: 'Too many wrong codes; request a new one' },
  OTP_RESEND_TOO_SOON: { status: 429, title: 'Wait before requesting another code' },
  OTP_SEND_LIMIT: { status: 429, title: 'Too many codes requested; try again later' },
  INTERNAL_ERROR: { status: 500, title: 'Internal server error' },
  SMS_DELIVERY_FAILED: { status: 502, title: 'The text message could not be sent' },
  MAIL_DELIVERY_FAILED: { status: 502, title: 'The email could not be sent' },
  SERVICE_UNAVAILABLE: { status: 503, title: 'Service unavailable' },
  PROVIDER_UNAVAILABLE: { status: 503, title: 'The SMS or mail provider did not answer in time' },
} as const satisfies Record<string, { status: number; title: string }>;

export type ErrorCode = keyof typeof errorCatalog;

export interface FieldError {
  /** Where the problem is, e.g. `body.username` or `query.limit`. */
  field: string;
  message: string;
}

/** A domain error. Services throw these; transports turn them into problem+json or `error` frames. */
export class AppError extends Error {
  override name = 'AppError';
  readonly status: number;
  readonly title: string;
  readonly code: ErrorCode;
  readonly detail?: string;
  /** Extra members of the problem body (e.g. `retryAfter`), part of the contract of that code. */
  readonly extensions: Record<string, unknown>;
  readonly errors?: FieldError[];

  constructor(code: ErrorCode, detail?: string, extensions: Record<string, unknown> = {}, errors?: FieldError[]) {
    super(detail ?? errorCatalog[code].title);
    this.status = errorCatalog[code].status;
    this.title = errorCatalog[code].title;
    this.code = code;
    this.detail = detail;
    this.extensions = extensions;
    this.errors = errors;
  }

  /** fastify reads statusCode from thrown errors (e.g. inside plugins). */
  get statusCode(): number {
    return this.status;
  }
}

export function isAppError(error: unknown): error is AppError {
  return error instanceof AppError;
}

/** The generic code for a bare HTTP status (errors raised by fastify or plugins, not by us). */
export function codeForStatus(status: number): ErrorCode {
  const match = (Object.keys(errorCatalog) as ErrorCode[]).find((code) => errorCatalog[code].status === status);
  if (match) return match;
  return status >= 500 ? 'INTERNAL_ERROR' : 'BAD_REQUEST';
}
