import type { messages } from '../../db/schema.js';

export type MessageRecord = typeof messages.$inferSelect;

/** The fields of a replied-to message that travel with a reply. */
export interface ReplyRecord {
  id: string;
  seq: number;
  senderId: string | null;
  type: string;
  body: string | null;
  deletedAt: Date | null;
}

/** A message row and the message it replies to, as the repository reads them. */
export type MessageRow = Omit<MessageRecord, 'searchVector' | 'xid'> & { reply: ReplyRecord | null };

type MessageType = 'text' | 'image' | 'video' | 'audio' | 'file';

/** The message resource: the same for every viewer, in REST and in bus events. */
export function toMessage(row: MessageRow) {
  const deleted = row.deletedAt !== null;
  return {
    id: row.id,
    conversationId: row.conversationId,
    seq: row.seq,
    senderId: row.senderId,
    clientId: row.clientId,
    type: row.type as MessageType,
    body: deleted ? null : row.body,
    replyTo: row.reply
      ? {
          id: row.reply.id,
          seq: row.reply.seq,
          senderId: row.reply.senderId,
          type: row.reply.type as MessageType,
          body: row.reply.deletedAt ? null : row.reply.body,
          deleted: row.reply.deletedAt !== null,
        }
      : null,
    forwarded: row.forwardFromId !== null,
    mentions: deleted ? [] : (row.mentions ?? []),
    reactions: deleted ? [] : row.reactions,
    attachments: deleted ? [] : (row.attachments ?? []),
    createdAt: row.createdAt.toISOString(),
    editedAt: row.editedAt?.toISOString() ?? null,
    deletedAt: row.deletedAt?.toISOString() ?? null,
    expiresAt: row.expiresAt?.toISOString() ?? null,
  };
}

export type MessageView = ReturnType<typeof toMessage>;
