import type { Test } from 'tap';
import WebSocket from 'ws';
import type { App } from '../../../src/app.js';
import { type Account, call, expectStatus } from '../../support/accounts.js';
import { type Frame, type SocketClient, connect } from '../../support/ws-client.js';

/*
 * Helpers of the gateway tests (not a test file: tap only runs *.test.ts). Sockets are opened with the
 * shared ws-client; `refusal` reads the whole HTTP answer of a refused upgrade (status, media type and
 * problem body), which `refusedStatus` does not keep.
 */

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

export interface Opened {
  client: SocketClient;
  ready: Frame;
}

/** Opens `path` (default /ws) with the account's bearer header and waits for the `ready` frame. */
export async function open(t: Test, base: string, account: Account, path = '/ws'): Promise<Opened> {
  const client = await connect(t, `${base}${path}`, { headers: { authorization: `Bearer ${account.accessToken}` } });
  const ready = await client.next('ready');
  return { client, ready };
}

export interface Refusal {
  status: number;
  contentType: string;
  body: { code?: string; status?: number; [key: string]: unknown } | undefined;
}

/** The HTTP answer to an upgrade the server refuses; rejects when the socket opens instead. */
export function refusal(url: string, options: WebSocket.ClientOptions & { protocols?: string[] } = {}): Promise<Refusal> {
  const { protocols, ...rest } = options;
  return new Promise<Refusal>((resolve, reject) => {
    const socket = new WebSocket(url, protocols, rest);
    socket.on('error', (error) => reject(error));
    socket.once('open', () => {
      socket.terminate();
      reject(new Error(`the upgrade to ${url.replace(/\?.*$/, '?…')} was accepted`));
    });
    socket.once('unexpected-response', (request, response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('error', reject);
      response.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: Refusal['body'];
        try {
          body = text ? (JSON.parse(text) as Refusal['body']) : undefined;
        } catch {
          body = { raw: text };
        }
        request.destroy();
        resolve({ status: response.statusCode ?? 0, contentType: String(response.headers['content-type'] ?? ''), body });
      });
    });
  });
}

/** Asserts a refused upgrade: status, problem+json and code. */
export async function expectRefused(t: Test, url: string, options: WebSocket.ClientOptions & { protocols?: string[] }, status: number, code: string, what: string): Promise<void> {
  let answer: Refusal;
  try {
    answer = await refusal(url, options);
  } catch (error) {
    t.fail(`${what}: ${(error as Error).message}`);
    return;
  }
  t.equal(answer.status, status, `${what}: HTTP ${status}`);
  t.match(answer.contentType, /^application\/problem\+json/, `${what}: problem+json`);
  t.equal(answer.body?.code, code, `${what}: code ${code}`);
}

/** Frames of `type` received so far (handed out or not). */
export const framesOf = (client: SocketClient, type: string, conversationId?: string) =>
  client.frames.filter((f) => f.type === type && (conversationId === undefined || frameConversation(f) === conversationId));

/** The conversation an event frame is about (top level, else in data). */
export const frameConversation = (frame: Frame): string | undefined => frame.conversationId ?? frame.data?.conversationId;

/** Waits until the client holds `count` frames of `type` (optionally of one conversation); fails after `ms`. */
export async function collect(client: SocketClient, type: string, count: number, conversationId?: string, ms = 5000): Promise<Frame[]> {
  const deadline = Date.now() + ms;
  for (;;) {
    const found = framesOf(client, type, conversationId);
    if (found.length >= count) return found;
    if (Date.now() > deadline) throw new Error(`${found.length} of ${count} ${type} frames within ${ms} ms; got ${JSON.stringify(client.frames.map((f) => f.type))}`);
    await sleep(10);
  }
}

/** Sends a frame with an id and the exact raw text given (for malformed or oversize frames use socket.send). */
export function sendRaw(client: SocketClient, text: string | Buffer): void {
  client.socket.send(text);
}

/** ping -> pong on the socket: proves it is open and answering. */
export async function alive(client: SocketClient): Promise<boolean> {
  if (client.socket.readyState !== WebSocket.OPEN) return false;
  try {
    const reply = await client.request('ping', undefined, 3000);
    return reply.type === 'pong';
  } catch {
    return false;
  }
}

export async function wsTicket(app: App, account: Account): Promise<string> {
  return expectStatus<{ ticket: string }>(await call(app, 'POST', '/auth/ws-ticket', { token: account.accessToken }), 200, 'ws-ticket').ticket;
}

export async function getJson<T = any>(app: App, account: Account, url: string): Promise<T> {
  return expectStatus<T>(await call(app, 'GET', url, { token: account.accessToken }), 200, `GET ${url}`);
}

/** The first frame at index >= `from` that satisfies `predicate` (waits up to `ms`). */
export async function waitFrame(client: SocketClient, predicate: (frame: Frame) => boolean, from = 0, ms = 3000): Promise<Frame> {
  const deadline = Date.now() + ms;
  for (;;) {
    const found = client.frames.slice(from).find(predicate);
    if (found) return found;
    if (Date.now() > deadline) throw new Error(`no matching frame within ${ms} ms; got ${JSON.stringify(client.frames.slice(from).map((f) => f.type))}`);
    await sleep(10);
  }
}
