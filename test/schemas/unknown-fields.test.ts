import t from 'tap';
import { problemOf } from '../helper.js';
import { call, uniqueEmail, uniqueUsername } from '../support/accounts.js';
import { buildChatApp } from '../support/chat.js';
import { usersNamed } from '../support/db.js';
import { inputSchemas, offendingPaths } from '../support/request-schemas.js';

/*
 * One rule for unknown fields: refused with a 400 naming them, on every route and frame. Register and
 * PATCH /users/me used to accept them silently while other routes refused them.
 */

const harness = await buildChatApp(t);
const { app } = harness;

/** An object schema with named properties that would take others too. */
const open = (schema: any) => schema.type === 'object' && schema.properties && Object.keys(schema.properties).length > 0 && schema.additionalProperties !== false;

t.test('every request body and frame object refuses unknown fields', async (t) => {
  const { inputs, components } = await inputSchemas(app);
  const bodies = inputs.filter((input) => input.where.includes('body(application/json)') || input.where.startsWith('frame '));
  t.ok(bodies.length > 40, 'bodies and frames were found');
  t.same(bodies.flatMap((input) => offendingPaths(input.schema, components, input.where, open)), [], 'objects without additionalProperties: false');
});

t.test('register and PATCH /users/me refuse unknown fields, naming them', async (t) => {
  const username = uniqueUsername('extra');
  const register = await call(app, 'POST', '/auth/register', { payload: { username, password: 'Corr3ct-Horse-Battery', email: uniqueEmail(), role: 'admin' } });
  t.equal(register.statusCode, 400);
  const problem = problemOf(t, register);
  t.equal(problem.code, 'VALIDATION_FAILED');
  t.same(problem.errors?.map((e) => e.field), ['body.role']);
  t.equal(await usersNamed(app, username), 0, 'no account was created');

  const alice = await harness.user();
  const patch = await call(app, 'PATCH', '/users/me', { token: alice.accessToken, payload: { displayName: 'Alice', role: 'admin' } });
  t.equal(patch.statusCode, 400);
  t.same(problemOf(t, patch).errors?.map((e) => e.field), ['body.role']);
  const me = (await call(app, 'GET', '/users/me', { token: alice.accessToken })).json() as { displayName: string; role: string };
  t.not(me.displayName, 'Alice', 'nothing of the refused patch was applied');
  t.equal(me.role, 'user');

  const login = await call(app, 'POST', '/auth/login', { payload: { identifier: alice.username, password: alice.password, remember: true } });
  t.equal(login.statusCode, 400, 'login too');
});
