import { Type } from 'typebox';
import { SYNC_TOKEN_MAX_LENGTH } from '../modules/sync/sync-token.js';
import { Id, Seq } from './common.js';

export const SyncQuery = Type.Object(
  {
    since: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: SYNC_TOKEN_MAX_LENGTH,
        pattern: '^[A-Za-z0-9_.-]+$',
        description: 'The nextToken of your last sync (or a socket ready.syncToken / resume.done.syncToken). Leave out for a snapshot.',
      }),
    ),
    limit: Type.Integer({ minimum: 1, maximum: 500, default: 100, description: 'Events per page (a conversation.joined marker may come on top).' }),
  },
  { additionalProperties: false },
);

export const SyncItem = Type.Object(
  {
    type: Type.String({
      description:
        'A logged socket event type: of a conversation (message.created, message.updated, ..., conversation.settings) or of a stream (user.blocked, status.created, announcement, ...); or conversation.joined.',
    }),
    conversationId: Type.Optional(Id),
    stream: Type.Optional(Type.Enum(['user', 'announcements'], { description: 'Set instead of conversationId on stream events: your own log, or the announcements.' })),
    seq: Type.Optional(Seq),
    data: Type.Unknown({ description: "The socket event's data; for conversation.joined, the Conversation resource." }),
  },
  {
    $id: 'SyncItem',
    description:
      'A change, exactly as the socket sends it: stream events first (announcements, then your own log), then conversations; conversation.joined (no seq) comes before the events of a conversation that is new to you.',
  },
);

export const SyncAnswer = Type.Object(
  {
    items: Type.Array(Type.Ref('SyncItem'), { description: 'What changed since the token, in seq order per conversation and per stream.' }),
    conversations: Type.Array(Type.Ref('Conversation'), { description: 'The snapshot (without since): your conversations as GET /chat shows them, up to 1000. Empty otherwise.' }),
    nextToken: Type.String({ description: 'Store it once you applied the page; pass it as since next time.' }),
    more: Type.Boolean({ description: 'More changes are waiting: call again with nextToken now.' }),
  },
  {
    examples: [
      {
        items: [{ type: 'message.updated', conversationId: '0192f0c1-7a00-7000-8000-0000000000c1', seq: 43, data: {} }],
        conversations: [],
        nextToken: 'eyJ2IjoxLCJzIjoiNzQ4Ojc1Mjo3NDgiLCJ0IjoxNzk2MjAwMDAwMDAwfQ',
        more: false,
      },
    ],
  },
);

export const sharedSyncSchemas = [SyncItem];
