import fc from 'fast-check';
import type { SchemaChecker } from './contract.js';
import { HUGE_STRING, PROTOTYPE_NAMES, nastyValue } from './nasty.js';
import { type Schema, type SchemaContext, inputOf } from './schema-arbitrary.js';
import { bareObject, describe, toJsonText } from './wire.js';

/*
 * The socket side of the contract, read from the AsyncAPI document: the client frames to fuzz (with
 * the reply each documents), the server frames an answer may be, and the close codes it may end with.
 */

export interface ClientFrameSpec {
  type: string;
  data: Schema | undefined;
}

export interface SocketContract {
  clientFrames: ClientFrameSpec[];
  /** Server frame type -> the schema of the whole frame. */
  serverFrames: Map<string, Schema>;
  closeCodes: Set<number>;
}

export function socketContract(document: Schema, checker: SchemaChecker): SocketContract {
  const clientFrames: ClientFrameSpec[] = [];
  const serverFrames = new Map<string, Schema>();
  for (const message of Object.values<Schema>(document.components?.messages ?? {})) {
    const ref = String(message.payload?.$ref ?? '');
    const schema = checker.resolve(ref);
    if (/\/Client[^/]*$/.test(ref)) clientFrames.push({ type: message.name, data: schema.properties?.data });
    else if (/\/Server[^/]*$/.test(ref)) serverFrames.set(message.name, schema);
  }
  // The document lists close codes in its description ("Close codes: 1001 …, 1008 …."); 1000 is a normal close.
  const sentence = /Close codes:([^]*?)\.(\s|$)/.exec(String(document.info?.description ?? ''))?.[1] ?? '';
  const closeCodes = new Set([1000, ...[...sentence.matchAll(/\b([14]\d{3})\b/g)].map((m) => Number(m[1]))]);
  return { clientFrames, serverFrames, closeCodes };
}

/** What one input sends: a frame object (JSON text) or raw bytes, on the device or the room socket. */
export interface SocketInput {
  socket: 'device' | 'room';
  frame: { kind: 'object'; value: Record<string, unknown> } | { kind: 'text'; text: string } | { kind: 'bytes'; bytes: Buffer; binary: boolean };
}

const rawFrames = fc.constantFrom<SocketInput['frame']>(
  { kind: 'text', text: '' },
  { kind: 'text', text: '{' },
  { kind: 'text', text: '[]' },
  { kind: 'text', text: 'null' },
  { kind: 'text', text: '1e999' },
  { kind: 'text', text: '"ping"' },
  { kind: 'text', text: '{"type":"ping","id":1e999}' },
  { kind: 'text', text: '{"type":"__proto__","__proto__":{"type":"ping"}}' },
  { kind: 'text', text: `{"type":"ping","id":"${HUGE_STRING}"}` },
  { kind: 'bytes', bytes: Buffer.from('{"type":"ping"}'), binary: true },
  { kind: 'bytes', bytes: Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]), binary: false },
  { kind: 'bytes', bytes: Buffer.from([0xed, 0xa0, 0x80]), binary: false },
);

/** Frames of one client type: valid and invalid data, a broken envelope, or raw junk. */
export function socketInputs(spec: ClientFrameSpec, ctx: SchemaContext, id: () => string): fc.Arbitrary<SocketInput> {
  const data = spec.data ? inputOf(spec.data, ctx) : nastyValue;
  const frame = fc.oneof(
    { weight: 12, arbitrary: data.map((value): SocketInput['frame'] => ({ kind: 'object', value: bareObject([['type', spec.type], ['id', id()], ...(value === undefined ? [] : ([['data', value]] as const))]) })) },
    {
      weight: 2,
      arbitrary: fc.tuple(fc.oneof(fc.constantFrom(...PROTOTYPE_NAMES, spec.type.toUpperCase(), `${spec.type} `, ''), nastyValue), data).map(([type, value]): SocketInput['frame'] => ({ kind: 'object', value: bareObject([['type', type], ['id', id()], ['data', value]]) })),
    },
    { weight: 1, arbitrary: fc.tuple(nastyValue, data).map(([badId, value]): SocketInput['frame'] => ({ kind: 'object', value: bareObject([['type', spec.type], ['id', badId], ['data', value]]) })) },
    { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...PROTOTYPE_NAMES, 'extra'), nastyValue, data).map(([key, extra, value]): SocketInput['frame'] => ({ kind: 'object', value: bareObject([['type', spec.type], ['id', id()], ['data', value], [key, extra]]) })) },
    { weight: 1, arbitrary: rawFrames },
  );
  return fc.record({ socket: fc.constantFrom<SocketInput['socket']>('device', 'room'), frame });
}

/** The text or bytes to put on the wire. */
export function wireOf(frame: SocketInput['frame']): { payload: string | Buffer; binary: boolean } {
  if (frame.kind === 'object') return { payload: toJsonText(frame.value), binary: false };
  if (frame.kind === 'text') return { payload: frame.text, binary: false };
  return { payload: frame.bytes, binary: frame.binary };
}

export function describeFrame(input: SocketInput): string {
  const { frame } = input;
  const shown = frame.kind === 'object' ? describe(frame.value) : frame.kind === 'text' ? JSON.stringify(frame.text.slice(0, 200)) : `${frame.binary ? 'binary' : 'text'} bytes ${frame.bytes.toString('hex').slice(0, 80)}`;
  return `on the ${input.socket} socket: ${shown}`;
}

/** The reply a well-formed frame of each type documents (typing: none). */
export const REPLY_OF: Record<string, string | null> = {
  ping: 'pong',
  'message.send': 'message.ack',
  resume: 'resume.done',
  typing: null,
};
