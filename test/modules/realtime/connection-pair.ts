import type { Test } from 'tap';
import WebSocket, { WebSocketServer } from 'ws';
import type { App } from '../../../src/app.js';
import type { ChatEvent } from '../../../src/events/chat-events.js';
import type { Actor } from '../../../src/modules/auth/tokens.js';
import { Connection, type ConnectionOptions, type ReadAfter } from '../../../src/realtime/connection.js';
import type { MessageBody } from '../../support/chat.js';

/*
 * A Connection on the server end of a real loopback socket, reading the real log through the app's
 * service, for tests that drive its delivery logic directly: `wire` is every message.created seq its
 * client received, in arrival order (repeats included), and `read` can be replaced to hold or stage
 * reads of the log (controlled interleavings).
 */

export function actorOf(accessToken: string): Actor {
  const claims = JSON.parse(Buffer.from(accessToken.split('.')[1]!, 'base64url').toString()) as { sub: string; sid: string };
  return { userId: claims.sub, sessionId: claims.sid, role: 'user' };
}

export interface PairOptions {
  holdUntilFirstFrame?: boolean;
  /** Replaces the delay of the grace and of backoffs (default: real time). */
  wait?: ConnectionOptions['wait'];
}

export async function socketPair(t: Test, app: App, actor: Actor, options: PairOptions = {}) {
  const server = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise((resolve) => server.once('listening', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const accepted = new Promise<WebSocket>((resolve) => server.once('connection', resolve));
  const client = new WebSocket(`ws://127.0.0.1:${(server.address() as { port: number }).port}`);
  t.teardown(() => client.close());
  const wire: number[] = [];
  client.on('message', (raw) => {
    const frame = JSON.parse(String(raw)) as { type: string; data: { seq: number } };
    if (frame.type === 'message.created') wire.push(frame.data.seq);
  });
  const socket = await accepted;
  const reads: number[] = [];
  const real: ReadAfter = (reader, conversationId, after) => app.services.messages.readAfter(reader, conversationId, after);
  const pair = {
    wire,
    /** The `after` of every read of the log, in order. */
    reads,
    read: real,
    real,
    connection: undefined as unknown as Connection,
  };
  pair.connection = new Connection({
    socket,
    actor,
    roomConversationId: null,
    maxBufferedBytes: 1 << 20,
    readAfter: (reader, conversationId, after) => {
      reads.push(after);
      return pair.read(reader, conversationId, after);
    },
    readStream: (reader, stream, after) => app.services.sync.readStream(reader, stream, after),
    holdUntilFirstFrame: options.holdUntilFirstFrame ?? false,
    readFailure: () => 'retry',
    onError: () => {},
    ...(options.wait ? { wait: options.wait } : {}),
  });
  t.teardown(() => pair.connection.dispose());
  return pair;
}

const eventOf = (message: MessageBody): ChatEvent => ({ type: 'message.created', conversationId: message.conversationId, seq: message.seq, data: message, at: message.createdAt });

/** Hands a stored message to the connection as the bus would. */
export function deliver(connection: Connection, message: MessageBody): void {
  connection.deliver(eventOf(message), JSON.stringify({ type: 'message.created', conversationId: message.conversationId, data: message }));
}
