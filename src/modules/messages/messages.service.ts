import type { Database } from '../../db/client.js';
import { uniqueViolation } from '../../db/errors.js';
import { deleteInBatches } from '../../lib/in-batches.js';
import { AppError } from '../../errors.js';
import type { ChatEvents } from '../../events/chat-events.js';
import { timePage, timePosition } from '../../lib/time-page.js';
import type { Actor } from '../auth/tokens.js';
import type { ContactChanges } from '../users/user-log.js';
import type { MediaService } from '../media/media.service.js';
import type { Access, ConversationAccess } from '../conversations/conversation.access.js';
import type { ChangeLog } from '../conversations/change-log.js';
import { type LogEvent, createConversationLog } from './conversation-log.js';
import type { ConversationRepository } from '../conversations/conversation.repository.js';
import { seqWindow, visibleLastSeq } from '../conversations/conversation.views.js';
import type { BatchStored, MessageBatcher, PlainMessage } from './message-batch.js';
import type { MessageRepository, NewMessage } from './message.repository.js';
import { type MessageRow, type MessageView, toMessage } from './message.views.js';
import { createMessageVisibility } from './message.visibility.js';

export interface SendInput {
  conversationId: string;
  clientId: string;
  type: 'text' | 'image' | 'video' | 'audio' | 'file';
  body?: string;
  replyToId?: string;
  forwardFromId?: string;
  mentions?: string[];
  /** Media ids (POST /media) of the sender; forwards without them reuse the source's stored files. */
  attachments?: string[];
}

export interface MessagesConfig {
  messageMaxLength: number;
  editWindowSeconds: number;
}

/** Sending, history, edits and deletes. The one implementation behind REST and the socket. */
export function createMessagesService(deps: {
  messages: MessageRepository;
  batcher: MessageBatcher;
  conversations: ConversationRepository;
  changeLog: ChangeLog;
  access: ConversationAccess;
  events: ChatEvents;
  media: Pick<MediaService, 'forMessage'>;
  /** A fan-out's first direct chat with a recipient makes them contacts (see ContactChanges). */
  contacts: ContactChanges;
  /** A message deleted for everyone takes back its pushes, in the delete's transaction (PushRepository.retract). */
  pushes: { retract(messageId: string, tx: Database): Promise<void> };
  config: MessagesConfig;
}) {
  const { messages, batcher, conversations, changeLog, access, events, media, contacts, pushes, config } = deps;
  const log = createConversationLog({ messages, changeLog });
  const visibility = createMessageVisibility({ messages, access });

  function checkBody(type: string, body: string | undefined, field = 'body.body'): void {
    if (body !== undefined && [...body].length > config.messageMaxLength) {
      throw new AppError('MESSAGE_TOO_LONG', `At most ${config.messageMaxLength} characters`, { maxLength: config.messageMaxLength }, [{ field, message: `must have at most ${config.messageMaxLength} characters` }]);
    }
    if (type === 'text' && (body === undefined || body.trim() === '')) throw new AppError('EMPTY_MESSAGE', undefined, {}, [{ field, message: 'must not be blank' }]);
  }

  const withinWindow = (row: MessageRow) => Date.now() - row.createdAt.getTime() <= config.editWindowSeconds * 1000;

  /** The row of a message just stored (or relayed), published to the conversation. */
  function announce(input: NewMessage, stored: BatchStored, reply: MessageRow | null, store: boolean): MessageRow {
    const row: MessageRow = {
      ...input,
      metadata: input.metadata ?? null,
      attachments: input.attachments ?? [],
      id: stored.id,
      seq: stored.seq,
      reactions: [],
      createdAt: stored.createdAt,
      editedAt: null,
      deletedAt: null,
      expiresAt: stored.expiresAt,
      reply: reply && { id: reply.id, seq: reply.seq, senderId: reply.senderId, type: reply.type, body: reply.body, deletedAt: reply.deletedAt },
    };
    events.publish('message.created', input.conversationId, toMessage(row), [], store ? { seq: stored.seq } : { stored: false });
    return row;
  }

  /** Appends one message; a repeated (sender, clientId) answers the stored original instead. */
  async function append(input: NewMessage, reply: MessageRow | null, store: boolean): Promise<{ row: MessageRow; created: boolean }> {
    try {
      return { row: announce(input, await messages.append(input, store), reply, store), created: true };
    } catch (error) {
      if (uniqueViolation(error) !== 'messages_sender_client_key') throw error;
      const original = await messages.findByClientId(input.senderId, input.clientId);
      if (!original) throw error;
      return { row: original, created: false };
    }
  }

  /**
   * The fast path for a plain text message (no reply, forward, mentions or attachments): authorized
   * and appended in a statement shared with the other sends in flight on this instance. Undefined
   * when it was not eligible or its batch failed (a retried clientId, say); the caller then takes
   * the one-message path, which explains or dedupes.
   */
  async function appendPlain(actor: Actor, input: SendInput): Promise<MessageRow | undefined> {
    const plain: PlainMessage = { conversationId: input.conversationId, senderId: actor.userId, clientId: input.clientId, type: input.type, body: input.body ?? null };
    const stored = await batcher.append(plain).catch(() => null);
    if (!stored) return undefined;
    const message: NewMessage = { ...plain, replyToId: null, forwardFromId: null, mentions: [], ttlSeconds: null };
    return announce(message, stored, null, true);
  }

  /**
   * A broadcast list's message, then a copy in each reachable recipient's direct chat with the sender.
   * Copies carry derived client ids, so a retried send completes a fan-out that was cut short
   * without duplicating the copies already made.
   */
  async function fanOut(actor: Actor, listId: string, original: MessageRow): Promise<void> {
    const recipients = (await conversations.reachableUsers(actor.userId, await conversations.recipientIds(listId))).map((u) => u.id);
    for (const recipientId of recipients) {
      const { conversation, contactChanges } = await conversations.findOrCreateDirect(actor.userId, recipientId, (tx) => contacts.contactChanged(tx, actor.userId, recipientId));
      contacts.publish(contactChanges);
      await append(
        {
          conversationId: conversation.id,
          senderId: actor.userId,
          clientId: `${original.clientId}>${recipientId}`,
          type: original.type,
          body: original.body,
          replyToId: null,
          forwardFromId: null,
          mentions: [],
          metadata: { broadcastId: listId, broadcastMessageId: original.id },
          attachments: original.attachments,
          ttlSeconds: conversation.retention === 'disappearing' ? conversation.ttlSeconds : null,
        },
        null,
        conversation.retention !== 'ephemeral',
      );
    }
  }

  /** Deletes a message for everyone and records it; nothing happens to one deleted already. */
  async function deleteForEveryone(conversationId: string, messageId: string): Promise<void> {
    const { changes } = await changeLog.write(conversationId, async (tx) => {
      if (!(await messages.deleteForEveryone(messageId, tx))) return { result: null, changes: [] };
      await pushes.retract(messageId, tx);
      const tombstone = toMessage((await messages.findById(messageId, tx))!);
      return { result: null, changes: [{ key: `message:${messageId}`, type: 'message.deleted' as const, data: tombstone, messageId }] };
    });
    events.publishChanges(changes);
  }

  async function assertNotBlocked({ conversation }: Access, actor: Actor): Promise<void> {
    if (conversation.kind !== 'direct' || !conversation.directKey) return;
    const peer = conversation.directKey.split(':').find((id) => id !== actor.userId)!;
    if ((await conversations.reachableUsers(actor.userId, [peer])).length === 0) throw new AppError('USER_BLOCKED');
  }

  return {
    visibility,
    log,
    deleteForEveryone,

    /** A current member, not blocked by (or blocking) the other side of a direct chat: may send typing. */
    async assertCanType(actor: Actor, conversationId: string): Promise<void> {
      await assertNotBlocked(await access.member(actor, conversationId), actor);
    },

    /**
     * The conversation's log after a seq, one page, for the socket's delivery lanes: stored messages
     * (`message.created`) and recorded changes, merged in seq order. `upTo`: every seq at or below it
     * is settled for this reader (returned, or not theirs to see). The conversation's last seq is read
     * before the pages and bounds them; every seq up to it is committed or never will be (writers take
     * seqs under the conversation's row lock), so nothing that may still appear is passed over. Seqs
     * past a former member's window are settled too: they will never see them.
     */
    async readAfter(actor: Actor, conversationId: string, after: number): Promise<{ items: LogEvent[]; more: boolean; upTo: number }> {
      const { conversation, member } = await access.reader(actor, conversationId);
      return log.read({ conversationId, viewerId: actor.userId, window: seqWindow(member), after, head: conversation.lastSeq });
    },

    /** Stores (or, in an ephemeral conversation, only relays) a message; `created` false for a retry. */
    async send(actor: Actor, input: SendInput): Promise<{ message: MessageView; created: boolean }> {
      if (input.type === 'text' && !input.forwardFromId && !input.replyToId && !input.mentions?.length && !input.attachments?.length) {
        checkBody(input.type, input.body);
        const row = await appendPlain(actor, input);
        if (row) return { message: toMessage(row), created: true };
      }
      let body = input.body;
      const conversationAccess = await access.member(actor, input.conversationId);
      const { conversation } = conversationAccess;
      let forwardFromId: string | null = null;
      let forwardedAttachments: MessageRow['attachments'] | undefined;
      if (input.forwardFromId) {
        const source = await visibility.visibleRow(actor, input.forwardFromId);
        if (source.deletedAt) throw new AppError('MESSAGE_NOT_FOUND');
        body ??= source.body ?? undefined;
        forwardFromId = source.id;
        if (!input.attachments) forwardedAttachments = source.attachments;
      }
      checkBody(input.type, body);
      await assertNotBlocked(conversationAccess, actor);
      let reply: MessageRow | null = null;
      if (input.replyToId) {
        reply = await visibility.visibleRow(actor, input.replyToId);
        if (reply.conversationId !== conversation.id) throw new AppError('MESSAGE_NOT_FOUND', 'replyToId is not a message of this conversation');
      }
      const mentions = input.mentions ?? [];
      if (mentions.length > 0) {
        const members = new Set(await conversations.currentMemberIds(conversation.id, mentions));
        const strangers = mentions.filter((id) => !members.has(id));
        if (strangers.length > 0) throw new AppError('VALIDATION_FAILED', 'Mentions must be members of the conversation', {}, strangers.map((id) => ({ field: 'body.mentions', message: `${id} is not a member` })));
      }
      const attachments = forwardedAttachments ?? (await media.forMessage(actor, input.type, input.attachments ?? []));
      const result = await append(
        {
          conversationId: conversation.id,
          senderId: actor.userId,
          clientId: input.clientId,
          attachments,
          type: input.type,
          body: body ?? null,
          replyToId: reply?.id ?? null,
          forwardFromId,
          mentions,
          ttlSeconds: conversation.retention === 'disappearing' ? conversation.ttlSeconds : null,
        },
        reply,
        conversation.retention !== 'ephemeral',
      );
      if (conversation.kind === 'broadcast') await fanOut(actor, conversation.id, result.row);
      return { message: toMessage(result.row), created: result.created };
    },

    /** Ascending by seq; see README for the cursors. */
    async history(actor: Actor, conversationId: string, input: { before?: number; after?: number; limit: number }) {
      const { conversation, member } = await access.reader(actor, conversationId);
      const window = seqWindow(member);
      const { rows, more, upwards } = await messages.page({ conversationId, viewerId: actor.userId, window, ...input });
      const first = rows[0];
      const last = rows.at(-1);
      const lastVisible = visibleLastSeq(conversation, member);
      const olderCursor = first && (upwards ? first.seq > window.lower + 1 : more) ? first.seq : null;
      const newerCursor = last && (upwards ? more : last.seq < lastVisible) ? last.seq : null;
      return {
        items: rows.map(toMessage),
        olderCursor,
        newerCursor,
        myReactions: Object.fromEntries(rows.flatMap((r) => (r.myReactions?.length ? [[r.id, r.myReactions]] : []))),
      };
    },

    get: async (actor: Actor, messageId: string) => toMessage(await visibility.visibleRow(actor, messageId)),

    async versions(actor: Actor, messageId: string) {
      const row = await visibility.visibleRow(actor, messageId);
      const versions = await messages.versions(row.id);
      return { items: versions.map((v) => ({ version: v.version, body: v.body, createdAt: v.createdAt.toISOString() })) };
    },

    /** The sender, within the edit window; the previous body is kept as a version. */
    async edit(actor: Actor, messageId: string, body: string) {
      const row = await visibility.visibleRow(actor, messageId);
      await access.member(actor, row.conversationId);
      if (row.senderId !== actor.userId) throw new AppError('NOT_MESSAGE_SENDER');
      if (row.deletedAt) throw new AppError('MESSAGE_DELETED');
      if (!withinWindow(row)) throw new AppError('EDIT_WINDOW_EXPIRED', `Messages can be edited for ${config.editWindowSeconds} s`);
      checkBody(row.type, body);
      const { result: message, changes } = await changeLog.write(row.conversationId, async (tx) => {
        if (!(await messages.edit(row.id, body, tx))) throw new AppError('MESSAGE_DELETED');
        const edited = toMessage((await messages.findById(row.id, tx))!);
        return { result: edited, changes: [{ key: `message:${row.id}`, type: 'message.updated', data: edited, messageId: row.id }] };
      });
      events.publishChanges(changes);
      return message;
    },

    /** `me` hides it for the caller; `everyone` leaves a tombstone (sender in the window, or a group admin). */
    async remove(actor: Actor, messageId: string, scope: 'me' | 'everyone'): Promise<void> {
      const row = await visibility.visibleRow(actor, messageId);
      if (scope === 'me') {
        const { changes } = await changeLog.write(row.conversationId, async (tx) => {
          const hidden = await messages.hide(actor.userId, row.id, tx);
          const data = { conversationId: row.conversationId, messageId: row.id, userId: actor.userId };
          return { result: null, changes: hidden ? [{ key: `hidden:${row.id}:${actor.userId}`, type: 'message.hidden' as const, data, audienceUserId: actor.userId, messageId: row.id }] : [] };
        });
        events.publishChanges(changes);
        return;
      }
      const { conversation, member } = await access.member(actor, row.conversationId);
      if (row.deletedAt) return;
      const groupAdmin = conversation.kind === 'group' && (member.role === 'owner' || member.role === 'admin');
      if (!groupAdmin) {
        if (row.senderId !== actor.userId) throw new AppError('NOT_MESSAGE_SENDER');
        if (!withinWindow(row)) throw new AppError('EDIT_WINDOW_EXPIRED', `Messages can be deleted for everyone for ${config.editWindowSeconds} s`);
      }
      await deleteForEveryone(row.conversationId, row.id);
    },

    /** Full-text search in what the caller can see, newest first. */
    async search(actor: Actor, input: { q: string; conversationId?: string; cursor?: string; limit: number }) {
      if (input.conversationId) await access.reader(actor, input.conversationId);
      const after = timePosition(input.cursor);
      const rows = await messages.search({
        viewerId: actor.userId,
        q: input.q,
        ...(input.conversationId ? { conversationId: input.conversationId } : {}),
        ...(after ? { after } : {}),
        limit: input.limit,
      });
      return timePage(rows, input.limit, (m) => ({ at: m.createdAt, id: m.id }), toMessage);
    },

    /** Deletes expired disappearing messages in batches; returns how many went. */
    sweepExpired: (batch = 1000): Promise<number> => deleteInBatches(batch, (n) => messages.deleteExpired(n)),
  };
}

export type MessagesService = ReturnType<typeof createMessagesService>;
