import { AppError } from '../../errors.js';
import type { ChatEvents } from '../../events/chat-events.js';
import { timePage, timePosition } from '../../lib/time-page.js';
import type { AuditRepository } from '../admin/audit.repository.js';
import { STAFF_ROLES, assertRole } from '../admin/staff.js';
import type { Actor } from '../auth/tokens.js';
import type { MediaService } from '../media/media.service.js';
import type { UserRepository } from '../users/user.repository.js';
import type { FeedbackRepository, ReplyRow, TicketCategory, TicketRow, TicketStatus } from './feedback.repository.js';

function toReply(reply: ReplyRow) {
  return { id: reply.id, body: reply.body, author: { id: reply.authorId, displayName: reply.authorName }, createdAt: reply.createdAt.toISOString() };
}

function toTicket(ticket: TicketRow, replies: ReplyRow[]) {
  return {
    id: ticket.id,
    userId: ticket.userId,
    category: ticket.category,
    subject: ticket.subject,
    body: ticket.body,
    status: ticket.status,
    assigneeId: ticket.assigneeId,
    attachments: ticket.attachments,
    replies: replies.map(toReply),
    createdAt: ticket.createdAt.toISOString(),
    updatedAt: ticket.updatedAt.toISOString(),
  };
}

export type TicketView = ReturnType<typeof toTicket>;

const blank = (field: string) => new AppError('VALIDATION_FAILED', `${field} must not be blank`, {}, [{ field: `body.${field}`, message: 'must not be blank' }]);

/**
 * Feedback tickets: users file and read their own; staff (support, admin) list, answer, assign and
 * close them. A reply reaches the ticket's author as a `feedback.replied` socket frame.
 */
export function createFeedbackService(deps: {
  feedback: FeedbackRepository;
  users: UserRepository;
  audit: AuditRepository;
  events: ChatEvents;
  media: Pick<MediaService, 'forMessage' | 'attach' | 'addReader'>;
}) {
  const { feedback, users, audit, events, media } = deps;
  // Staff read what is attached to a ticket; the author reads their own uploads anyway.
  media.addReader((mediaId, viewerId) => feedback.showsMediaToStaff(mediaId, viewerId));

  /** Tickets with their replies: two queries per page. */
  async function present(rows: TicketRow[]): Promise<TicketView[]> {
    const replies = await feedback.replies(rows.map((r) => r.id));
    return rows.map((row) => toTicket(row, replies.filter((r) => r.ticketId === row.id)));
  }

  async function load(id: string): Promise<TicketRow> {
    const ticket = await feedback.findById(id);
    if (!ticket) throw new AppError('NOT_FOUND', 'No such ticket');
    return ticket;
  }

  async function page(rows: TicketRow[], limit: number) {
    const { items, nextCursor } = timePage(rows, limit, (r) => ({ at: r.createdAt, id: r.id }), (r) => r);
    return { items: await present(items), nextCursor };
  }

  return {
    /** Attachments are the author's own uploads of any kind, checked as a file message's are. */
    async create(actor: Actor, input: { category: TicketCategory; subject: string; body: string; attachments?: string[] }) {
      const subject = input.subject.trim();
      const body = input.body.trim();
      if (!subject) throw blank('subject');
      if (!body) throw blank('body');
      const attachments = input.attachments?.length ? await media.forMessage(actor, 'file', input.attachments) : [];
      const ticket = await feedback.create({ userId: actor.userId, category: input.category, subject, body, attachments });
      await media.attach(attachments.map((a) => a.id));
      return toTicket(ticket, []);
    },

    async listOwn(actor: Actor, input: { status?: TicketStatus; cursor?: string; limit: number }) {
      const after = timePosition(input.cursor);
      return page(await feedback.list({ userId: actor.userId, ...(input.status ? { status: input.status } : {}), ...(after ? { after } : {}), limit: input.limit }), input.limit);
    },

    async list(actor: Actor, input: { status?: TicketStatus; category?: TicketCategory; assigneeId?: string; q?: string; cursor?: string; limit: number }) {
      assertRole(actor, STAFF_ROLES);
      const { cursor, ...filters } = input;
      const after = timePosition(cursor);
      return page(await feedback.list({ ...filters, ...(after ? { after } : {}) }), input.limit);
    },

    async get(actor: Actor, id: string) {
      assertRole(actor, STAFF_ROLES);
      return (await present([await load(id)]))[0]!;
    },

    async reply(actor: Actor, id: string, body: string) {
      assertRole(actor, STAFF_ROLES);
      const text = body.trim();
      if (!text) throw blank('body');
      const ticket = await load(id);
      await feedback.reply(ticket.id, actor.userId, text);
      const view = (await present([(await feedback.findById(ticket.id))!]))[0]!;
      await audit.record({ actorId: actor.userId, action: 'feedback.replied', targetType: 'feedback', targetId: ticket.id });
      events.notifyUser(ticket.userId, 'feedback.replied', { ticketId: ticket.id, status: view.status, reply: view.replies.at(-1)! });
      return view;
    },

    /** Status and assignee; the assignee must be staff. */
    async update(actor: Actor, id: string, patch: { status?: TicketStatus; assigneeId?: string | null }) {
      assertRole(actor, STAFF_ROLES);
      await load(id);
      if (patch.assigneeId) {
        const assignee = await users.findById(patch.assigneeId);
        if (!assignee || !STAFF_ROLES.includes(assignee.role)) {
          throw new AppError('VALIDATION_FAILED', 'The assignee must be a staff member', {}, [{ field: 'body.assigneeId', message: 'is not a staff member' }]);
        }
      }
      const updated = (await feedback.update(id, patch))!;
      await audit.record({ actorId: actor.userId, action: 'feedback.updated', targetType: 'feedback', targetId: id, details: { ...patch } });
      return (await present([updated]))[0]!;
    },
  };
}

export type FeedbackService = ReturnType<typeof createFeedbackService>;
