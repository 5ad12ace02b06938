import t from 'tap';
import { parseFrame } from '../../src/realtime/frames.js';
import { problemOf } from '../helper.js';
import { API, authHeader, call } from '../support/accounts.js';
import { buildChatApp, directChat } from '../support/chat.js';
import { inputSchemas, offendingPaths } from '../support/request-schemas.js';
import { createAdmin } from '../support/staff.js';

/*
 * Every integer a client sends is bounded on both sides, and non-finite values are refused: before,
 * `?before=1e20` reached Postgres as a bigint out of range and `?limit=Infinity` passed validation
 * (ajv coerces "Infinity" and skips its numeric keywords for it), both answering 500.
 */

const unbounded = (schema: any) => (schema.type === 'integer' || schema.type === 'number') && (typeof schema.minimum !== 'number' || typeof schema.maximum !== 'number');

const harness = await buildChatApp(t);
const { app } = harness;

t.test('every number a route or socket frame accepts has a minimum and a maximum', async (t) => {
  const { inputs, components } = await inputSchemas(app);
  const open = inputs.flatMap((input) => offendingPaths(input.schema, components, input.where, unbounded));
  t.same(open, [], 'unbounded numbers (use Seq / SeqBound / PageQuery from src/schemas/common.ts)');
});

t.test('out-of-range and non-finite numbers are a 400 naming the field', async (t) => {
  const [alice, bob] = [await harness.user(), await harness.user()];
  const admin = await createAdmin(app);
  const support = await call(app, 'POST', '/support', { token: alice.accessToken });
  const supportId = (support.json() as { conversation: { id: string } }).conversation.id;
  const chat = await directChat(app, alice, bob);
  const cases: Array<{ url: string; token: string; field: string }> = [];
  for (const value of ['1e20', '99999999999999999999', 'Infinity', '-Infinity', '9007199254740992']) {
    for (const name of ['before', 'after']) {
      cases.push({ url: `/message/chat/${chat.id}?${name}=${value}`, token: alice.accessToken, field: `query.${name}` });
      cases.push({ url: `/admin/support/${supportId}/messages?${name}=${value}`, token: admin.accessToken, field: `query.${name}` });
    }
  }
  for (const url of ['/users/me/blocks', '/announcements', '/chat', `/chat/${chat.id}/members`]) cases.push({ url: `${url}?limit=Infinity`, token: alice.accessToken, field: 'query.limit' });
  for (const { url, token, field } of cases) {
    const response = await call(app, 'GET', url, { token });
    t.equal(response.statusCode, 400, `${url}: 400`);
    const problem = problemOf(t, response);
    t.equal(problem.code, 'VALIDATION_FAILED');
    t.ok(problem.errors?.some((e) => e.field === field), `${url} names ${field}: ${JSON.stringify(problem.errors)}`);
  }
  const edge = await call(app, 'GET', `/message/chat/${chat.id}?before=9007199254740991`, { token: alice.accessToken });
  t.equal(edge.statusCode, 200, 'the largest safe integer is still a valid bound');

  for (const seq of ['1e400', '99999999999999999999']) {
    const response = await app.inject({ method: 'POST', url: `${API}/chat/${chat.id}/read`, headers: { ...authHeader(alice.accessToken), 'content-type': 'application/json' }, payload: `{"seq": ${seq}}` });
    t.equal(response.statusCode, 400, `JSON seq ${seq}: 400`);
    t.same(problemOf(t, response).errors?.map((e) => e.field), ['body.seq']);
  }
});

t.test('socket frames refuse out-of-range and non-finite seqs', async (t) => {
  const conversationId = '0192f0c1-7a00-7000-8000-0000000000c1';
  for (const read of ['1e400', '9007199254740992', '-1']) {
    const frame = parseFrame(`{"type":"receipt","data":{"conversationId":"${conversationId}","read":${read}}}`);
    t.match(frame, { ok: false, code: 'VALIDATION_FAILED', errors: [{ field: 'data.read' }] }, `read ${read}`);
  }
  t.match(parseFrame(`{"type":"receipt","data":{"conversationId":"${conversationId}","read":42}}`), { ok: true }, 'an ordinary seq passes');
});
