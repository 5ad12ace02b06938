import { Type, type TSchema } from 'typebox';
import { Compile } from 'typebox/compile';
import { AttachmentIds, ClientId, Emoji, MessageText, messageTypes } from '../schemas/chat.js';
import { Id, Seq, Text, patternMessage } from '../schemas/common.js';
import { SYNC_TOKEN_MAX_LENGTH } from '../modules/sync/sync-token.js';

/**
 * The socket protocol's client frames: `{type, id?, data?}` JSON text frames. Each type's `data` is
 * validated against the schema here before its command runs; the same schemas document the frames
 * in openapi/asyncapi.yaml. `data` of commands mirrors the REST body of the same operation.
 */

const UUID_PATTERN = '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$';
/** Conversations one resume frame may name (as many as `ready` lists). */
export const RESUME_MAX_CONVERSATIONS = 1000;

export const Envelope = Type.Object({
  type: Type.String({ minLength: 1, maxLength: 64 }),
  id: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: "The client's; the reply echoes it." })),
  data: Type.Optional(Type.Unknown()),
});

export const clientFrames = {
  ping: Type.Optional(Type.Unknown()),
  'message.send': Type.Object(
    {
      conversationId: Type.Optional(Id),
      clientId: ClientId,
      type: Type.Enum([...messageTypes]),
      body: Type.Optional(MessageText),
      replyToId: Type.Optional(Id),
      forwardFromId: Type.Optional(Id),
      mentions: Type.Optional(Type.Array(Id, { maxItems: 50, uniqueItems: true })),
      attachments: Type.Optional(AttachmentIds),
    },
    { additionalProperties: false, description: 'The body of POST /message; conversationId may be left out on a room socket.' },
  ),
  'message.edit': Type.Object({ messageId: Id, body: MessageText }, { additionalProperties: false }),
  'message.delete': Type.Object({ messageId: Id, for: Type.Optional(Type.Enum(['me', 'everyone'])) }, { additionalProperties: false }),
  'reaction.set': Type.Object({ messageId: Id, emoji: Emoji }, { additionalProperties: false }),
  'reaction.remove': Type.Object({ messageId: Id, emoji: Emoji }, { additionalProperties: false }),
  receipt: Type.Object(
    { conversationId: Type.Optional(Id), delivered: Type.Optional(Seq), read: Type.Optional(Seq) },
    { additionalProperties: false, minProperties: 2, description: 'Move your receipts forward; at least one of delivered, read.' },
  ),
  typing: Type.Object({ conversationId: Type.Optional(Id), state: Type.Enum(['start', 'stop']) }, { additionalProperties: false }),
  resume: Type.Object(
    {
      conversationId: Type.Optional(Id),
      since: Type.Optional(
        Type.String({
          minLength: 1,
          maxLength: SYNC_TOKEN_MAX_LENGTH,
          pattern: '^[A-Za-z0-9_.-]+$',
          description:
            'A sync token (ready.syncToken, resume.done.syncToken, GET /sync nextToken): every conversation and stream that changed after it is replayed from where it stood then.',
        }),
      ),
      after: Type.Optional(Type.Union(
        [
          Seq,
          Type.Record(Type.String({ pattern: UUID_PATTERN }), Seq, { additionalProperties: false, maxProperties: RESUME_MAX_CONVERSATIONS }),
        ],
        { description: `A seq (with conversationId, or on a room socket), or on /ws a map conversationId -> seq (at most ${RESUME_MAX_CONVERSATIONS}). With since: where these are further, they win.` },
      )),
      streams: Type.Optional(
        Type.Object(
          { user: Type.Optional(Seq), announcements: Type.Optional(Seq) },
          { additionalProperties: false, description: 'On /ws: the seq of the last event you applied of each stream (ready.streams, then the events). With since: where these are further, they win.' },
        ),
      ),
    },
    { additionalProperties: false },
  ),
  'presence.subscribe': Type.Object(
    { userIds: Type.Array(Id, { minItems: 1, maxItems: 100, uniqueItems: true }) },
    { additionalProperties: false, description: 'Watch the online state of people you share a conversation with; others are left out of the answer.' },
  ),
  'auth.refresh': Type.Object({ accessToken: Text({ minLength: 1, maxLength: 4096 }) }, { additionalProperties: false }),
} satisfies Record<string, TSchema>;

export type ClientFrameType = keyof typeof clientFrames;

/** Keyed by client input: a Map, so `constructor` or `__proto__` is an unknown type like any other. */
const compiled = new Map(Object.entries(clientFrames).map(([type, schema]) => [type, Compile(schema)]));
const envelope = Compile(Envelope);

export interface FieldProblem {
  field: string;
  message: string;
}

export type ParsedFrame =
  | { ok: true; type: ClientFrameType; id: string | undefined; data: any }
  | { ok: false; code: 'MALFORMED_FRAME' | 'UNKNOWN_FRAME_TYPE' | 'VALIDATION_FAILED' | 'RATE_LIMITED'; id: string | undefined; message: string; errors?: FieldProblem[] };

/** Parses and validates one text frame. Never throws. */
export function parseFrame(text: string): ParsedFrame {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, code: 'MALFORMED_FRAME', id: undefined, message: 'The frame is not valid JSON' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { ok: false, code: 'MALFORMED_FRAME', id: undefined, message: 'A frame is a JSON object {type, id?, data?}' };
  const rawId = (value as { id?: unknown }).id;
  const id = typeof rawId === 'string' && rawId.length <= 64 ? rawId : undefined;
  if (!envelope.Check(value)) return { ok: false, code: 'MALFORMED_FRAME', id, message: 'A frame is {type: string, id?: string (at most 64 characters), data?}' };
  const frame = value as { type: string; data?: unknown };
  const validator = compiled.get(frame.type);
  if (!validator) return { ok: false, code: 'UNKNOWN_FRAME_TYPE', id, message: `Unknown frame type ${JSON.stringify(frame.type).slice(0, 80)}` };
  if (!validator.Check(frame.data)) {
    const errors = validator.Errors(frame.data).map((e: { instancePath: string; message: string; params: object }) => ({ field: `data${e.instancePath.replaceAll('/', '.')}`, message: patternMessage((e.params as { pattern?: unknown }).pattern, e.message) }));
    return { ok: false, code: 'VALIDATION_FAILED', id, message: errors.map((e: FieldProblem) => `${e.field} ${e.message}`).join('; '), errors };
  }
  return { ok: true, type: frame.type as ClientFrameType, id, data: frame.data };
}
