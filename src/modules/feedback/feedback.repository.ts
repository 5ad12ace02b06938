import { and, asc, desc, eq, inArray, sql } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { rowsOf } from '../../db/raw.js';
import { type MessageAttachment, feedbackReplies, feedbackTickets, users } from '../../db/schema.js';
import { newId } from '../../lib/ids.js';
import { type TimePosition, below } from '../../lib/time-page.js';

export type TicketRow = typeof feedbackTickets.$inferSelect;
export type ReplyRow = typeof feedbackReplies.$inferSelect & { authorName: string | null };
export type TicketStatus = TicketRow['status'];
export type TicketCategory = TicketRow['category'];

/** Tickets and their replies. Lists walk (…, created_at desc, id desc) indexes; replies come in one batch per page. */
export function createFeedbackRepository(db: Database) {
  return {
    async create(values: { userId: string; category: TicketCategory; subject: string; body: string; attachments: MessageAttachment[] }): Promise<TicketRow> {
      const at = new Date();
      const [row] = await db.insert(feedbackTickets).values({ id: newId(), ...values, createdAt: at, updatedAt: at }).returning();
      return row!;
    },

    /** Whether the viewer is staff and the media is attached to a ticket (the partial GIN index answers it). */
    async showsMediaToStaff(mediaId: string, viewerId: string): Promise<boolean> {
      const rows = rowsOf(
        await db.execute(sql`
          select 1 from users u, feedback_tickets t
          where u.id = ${viewerId} and u.role in ('support', 'admin')
            and t.attachments @> ${JSON.stringify([{ id: mediaId }])}::jsonb and t.attachments <> '[]'::jsonb
          limit 1`),
      );
      return rows.length > 0;
    },

    async findById(id: string): Promise<TicketRow | undefined> {
      const [row] = await db.select().from(feedbackTickets).where(eq(feedbackTickets.id, id));
      return row;
    },

    /** `userId`: one user's tickets; `q`: a case-insensitive substring of subject or body (a scan of the filtered range). */
    async list(input: { userId?: string; status?: TicketStatus; category?: TicketCategory; assigneeId?: string; q?: string; after?: TimePosition; limit: number }): Promise<TicketRow[]> {
      const t = feedbackTickets;
      const pattern = input.q ? `%${input.q.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%` : undefined;
      return db
        .select()
        .from(t)
        .where(
          and(
            input.userId ? eq(t.userId, input.userId) : undefined,
            input.status ? eq(t.status, input.status) : undefined,
            input.category ? eq(t.category, input.category) : undefined,
            input.assigneeId ? eq(t.assigneeId, input.assigneeId) : undefined,
            pattern ? sql`(lower(${t.subject}) like ${pattern} or lower(${t.body}) like ${pattern})` : undefined,
            below(t.createdAt, t.id, input.after),
          ),
        )
        .orderBy(desc(t.createdAt), desc(t.id))
        .limit(input.limit + 1);
    },

    /** Replies of the given tickets, oldest first, with their author's display name. */
    async replies(ticketIds: string[]): Promise<ReplyRow[]> {
      if (ticketIds.length === 0) return [];
      return db
        .select({ id: feedbackReplies.id, ticketId: feedbackReplies.ticketId, authorId: feedbackReplies.authorId, body: feedbackReplies.body, createdAt: feedbackReplies.createdAt, authorName: users.displayName })
        .from(feedbackReplies)
        .leftJoin(users, eq(users.id, feedbackReplies.authorId))
        .where(inArray(feedbackReplies.ticketId, ticketIds))
        .orderBy(asc(feedbackReplies.createdAt), asc(feedbackReplies.id));
    },

    /** Adds a reply and marks the ticket answered, in one transaction. */
    async reply(ticketId: string, authorId: string, body: string): Promise<void> {
      await db.transaction(async (tx) => {
        const at = new Date();
        await tx.insert(feedbackReplies).values({ id: newId(), ticketId, authorId, body, createdAt: at });
        await tx.update(feedbackTickets).set({ status: 'answered', updatedAt: at }).where(eq(feedbackTickets.id, ticketId));
      });
    },

    async update(id: string, patch: { status?: TicketStatus; assigneeId?: string | null }): Promise<TicketRow | undefined> {
      const [row] = await db.update(feedbackTickets).set({ ...patch, updatedAt: new Date() }).where(eq(feedbackTickets.id, id)).returning();
      return row;
    },
  };
}

export type FeedbackRepository = ReturnType<typeof createFeedbackRepository>;
