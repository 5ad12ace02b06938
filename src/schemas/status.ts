import { Type } from 'typebox';
import { Id, Nullable, Text, Timestamp } from './common.js';

/*
 * The status-update contract (REST and the status.created / status.deleted socket frames).
 */

export const STATUS_BODY_MAX = 700;
const UserIdList = Type.Array(Id, { minItems: 1, maxItems: 1024, uniqueItems: true });

export const Status = Type.Object(
  {
    id: Id,
    authorId: Id,
    type: Type.Enum(['text', 'image', 'video']),
    body: Nullable(Type.String({ description: 'The text, or the caption of an image or video.' })),
    media: Nullable(Type.Ref('Media')),
    backgroundColor: Nullable(Type.String()),
    createdAt: Timestamp,
    expiresAt: Timestamp,
  },
  {
    $id: 'Status',
    examples: [
      {
        id: '0192f0c1-7a00-7000-8000-0000000000e1',
        authorId: '0192f0c1-7a00-7000-8000-0000000000a1',
        type: 'text',
        body: 'At the beach 🏖',
        media: null,
        backgroundColor: '#128C7E',
        createdAt: '2026-11-23T10:00:00.000Z',
        expiresAt: '2026-11-24T10:00:00.000Z',
      },
    ],
  },
);

export const StatusBody = Type.Object(
  {
    type: Type.Enum(['text', 'image', 'video']),
    body: Type.Optional(Text({ maxLength: STATUS_BODY_MAX, multiline: true, description: 'Required for text; the caption otherwise.' })),
    mediaId: Type.Optional(Type.String({ format: 'uuid', description: 'Required for image and video: an upload of yours of that kind.' })),
    backgroundColor: Type.Optional(Type.String({ pattern: '^#[0-9A-Fa-f]{6}$', description: 'For text statuses, e.g. #128C7E.' })),
    audience: Type.Optional(
      Type.Union([Type.Literal('contacts'), Type.Object({ only: UserIdList }, { additionalProperties: false }), Type.Object({ except: UserIdList }, { additionalProperties: false })], {
        description: 'contacts (default): everyone sharing a 1:1 chat with you, minus blocks; {only: [ids]} or {except: [ids]} narrow it.',
      }),
    ),
  },
  { additionalProperties: false, examples: [{ type: 'text', body: 'At the beach 🏖', backgroundColor: '#128C7E' }, { type: 'image', mediaId: '0192f0c1-7a00-7000-8000-0000000000d1', audience: { except: ['0192f0c1-7a00-7000-8000-0000000000b2'] } }] },
);

export const FeedStatus = Type.Intersect([Status, Type.Object({ seen: Type.Boolean() })]);
export const StatusFeed = Type.Object({
  items: Type.Array(
    Type.Object({
      user: Type.Ref('PublicUser'),
      statuses: Type.Array(FeedStatus, { description: 'Oldest first.' }),
      allSeen: Type.Boolean(),
      lastAt: Timestamp,
    }),
    { description: 'One entry per contact with live statuses, most recent first.' },
  ),
});
export const MyStatuses = Type.Object({ items: Type.Array(Type.Intersect([Status, Type.Object({ viewCount: Type.Integer({ minimum: 0 }) })])) });
export const StatusViewer = Type.Object({ user: Type.Ref('PublicUser'), viewedAt: Timestamp });
export const StatusParams = Type.Object({ id: Id });

export const sharedStatusSchemas = [Status];
