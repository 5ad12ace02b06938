import { Type } from 'typebox';
import { PASSWORD_MAX_LENGTH } from '../modules/auth/password.js';
import { Code } from './auth.js';
import { Id, Nullable, Text, Timestamp } from './common.js';
import { Attachment } from './media.js';

/** Wire schemas of account deletion and data export (DELETE /users/me, GET /users/me/export). */

export const DeleteAccountBody = Type.Union(
  [
    Type.Object({ password: Text({ minLength: 1, maxLength: PASSWORD_MAX_LENGTH }) }, { additionalProperties: false }),
    Type.Object({ challengeId: Id, code: Code }, { additionalProperties: false }),
  ],
  {
    description: 'Proof that it is you: your password, or the code POST /users/me/deletion-code sent to your verified contact.',
    examples: [{ password: 'correct horse battery' }, { challengeId: '0192f0c1-7a00-7000-8000-0000000000c1', code: '123456' }],
  },
);

export const ExportConversation = Type.Object({
  id: Id,
  kind: Type.Enum(['direct', 'group', 'broadcast', 'support']),
  title: Nullable(Type.String({ description: "The conversation's title; for a direct chat the other person's display name." })),
  peerId: Nullable(Id),
  memberCount: Type.Integer(),
  role: Type.Enum(['owner', 'admin', 'member']),
  joinedAt: Timestamp,
  leftAt: Nullable(Timestamp),
});

export const ExportMessage = Type.Object({
  id: Id,
  conversationId: Id,
  seq: Type.Integer(),
  type: Type.String(),
  body: Nullable(Type.String()),
  replyToId: Nullable(Id),
  forwarded: Type.Boolean(),
  attachments: Type.Array(Type.Object({ ...Attachment.properties, url: Type.String({ description: 'Signed link, valid for MEDIA_URL_TTL_SECONDS.' }) })),
  createdAt: Timestamp,
  editedAt: Nullable(Timestamp),
});

export const AccountExportDocument = Type.Object(
  {
    exportedAt: Timestamp,
    profile: Type.Ref('PrivateUser'),
    conversations: Type.Array(ExportConversation, { description: 'Every conversation you are or were in.' }),
    messages: Type.Array(ExportMessage, { description: 'The messages you sent that still exist (not deleted for everyone, not expired), conversation by conversation, in seq order.' }),
    media: Type.Array(Type.Ref('Media'), { description: 'Your uploads, with signed links.' }),
  },
  { description: 'Streamed as one JSON document (Content-Disposition: attachment).' },
);
