import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { and, eq, getTableColumns, sql, type SQL } from 'drizzle-orm';
import t, { type Test } from 'tap';
import { type Database, type DatabaseHandle, createDatabase, createPgliteDatabase } from '../../src/db/client.js';
import { jsonRecordReader } from '../../src/db/json-records.js';
import { migrate, migrationsFolder } from '../../src/db/migrate.js';
import { conversationMembers, conversations, messages, users } from '../../src/db/schema.js';
import { createMessageRepository, lastMessageJsonOf, messageRowFromJson } from '../../src/modules/messages/message.repository.js';
import { createPostgresDatabase, runConfig, uniqueName } from '../helper.js';

/*
 * The same schema, migrations and query code on both drivers: PGlite always (fresh, in memory, not
 * the helper's migrated snapshot, so migrate() starts from nothing), Postgres when DATABASE_URL is
 * set (a fresh empty database next to it).
 */

const journal = JSON.parse(readFileSync(join(migrationsFolder, 'meta', '_journal.json'), 'utf8')) as { entries: unknown[] };
const uuidV7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

async function rows<T>(db: Database, query: SQL): Promise<T[]> {
  const result = (await db.execute(query)) as unknown as { rows: T[] };
  return result.rows;
}

async function appliedMigrations(db: Database): Promise<number> {
  const [row] = await rows<{ n: number }>(db, sql`select count(*)::int as n from drizzle.__drizzle_migrations`);
  return Number(row?.n);
}

/** The 48-bit millisecond timestamp at the front of a UUIDv7. */
function uuidV7Time(id: string): number {
  return parseInt(id.replace(/-/g, '').slice(0, 12), 16);
}

/** The driver's database error (code, constraint), wherever drizzle wrapped it. */
function databaseError(error: unknown): { code?: string; constraint?: string; message?: string } | undefined {
  let current: unknown = error;
  for (let depth = 0; current && depth < 5; depth++) {
    if (typeof current === 'object' && typeof (current as { code?: unknown }).code === 'string') return current as { code: string; constraint?: string };
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

async function rejectsWith(t: Test, query: Promise<unknown>, code: string, constraint: string, message: string) {
  try {
    await query;
    t.fail(`${message}: the statement was accepted`);
  } catch (error) {
    const found = databaseError(error);
    t.ok(found, `${message}: fails with a database error`);
    t.equal(found?.code, code, `${message}: SQLSTATE ${code}`);
    // pg reports the constraint as a field; PGlite may only name it in the message.
    t.ok(found?.constraint === constraint || String(found?.message).includes(constraint), `${message}: names ${constraint}`);
  }
}

interface Driver {
  name: 'pglite' | 'pg';
  open(t: Test): Promise<DatabaseHandle>;
}

const drivers: Driver[] = [
  {
    name: 'pglite',
    async open(t) {
      const handle = createPgliteDatabase();
      t.teardown(() => handle.close());
      return handle;
    },
  },
];

const adminUrl = runConfig.database.url;
if (adminUrl) {
  drivers.push({
    name: 'pg',
    async open(t) {
      const url = await createPostgresDatabase(t, adminUrl, 'empty');
      const handle = createDatabase({ url });
      // The drop registered above uses `with (force)`, so it works whichever teardown runs first.
      t.teardown(() => handle.close());
      return handle;
    },
  });
}

const newUser = (username: string) => ({ username, passwordHash: 'not-a-real-hash', displayName: `${username} display` });

for (const driver of drivers) {
  t.test(`${driver.name} driver`, async (t) => {
    const handle = await driver.open(t);
    const { db } = handle;
    t.equal(handle.driver, driver.name, 'the handle names its driver');
    await t.resolves(handle.ping(), 'ping works on the empty database');

    const [before] = await rows<{ users: string | null }>(db, sql`select to_regclass('public.users')::text as users`);
    t.equal(before?.users, null, 'the database starts without tables');

    await migrate(handle);
    const [after] = await rows<{ users: string | null }>(db, sql`select to_regclass('public.users')::text as users`);
    t.equal(after?.users, 'users', 'migrate creates the tables');
    t.equal(await appliedMigrations(db), journal.entries.length, 'one migrations row per journal entry');

    await t.resolves(migrate(handle), 'a second migrate succeeds');
    t.equal(await appliedMigrations(db), journal.entries.length, 'and applies nothing again');

    t.test('columns are snake_case in SQL', async (t) => {
      const columns = await rows<{ column_name: string }>(
        db,
        sql`select column_name from information_schema.columns where table_schema = 'public' and table_name = 'messages' order by column_name`,
      );
      const names = columns.map((c) => c.column_name);
      for (const name of ['conversation_id', 'sender_id', 'client_id', 'created_at', 'reply_to_id']) t.ok(names.includes(name), `messages.${name}`);
      t.notOk(names.includes('conversationId'), 'no camelCase column');
    });

    t.test('rows round-trip with camelCase fields, Dates, numbers and UUIDv7 ids', async (t) => {
      const startedAt = Date.now();
      const [user] = await db.insert(users).values(newUser('Alice')).returning();
      const insertedAt = Date.now();
      if (!user) throw new Error('no user returned');
      t.match(user.id, uuidV7, 'user id is a UUIDv7 generated by default');
      t.ok(uuidV7Time(user.id) >= startedAt && uuidV7Time(user.id) <= insertedAt, 'its timestamp is the insert time');
      t.equal(user.role, 'user', 'role defaults to user');
      t.equal(user.status, 'active', 'status defaults to active');
      t.ok(user.createdAt instanceof Date, 'createdAt is a Date');
      t.equal(user.emailVerifiedAt, null, 'unset nullable timestamp is null');

      const lastMessageAt = new Date('2024-01-02T03:04:05.678Z');
      const [conversation] = await db
        .insert(conversations)
        .values({ kind: 'group', roomName: uniqueName('room'), title: 'Team', createdBy: user.id, lastSeq: 5_000_000_000, lastMessageAt, ttlSeconds: 3600 })
        .returning();
      if (!conversation) throw new Error('no conversation returned');
      t.match(conversation.id, uuidV7, 'conversation id is a UUIDv7');
      t.not(conversation.id, user.id);

      await db.insert(conversationMembers).values({ conversationId: conversation.id, userId: user.id, role: 'owner', readSeq: 2 });
      const [message] = await db
        .insert(messages)
        .values({
          conversationId: conversation.id,
          seq: 1,
          senderId: user.id,
          clientId: 'client-1',
          type: 'text',
          body: 'hello',
          mentions: [user.id],
          metadata: { nested: { ok: true }, n: 1 },
        })
        .returning();
      if (!message) throw new Error('no message returned');
      t.match(message.id, uuidV7, 'message id is a UUIDv7');

      const [readUser] = await db.select().from(users).where(eq(users.id, user.id));
      t.same(readUser, user, 'the user reads back exactly as returned on insert');
      t.ok(readUser?.updatedAt instanceof Date, 'updatedAt is a Date');

      const [readConversation] = await db.select().from(conversations).where(eq(conversations.id, conversation.id));
      t.equal(typeof readConversation?.lastSeq, 'number', 'bigint lastSeq is a number');
      t.equal(readConversation?.lastSeq, 5_000_000_000, 'beyond 32 bits, exactly');
      t.ok(readConversation?.lastMessageAt instanceof Date, 'lastMessageAt is a Date');
      t.equal(readConversation?.lastMessageAt?.toISOString(), lastMessageAt.toISOString(), 'with millisecond precision and no zone shift');
      t.equal(readConversation?.createdBy, user.id, 'createdBy maps created_by');
      t.equal(readConversation?.retention, 'persistent', 'retention defaults to persistent');
      t.equal(readConversation?.ttlSeconds, 3600, 'integer column is a number');

      const [member] = await db
        .select()
        .from(conversationMembers)
        .where(and(eq(conversationMembers.conversationId, conversation.id), eq(conversationMembers.userId, user.id)));
      t.match(member?.joinedXid, /^\d+$/, 'joinedXid is the writing transaction, an xid8 as a decimal string');
      t.same(
        member && { ...member, joinedAt: undefined, activityAt: undefined, joinedXid: undefined },
        {
          conversationId: conversation.id,
          userId: user.id,
          role: 'owner',
          joinedAt: undefined,
          activityAt: undefined,
          joinedXid: undefined,
          readSeq: 2,
          deliveredSeq: 0,
          clearedSeq: 0,
          joinedSeq: 0,
          leftAt: null,
          leftSeq: null,
          leftXid: null,
          mutedUntil: null,
          notify: 'all',
          archived: false,
          pinned: false,
        },
        'member row with defaults',
      );
      t.ok(member?.joinedAt instanceof Date, 'joinedAt is a Date');
      t.ok(member?.activityAt instanceof Date, 'activityAt defaults to a Date');
      t.equal(typeof member?.readSeq, 'number', 'bigint readSeq is a number');

      const [readMessage] = await db.select().from(messages).where(eq(messages.id, message.id));
      t.equal(readMessage?.conversationId, conversation.id, 'conversationId');
      t.equal(readMessage?.senderId, user.id, 'senderId');
      t.equal(readMessage?.clientId, 'client-1', 'clientId');
      t.equal(readMessage?.seq, 1, 'seq is the number 1');
      t.equal(typeof readMessage?.seq, 'number', 'bigint seq is a number');
      t.same(readMessage?.mentions, [user.id], 'jsonb array');
      t.same(readMessage?.metadata, { nested: { ok: true }, n: 1 }, 'jsonb object');
      t.ok(readMessage?.createdAt instanceof Date, 'createdAt is a Date');
      t.equal(readMessage?.editedAt, null, 'editedAt null');

      const joined = await db
        .select({ username: users.username, seq: messages.seq, lastSeq: conversations.lastSeq, createdAt: messages.createdAt })
        .from(messages)
        .innerJoin(users, eq(users.id, messages.senderId))
        .innerJoin(conversations, eq(conversations.id, messages.conversationId))
        .where(eq(messages.id, message.id));
      t.equal(joined.length, 1);
      t.equal(joined[0]?.username, 'Alice');
      t.equal(joined[0]?.seq, 1);
      t.equal(joined[0]?.lastSeq, 5_000_000_000);
      t.ok(joined[0]?.createdAt instanceof Date, 'timestamps are Dates in partial selects over joins too');
    });

    t.test('rows written as JSON by Postgres read back as the records drizzle returns', async (t) => {
      const [full] = await db
        .insert(users)
        .values({ ...newUser(uniqueName('Json')), email: 'j@example.com', emailVerifiedAt: sql`'2024-05-06 07:08:09.123456+00'::timestamptz`, dndUntil: new Date('2030-01-01T00:00:00.001Z') })
        .returning();
      const [bare] = await db.insert(users).values(newUser(uniqueName('Bare'))).returning();
      const [conversation] = await db.insert(conversations).values({ kind: 'group', roomName: uniqueName('room'), createdBy: full!.id }).returning();
      const cid = conversation!.id;
      const base = { conversationId: cid, senderId: full!.id, type: 'text' };
      const [first] = await db.insert(messages).values({ ...base, seq: 1, clientId: uniqueName('c'), body: 'replied to', metadata: { s: '123' } }).returning();
      await db.insert(messages).values({
        ...base,
        seq: 2,
        clientId: uniqueName('c'),
        body: 'line\n"quoted" é 🙂',
        replyToId: first!.id,
        mentions: [bare!.id],
        metadata: { nested: { ok: true }, n: 5_000_000_000, list: [1, 'x', null] },
        attachments: [{ id: first!.id, kind: 'file', url: 'https://x.test/a', mime: 'text/plain', size: 3 } as never],
        editedAt: sql`'2024-05-06 07:08:09.999999+00'::timestamptz`,
      });
      const repository = createMessageRepository(db);
      for (const [upTo, label] of [[2, 'a reply with jsonb, arrays and microsecond timestamps'], [1, 'a message without reply, mentions or attachments']] as const) {
        const [row] = await rows<{ last: Record<string, unknown> }>(db, sql`select ${lastMessageJsonOf({ conversationId: sql`${cid}::uuid`, lower: sql`0`, upTo: sql`${upTo}::bigint` })} as last`);
        const expected = await repository.findById(upTo === 2 ? (await db.select().from(messages).where(and(eq(messages.conversationId, cid), eq(messages.seq, 2))))[0]!.id : first!.id);
        t.strictSame(messageRowFromJson(row!.last), expected, label);
      }
      const readUser = jsonRecordReader(getTableColumns(users));
      for (const user of [full!, bare!]) {
        const [row] = await rows<{ u: Record<string, unknown> }>(db, sql`select to_jsonb(u) as u from users u where id = ${user.id}`);
        const [expected] = await db.select().from(users).where(eq(users.id, user.id));
        t.strictSame(readUser(row!.u), expected, `user ${user.username}`);
      }
    });

    t.test('usernames are unique case-insensitively', async (t) => {
      const name = uniqueName('Bob');
      await db.insert(users).values(newUser(name));
      await rejectsWith(t, db.insert(users).values(newUser(name.toUpperCase())), '23505', 'users_username_lower_key', 'same username in other case');
      await t.resolves(db.insert(users).values(newUser(`${name}x`)), 'a different username is accepted');
    });

    t.test('message uniqueness', async (t) => {
      const [sender] = await db.insert(users).values(newUser(uniqueName('sender'))).returning();
      const [other] = await db.insert(users).values(newUser(uniqueName('other'))).returning();
      const [conversation] = await db.insert(conversations).values({ kind: 'direct', roomName: uniqueName('room') }).returning();
      if (!sender || !other || !conversation) throw new Error('setup failed');
      const message = (seq: number, senderId: string, clientId: string) => ({ conversationId: conversation.id, seq, senderId, clientId, type: 'text', body: 'x' });

      await db.insert(messages).values(message(1, sender.id, 'c-1'));
      await rejectsWith(t, db.insert(messages).values(message(2, sender.id, 'c-1')), '23505', 'messages_sender_client_key', 'same sender and clientId');
      await rejectsWith(t, db.insert(messages).values(message(1, sender.id, 'c-2')), '23505', 'messages_conversation_seq_key', 'same conversation and seq');
      await t.resolves(db.insert(messages).values(message(2, other.id, 'c-1')), 'the same clientId from another sender is accepted');
      const stored = await db.select({ seq: messages.seq }).from(messages).where(eq(messages.conversationId, conversation.id)).orderBy(messages.seq);
      t.same(stored, [{ seq: 1 }, { seq: 2 }], 'only the accepted messages are stored');
    });

    t.test('conversation kind is checked', async (t) => {
      await rejectsWith(
        t,
        db.insert(conversations).values({ kind: 'channel' as 'group', roomName: uniqueName('room') }),
        '23514',
        'conversations_kind_check',
        'unknown kind',
      );
      for (const kind of ['direct', 'group', 'broadcast', 'support'] as const) {
        await t.resolves(db.insert(conversations).values({ kind, roomName: uniqueName('room') }), `kind ${kind} is accepted`);
      }
    });
  });
}

if (adminUrl) {
  t.test('pg: instances migrating a fresh database at once both succeed, once', async (t) => {
    const url = await createPostgresDatabase(t, adminUrl, 'empty');
    // One of them with a single-connection pool: the lock and the migrations share that connection.
    const handles = [createDatabase({ url, poolMax: 1 }), createDatabase({ url, poolMax: 1 }), createDatabase({ url })];
    t.teardown(() => Promise.all(handles.map((h) => h.close())));

    const results = await Promise.allSettled(handles.map((h) => migrate(h)));
    t.same(
      results.map((r) => r.status),
      handles.map(() => 'fulfilled'),
      `every concurrent migrate succeeds${results.some((r) => r.status === 'rejected') ? `: ${String((results.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason)}` : ''}`,
    );
    const db = handles[0]!.db;
    t.equal(await appliedMigrations(db), journal.entries.length, 'the migrations table has one row per journal entry');
    const [row] = await rows<{ users: string | null }>(db, sql`select to_regclass('public.users')::text as users`);
    t.equal(row?.users, 'users', 'the schema is there');
    const [user] = await db.insert(users).values(newUser('after-race')).returning();
    t.match(user?.id, uuidV7, 'and usable');
  });
}
