import type { AddressInfo } from 'node:net';
import type { Test } from 'tap';
import WebSocket from 'ws';
import type { App } from '../../src/app.js';

/*
 * A real socket client for the gateway: the app listens on an ephemeral loopback port and tests talk
 * to it with the `ws` package, as a mobile app would. Frames are kept in arrival order; `next`
 * waits for the next unread frame of a type, `request` sends a frame with an id and waits for the reply.
 */

export interface Frame {
  type: string;
  id?: string;
  conversationId?: string;
  data?: any;
}

export interface SocketClient {
  socket: WebSocket;
  /** Every frame received so far, in order. */
  readonly frames: Frame[];
  send(frame: Record<string, unknown>): void;
  /** The next frame of `type` not handed out yet (waits up to `ms`). */
  next(type: string, ms?: number): Promise<Frame>;
  /** Sends `{type, id, data}` and waits for the frame that echoes `id`. */
  request(type: string, data?: unknown, ms?: number): Promise<Frame>;
  /** Resolves with the close code and reason. */
  closed(ms?: number): Promise<{ code: number; reason: string }>;
  close(): void;
}

/** Starts listening (once per app) and returns the ws:// base URL. */
export async function socketBase(t: Test, app: App): Promise<string> {
  if (!app.server.listening) await app.listen({ host: '127.0.0.1', port: 0 });
  return `ws://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
}

let requestSequence = 0;

/** Opens a socket; rejects with the HTTP status when the upgrade is refused. */
export async function connect(t: Test, url: string, options: WebSocket.ClientOptions & { protocols?: string[] } = {}): Promise<SocketClient> {
  const { protocols, ...rest } = options;
  const socket = new WebSocket(url, protocols, rest);
  const frames: Frame[] = [];
  const handed = new Set<Frame>();
  const waiters = new Set<() => void>();
  socket.on('message', (raw) => {
    frames.push(JSON.parse(String(raw)) as Frame);
    for (const wake of [...waiters]) wake();
  });
  const closedPromise = new Promise<{ code: number; reason: string }>((resolve) => socket.once('close', (code, reason) => resolve({ code, reason: String(reason) })));
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('unexpected-response', (_request, response) => reject(Object.assign(new Error(`upgrade refused: ${response.statusCode}`), { status: response.statusCode })));
    socket.once('error', reject);
  });
  t.teardown(() => socket.terminate());

  const waitFor = (pick: () => Frame | undefined, what: string, ms: number) =>
    new Promise<Frame>((resolve, reject) => {
      const check = () => {
        const frame = pick();
        if (!frame) return false;
        handed.add(frame);
        waiters.delete(check);
        clearTimeout(timer);
        resolve(frame);
        return true;
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`no ${what} frame within ${ms} ms; got ${JSON.stringify(frames.map((f) => f.type))}`));
      }, ms);
      if (!check()) waiters.add(check);
    });

  return {
    socket,
    frames,
    send: (frame) => socket.send(JSON.stringify(frame)),
    next: (type, ms = 3000) => waitFor(() => frames.find((f) => f.type === type && !handed.has(f)), type, ms),
    request(type, data, ms = 5000) {
      requestSequence += 1;
      const id = `r${requestSequence}`;
      socket.send(JSON.stringify(data === undefined ? { type, id } : { type, id, data }));
      return waitFor(() => frames.find((f) => f.id === id && !handed.has(f)), `reply to ${type}`, ms);
    },
    closed: (ms = 5000) => {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('socket not closed in time')), ms)));
      // The timer is cleared either way: a pending one would keep the test process alive after its last test.
      return Promise.race([closedPromise, late]).finally(() => clearTimeout(timer));
    },
    close: () => socket.close(),
  };
}

/** The HTTP status of a refused upgrade (throws when the socket opened instead). */
export async function refusedStatus(t: Test, url: string, options: WebSocket.ClientOptions & { protocols?: string[] } = {}): Promise<number> {
  try {
    const client = await connect(t, url, options);
    client.close();
  } catch (error) {
    const status = (error as { status?: number }).status;
    if (status !== undefined) return status;
    throw error;
  }
  throw new Error(`the upgrade to ${url} was accepted`);
}
