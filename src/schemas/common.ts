import { Type, type TSchema, type TStringOptions } from 'typebox';

/*
 * Shared wire conventions: camelCase JSON, ISO 8601 UTC timestamps, opaque string ids, and lists
 * as `{items, nextCursor}` driven by `?cursor=&limit=`.
 */

/**
 * `schema` or null. Null comes first: with fastify's type coercion a null checked against the string
 * branch first would be turned into "" before the null branch is tried.
 */
export const Nullable = <T extends TSchema>(schema: T) => Type.Union([Type.Null(), schema]);

/*
 * Text policy, for every string a client sends (REST and socket): no C0 control characters
 * (U+0000..U+001F), no DEL (U+007F), no unpaired surrogate halves. Multi-line text keeps tab, LF and
 * CR. Postgres refuses U+0000 outright; the rest has no place in names, titles or messages. Patterns
 * are matched with the `u` flag (ajv and typebox both do), so a surrogate pair is one character.
 */
export const SINGLE_LINE_PATTERN = '^[^\\u0000-\\u001F\\u007F\\uD800-\\uDFFF]*$';
export const MULTI_LINE_PATTERN = '^[^\\u0000-\\u0008\\u000B\\u000C\\u000E-\\u001F\\u007F\\uD800-\\uDFFF]*$';
const textPatterns = new Set([SINGLE_LINE_PATTERN, MULTI_LINE_PATTERN]);
const TEXT_RULE_MESSAGE = 'must not contain control characters (U+0000-U+001F, U+007F) or unpaired surrogates';

/** A client-supplied string under the text policy: one line unless `multiline` (tab, LF, CR allowed). */
export function Text(options: Omit<TStringOptions, 'pattern'> & { multiline?: boolean } = {}) {
  const { multiline, ...rest } = options;
  return Type.String({ ...rest, pattern: multiline ? MULTI_LINE_PATTERN : SINGLE_LINE_PATTERN });
}

/** An https URL (format uri), without spaces or control characters. */
export function HttpsUrl(options: Omit<TStringOptions, 'pattern' | 'format'> = {}) {
  return Type.String({ ...options, format: 'uri', pattern: '^https://[^\\u0000-\\u0020\\u007F\\uD800-\\uDFFF]*$' });
}

/** The message of a failed pattern check: the text policy in words, or the validator's own message. */
export function patternMessage(pattern: unknown, fallback: string): string {
  return typeof pattern === 'string' && textPatterns.has(pattern) ? TEXT_RULE_MESSAGE : fallback;
}

export const Id = Type.String({ format: 'uuid', description: 'Opaque identifier.' });
export const Timestamp = Type.String({ format: 'date-time', description: 'ISO 8601, UTC.' });

export const Problem = Type.Object(
  {
    type: Type.String({ description: 'URI identifying the problem type; stable per code.' }),
    title: Type.String(),
    status: Type.Integer(),
    code: Type.String({ description: 'Stable machine-readable error code, e.g. VALIDATION_FAILED.' }),
    detail: Type.Optional(Type.String()),
    requestId: Type.Optional(Type.String({ description: 'Matches the x-request-id response header.' })),
    errors: Type.Optional(
      Type.Array(Type.Object({ field: Type.String({ description: 'e.g. body.username or query.limit' }), message: Type.String() })),
    ),
  },
  {
    $id: 'Problem',
    additionalProperties: true,
    description: 'RFC 9457 problem details (application/problem+json). Codes may add members, e.g. retryAfter.',
  },
);

export const ProblemRef = Type.Ref('Problem');

const problemDescriptions: Record<number, string> = {
  400: 'Invalid request (code VALIDATION_FAILED lists the fields)',
  401: 'Missing or invalid credentials',
  403: 'Not allowed',
  404: 'Not found',
  409: 'Conflict',
  410: 'Gone (SYNC_TOKEN_EXPIRED: take a fresh snapshot)',
  413: 'Too large',
  414: 'A path segment is too long (URI_TOO_LONG)',
  415: 'Unsupported content type',
  429: 'Rate limited (retryAfter in seconds)',
  500: 'Internal error (INTERNAL_ERROR)',
  503: 'A dependency is unavailable (SERVICE_UNAVAILABLE: retry after Retry-After seconds)',
};

/** Error responses for a route's schema, documented as application/problem+json: `problemResponses(400, 404)`. */
export function problemResponses(...statuses: number[]) {
  return Object.fromEntries(
    statuses.map((status) => [
      status,
      { description: problemDescriptions[status] ?? 'Error', content: { 'application/problem+json': { schema: ProblemRef } } },
    ]),
  );
}

/** The largest seq a client may name: every integer a client sends has both bounds (ajv and typebox refuse 1e400). */
export const MAX_SEQ = Number.MAX_SAFE_INTEGER;
export const Seq = Type.Integer({
  minimum: 0,
  maximum: MAX_SEQ,
  description:
    "A position in the conversation's log, in commit order: each message and each recorded change (edit, delete, reaction, pin, receipt, " +
    'membership, rename, your settings) takes the next one, none shared. Message seqs therefore jump where changes were recorded, and what you ' +
    'read jumps too where messages are deleted for you, expired, never stored (ephemeral) or outside your membership: a jump is not a lost message.',
});
/** A seq bound of a history page: `?before=` (the first seq is 1, so nothing is before 0) or `?after=`. */
export const SeqBound = (minimum: 0 | 1) => Type.Integer({ minimum, maximum: MAX_SEQ });

export const MAX_PAGE_LIMIT = 100;
export const DEFAULT_PAGE_LIMIT = 50;

/** `?cursor=&limit=`; a limit above the cap is a 400, not silently clamped. */
export const PageQuery = Type.Object({
  cursor: Type.Optional(Text({ maxLength: 512, description: 'Opaque cursor from a previous page.' })),
  limit: Type.Integer({ minimum: 1, maximum: MAX_PAGE_LIMIT, default: DEFAULT_PAGE_LIMIT }),
});

export function Page<T extends TSchema>(item: T) {
  return Type.Object({
    items: Type.Array(item),
    nextCursor: Type.Union([Type.String(), Type.Null()], { description: 'Pass as ?cursor= for the next page; null on the last.' }),
  });
}
