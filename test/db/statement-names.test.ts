import { sql } from 'drizzle-orm';
import t from 'tap';
import { createDatabase } from '../../src/db/client.js';
import { rowsOf } from '../../src/db/raw.js';
import { StatementNames } from '../../src/db/statement-names.js';
import { createPostgresDatabase, runConfig } from '../helper.js';

t.test('a text is named from its second sighting, the same name every time', async (t) => {
  const names = new StatementNames();
  t.equal(names.nameFor('select $1'), undefined, 'first sighting: unnamed');
  const name = names.nameFor('select $1');
  t.match(name, /^s_[A-Za-z0-9_-]{32}$/, 'second sighting: named');
  t.equal(names.nameFor('select $1'), name, 'and the same name after');
  names.nameFor('select $2');
  t.not(names.nameFor('select $2'), name, 'another text, another name');
});

t.test('no more than the limit of texts is ever named', async (t) => {
  const names = new StatementNames(2);
  for (const text of ['a', 'b', 'c']) {
    names.nameFor(text);
    names.nameFor(text);
  }
  t.equal(names.size, 2, 'two named');
  t.equal(names.nameFor('c'), undefined, 'the third stays unnamed');
  t.ok(names.nameFor('a'), 'the first two keep their names');
  for (let i = 0; i < 100; i++) names.nameFor(`one-off ${i}`);
  t.equal(names.size, 2, 'one-off texts past the limit name nothing');
});

const adminUrl = runConfig.database.url;
// PGlite runs every statement as given: the naming is the pg pool's.
if (adminUrl) t.test('on Postgres, repeated statements with parameters run prepared', async (t) => {
  const url = await createPostgresDatabase(t, adminUrl, 'empty');
  // One connection, so every statement and pg_prepared_statements see the same session.
  const handle = createDatabase({ url, poolMax: 1 });
  t.teardown(() => handle.close());
  const { db } = handle;
  const prepared = async () => rowsOf<{ statement: string }>(await db.execute(sql`select statement from pg_prepared_statements where ${1} = 1`)).map((r) => r.statement);
  const echo = async (value: string) => rowsOf<{ v: string }>(await db.execute(sql`select ${value}::text as v`))[0]?.v;

  t.equal(await echo('a'), 'a');
  t.notOk((await prepared()).some((s) => s.includes('as v')), 'once: not prepared');
  t.equal(await echo('b'), 'b');
  t.equal(await echo('c'), 'c', 'a named statement runs with new values');
  t.ok((await prepared()).some((s) => s.includes('as v')), 'repeated: prepared on the connection');

  for (let i = 0; i < 2; i++) await db.execute(sql.raw('create temporary table if not exists t_names (x int); insert into t_names values (1)'));
  t.equal(rowsOf<{ n: number }>(await db.execute(sql`select count(*)::int as n from t_names`))[0]?.n, 2, 'a text of several commands without parameters still runs, unnamed');

  for (let i = 0; i < 3; i++) await t.rejects(db.execute(sql`select ${1}::int from no_such_table`), /no_such_table/, 'a statement that fails to prepare fails every time');
  await db.execute(sql`create temporary table no_such_table (x int)`);
  await db.execute(sql`insert into no_such_table values (7)`);
  t.same(rowsOf(await db.execute(sql`select ${1}::int as one, x from no_such_table`)), [{ one: 1, x: 7 }], 'and runs once it can');
  t.same(rowsOf(await db.execute(sql`select ${1}::int from no_such_table`)).length, 1, 'the failed text too');
});
