/**
 * The floor bench/rest.ts measures the service against: bare Fastify + pg, no auth, no hooks, no
 * plugins, answering the same reads from the same database with plain SQL and fastify's default
 * serializer. Started by bench/rest.ts as a child process (PORT, DATABASE_URL, DATABASE_POOL_MAX).
 *
 *   GET /bare                          {ok: true}: the framework alone (against GET /health/live)
 *   GET /users/:id                     the user row (against GET /users/me)
 *   GET /history/:conversationId       the newest 50 messages, ascending (against GET /message/chat/:id?limit=50)
 *   GET /inbox/:userId                 the user's member rows with their conversations, most recent first (against GET /chat)
 */
import Fastify from 'fastify';
import pg from 'pg';

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: Number(process.env.DATABASE_POOL_MAX ?? 10) });
const app = Fastify({ logger: false });

app.get('/bare', async () => ({ ok: true }));

app.get<{ Params: { id: string } }>('/users/:id', async (request, reply) => {
  const { rows } = await pool.query(
    'select id, username, display_name, avatar_url, about, email, phone, role, status, created_at, last_seen_at, hide_last_seen from users where id = $1',
    [request.params.id],
  );
  return rows[0] ?? reply.code(404).send({ error: 'not found' });
});

app.get<{ Params: { conversationId: string } }>('/history/:conversationId', async (request) => {
  const { rows } = await pool.query(
    `select * from (
       select id, conversation_id, seq, sender_id, client_id, type, body, reply_to_id, forward_from_id, mentions, metadata, reactions, attachments, created_at, edited_at, deleted_at
       from messages where conversation_id = $1 order by seq desc limit 50) page
     order by seq`,
    [request.params.conversationId],
  );
  return { items: rows };
});

app.get<{ Params: { userId: string } }>('/inbox/:userId', async (request) => {
  const { rows } = await pool.query(
    `select c.id, c.kind, c.title, c.description, c.avatar_url, c.member_count, c.last_seq, c.last_message_at, cm.role, cm.read_seq, cm.delivered_seq, cm.muted_until, cm.notify, cm.pinned, cm.archived, cm.activity_at
     from conversation_members cm join conversations c on c.id = cm.conversation_id
     where cm.user_id = $1 and cm.left_at is null
     order by cm.activity_at desc limit 50`,
    [request.params.userId],
  );
  return { items: rows };
});

await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT ?? 18500) });
const stop = async () => {
  await app.close();
  await pool.end();
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
