import t from 'tap';
import WebSocket from 'ws';
import { buildAsyncApi } from '../../src/realtime/asyncapi.js';
import { type SocketClient, connect, socketBase } from '../support/ws-client.js';
import { schemaChecker } from './contract.js';
import type { Schema, SchemaContext } from './schema-arbitrary.js';
import { fuzzSettings, reproduceHint, runProperty } from './settings.js';
import { REPLY_OF, type SocketInput, describeFrame, socketContract, socketInputs, wireOf } from './socket-inputs.js';
import { buildWorld } from './world.js';

/*
 * Spec-driven fuzz of every client frame of the socket, over real sockets on an ephemeral port: the
 * frames come from the AsyncAPI document (built by the code that writes openapi/asyncapi.yaml; the
 * swagger test keeps the file equal to it). After each frame a ping: its pong proves every earlier
 * frame was answered. Every frame received must be a documented server frame matching its schema,
 * the reply to a frame its documented reply or an `error` (never INTERNAL_ERROR), and a close must
 * use a documented code. Afterwards the server still answers a ping and GET /health/ready is 200.
 */

const FILE = 'test/fuzz/socket-fuzz.test.ts';
const settings = fuzzSettings(40);
const ANSWER_MS = 5000;

let sequence = 0;
const nextId = () => `f${++sequence}`;

// A soak (FUZZ_RUNS) runs longer than the suite's per-file timeout; the default stays near a minute.
t.setTimeout(Math.max(300_000, settings.runs * 15_000));

t.test('every client frame keeps the socket contract under fuzzed input', async (t) => {
  const world = await buildWorld(t);
  const base = await socketBase(t, world.app);
  const document = buildAsyncApi() as Schema;
  const checker = schemaChecker(document, 'asyncapi');
  const contract = socketContract(document, checker);
  const ctx: SchemaContext = { resolve: (ref) => checker.resolve(ref), hints: (name) => world.hints(name) };
  t.ok(contract.clientFrames.length > 0 && contract.serverFrames.has('error'), `${contract.clientFrames.length} client frame types; close codes ${[...contract.closeCodes].join(', ')}`);

  const sockets = new Map<SocketInput['socket'], { client: SocketClient; closed: { code: number; reason: string } | null }>();
  async function socketFor(kind: SocketInput['socket']) {
    const current = sockets.get(kind);
    if (current && !current.closed && current.client.socket.readyState === WebSocket.OPEN) return current;
    const path = kind === 'device' ? '/ws' : `/ws/chat/${world.roomName}`;
    const client = await connect(t, `${base}${path}`, { headers: { authorization: `Bearer ${world.me.accessToken}` } });
    await client.next('ready');
    const entry = { client, closed: null as { code: number; reason: string } | null };
    client.socket.once('close', (code, reason) => {
      entry.closed = { code, reason: String(reason) };
    });
    sockets.set(kind, entry);
    return entry;
  }

  /** Sends the input, then a ping; resolves once the pong (or a close) arrives. */
  async function exchange(input: SocketInput) {
    const entry = await socketFor(input.socket);
    const { client } = entry;
    const from = client.frames.length;
    const { payload, binary } = wireOf(input.frame);
    const syncId = nextId();
    client.socket.send(payload, { binary });
    client.socket.send(JSON.stringify({ type: 'ping', id: syncId }));
    const deadline = Date.now() + ANSWER_MS;
    while (!entry.closed && !client.frames.slice(from).some((f) => f.id === syncId) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
    if (entry.closed) await new Promise((resolve) => setTimeout(resolve, 20));
    return { frames: client.frames.slice(from).filter((f) => f.id !== syncId), closed: entry.closed, answered: client.frames.slice(from).some((f) => f.id === syncId) };
  }

  for (const spec of contract.clientFrames) {
    if (settings.only && !settings.only.test(spec.type)) continue;
    const started = Date.now();
    const failures = await runProperty(settings, spec.type, socketInputs(spec, ctx, nextId), async (input) => {
      const { frames, closed, answered } = await exchange(input);
      const problems: string[] = [];
      if (closed && !contract.closeCodes.has(closed.code)) problems.push(`closed with ${closed.code} (${closed.reason}), not a documented close code`);
      if (!closed && !answered) problems.push(`no pong within ${ANSWER_MS} ms: the socket stopped answering`);
      for (const frame of frames) {
        const schema = contract.serverFrames.get(frame.type);
        if (!schema) {
          problems.push(`sent an undocumented frame type ${JSON.stringify(frame.type)}`);
          continue;
        }
        for (const error of checker.errors(schema, frame)) problems.push(`${frame.type} frame does not match its schema: ${error}`);
        if (frame.type === 'error' && frame.data?.code === 'INTERNAL_ERROR') problems.push(`error INTERNAL_ERROR: ${frame.data?.message}`);
      }
      const sent = input.frame.kind === 'object' ? input.frame.value : undefined;
      const reply = sent && typeof sent.id === 'string' ? frames.find((f) => f.id === sent.id) : undefined;
      if (reply && reply.type !== 'error' && sent?.type === spec.type) {
        const expected = spec.type in REPLY_OF ? REPLY_OF[spec.type] : 'ack';
        if (reply.type !== expected) problems.push(`answered ${spec.type} with ${reply.type}, documented: ${expected ?? 'no reply'}`);
      }
      if (problems.length === 0) return undefined;
      const shown = frames.map((f) => JSON.stringify(f).slice(0, 300)).join('\n    ');
      return {
        signature: problems.map((p) => p.replace(/f\d+/g, 'f…')).join('; '),
        details: `${describeFrame(input)}\n  received:\n    ${shown || '(nothing)'}${closed ? `\n  closed ${closed.code} ${closed.reason}` : ''}\n  - ${problems.join('\n  - ')}`,
      };
    });
    for (const failure of failures) t.fail(`${spec.type}: ${failure.signature}`, { diagnostic: true, inputs: `${failure.count} of ${settings.runs}`, seed: failure.seed, example: failure.details, reproduce: reproduceHint(settings, FILE, spec.type) });
    if (failures.length === 0) t.pass(`${spec.type}: ${settings.runs} frames within the contract (${Date.now() - started} ms)`);
  }

  const { client } = await socketFor('device');
  t.equal((await client.request('ping')).type, 'pong', 'a socket still answers after the fuzz');
  const ready = await world.app.inject({ method: 'GET', url: '/health/ready' });
  t.equal(ready.statusCode, 200, 'the server is still ready after the fuzz');
});
