import { mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import openapiTS, { astToString } from 'openapi-typescript';
import t from 'tap';
import ts from 'typescript';
import { buildChatApp, directChat } from '../support/chat.js';

/*
 * The OpenAPI document as an integrator uses it: openapi-typescript generates the types, a small
 * openapi-fetch client is compiled against them with the TypeScript compiler (no error allowed, and
 * every @ts-expect-error must be needed), then the same client runs against the live app.
 */

const projectRoot = fileURLToPath(new URL('../..', import.meta.url));

/** The typed client. Lines marked @ts-expect-error prove the types refuse what the API refuses. */
const clientSource = `
import createClient from 'openapi-fetch';
import type { operations, paths } from './api';

export async function tour(baseUrl: string, token: string, conversationId: string, login: { identifier: string; password: string }) {
  const client = createClient<paths>({ baseUrl, headers: { authorization: \`Bearer \${token}\` } });

  // Every query parameter with a default is optional: limit alone is a whole query.
  const inbox = await client.GET('/api/v1/chat', { params: { query: { limit: 5 } } });
  const firstId: string | undefined = inbox.data?.items[0]?.id;
  const next: string | null | undefined = inbox.data?.nextCursor;

  const sent = await client.POST('/api/v1/message', { body: { conversationId, clientId: 'typed-client-1', type: 'text', body: 'typed hello' } });
  const seq: number | undefined = sent.data?.seq;
  // Error codes are the enum of the declared statuses, not any string.
  const codeIsAnEnum: string extends NonNullable<typeof sent.error>['code'] ? never : true = true;
  const notFound: operations['sendMessage']['responses'][404]['content']['application/problem+json']['code'] = 'CONVERSATION_NOT_FOUND';
  const code: string | undefined = sent.error?.code;
  // @ts-expect-error USERNAME_TAKEN is a 409 code; sending a message declares no 409.
  if (sent.error?.code === 'USERNAME_TAKEN') throw new Error('unreachable');

  const history = await client.GET('/api/v1/message/chat/{conversationId}', { params: { path: { conversationId }, query: {} } });
  const deleted = await client.DELETE('/api/v1/message/{id}', { params: { path: { id: sent.data?.id ?? '' } } });

  const signedIn = await client.POST('/api/v1/auth/login', { body: login });
  const tokens = signedIn.data && 'accessToken' in signedIn.data ? signedIn.data.accessToken : undefined;

  // @ts-expect-error archived is a boolean.
  await client.GET('/api/v1/chat', { params: { query: { archived: 'yes' } } });
  // @ts-expect-error q is required for search.
  await client.GET('/api/v1/message/search', { params: { query: {} } });

  return {
    inbox: inbox.response.status, firstId, next,
    sent: sent.response.status, seq, code, codeIsAnEnum, notFound,
    history: history.data?.items.map((message) => message.body),
    deleted: deleted.response.status,
    login: signedIn.response.status, tokens,
  };
}
`;

type Tour = (baseUrl: string, token: string, conversationId: string, login: { identifier: string; password: string }) => Promise<Record<string, unknown>>;

function compile(dir: string): string[] {
  const program = ts.createProgram([join(dir, 'client.ts')], {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    lib: ['lib.es2022.d.ts'],
    // fetch, Request and Response from @types/node: what a Node integrator compiles with.
    types: ['node'],
    skipLibCheck: true,
  });
  return ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
}

/** The member names of the generated `operations` interface, read with the compiler API. */
function operationNames(typesSource: string): string[] {
  const file = ts.createSourceFile('api.d.ts', typesSource, ts.ScriptTarget.ES2022);
  const declaration = file.statements.find((s): s is ts.InterfaceDeclaration => ts.isInterfaceDeclaration(s) && s.name.text === 'operations');
  return (declaration?.members ?? []).map((member) => (member.name && (ts.isIdentifier(member.name) || ts.isStringLiteral(member.name)) ? member.name.text : ''));
}

t.test('a client generated with openapi-typescript compiles with openapi-fetch and talks to the app', async (t) => {
  const { app, user } = await buildChatApp(t);
  await app.ready();
  const doc = app.swagger() as { paths: Record<string, Record<string, { operationId?: string }>> };
  const operationIds = Object.values(doc.paths).flatMap((methods) => Object.values(methods).map((operation) => operation.operationId ?? ''));

  const types = astToString(await openapiTS(doc as never));
  const dir = await mkdtemp(join(tmpdir(), 'openapi-client-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await symlink(join(projectRoot, 'node_modules'), join(dir, 'node_modules'), 'dir');
  await writeFile(join(dir, 'package.json'), '{"type":"module"}\n');
  await writeFile(join(dir, 'api.d.ts'), types);
  await writeFile(join(dir, 'client.ts'), clientSource);

  t.same(compile(dir), [], 'the typed client compiles without errors');
  t.same(operationNames(types).sort(), [...operationIds].sort(), '`operations` holds every operationId of the document');
  t.equal(new Set(operationIds).size, operationIds.length, 'operationIds are unique');
  for (const id of ['listConversations', 'getConversation', 'sendMessage', 'login', 'register']) t.ok(operationIds.includes(id), id);

  const alice = await user('Alice');
  const bob = await user('Bob');
  const chat = await directChat(app, alice, bob);
  const baseUrl = await app.listen({ host: '127.0.0.1', port: 0 });
  const { tour } = (await import(pathToFileURL(join(dir, 'client.ts')).href)) as { tour: Tour };
  const result = await tour(baseUrl, alice.accessToken, chat.id, { identifier: alice.username, password: alice.password });
  t.equal(result.inbox, 200, 'GET /chat with only {limit: 5}');
  t.equal(result.firstId, chat.id);
  t.equal(result.next, null);
  t.equal(result.sent, 201, 'POST /message');
  t.equal(result.seq, 1);
  t.same(result.history, ['typed hello'], 'history with an empty query (limit defaults)');
  t.equal(result.deleted, 204, 'DELETE /message/{id} without ?for= (defaults to me)');
  t.equal(result.login, 200, 'POST /auth/login');
  t.type(result.tokens, 'string', 'login answered tokens (AUTH_LOGIN_OTP=false)');
});
