// A minimal device client: node examples/socket-client.mjs <access token> [ws base url]
// Connects to /ws and prints every frame. Each line you type as `<conversationId> <text>` is sent as a
// message (nothing is sent otherwise). After a drop it reconnects with backoff and resumes on connect
// (`/ws?resume=1` + `resume {since, after}` as the first frame), so it gets every change it missed,
// in every conversation, exactly once and in order (README: Reconnecting and offline sync). It stops
// when its session ends (401 / 4401) or its token expires (4408).
import { randomUUID } from 'node:crypto';
import { createInterface } from 'node:readline';
import WebSocket from 'ws';

const [token, base = 'ws://127.0.0.1:3000'] = process.argv.slice(2);
if (!token) throw new Error('usage: node examples/socket-client.mjs <access token> [ws base url]');

/** conversationId -> the seq of the last logged event applied (messages and changes). Persist this in a real app. */
const position = {};
/** The sync token from ready / resume.done: every conversation that changed after it is replayed. Persist it too. */
let syncToken;
let socket;
let stopped = false;

function connect(attempt = 0) {
  const resuming = syncToken !== undefined;
  socket = new WebSocket(`${base}/ws${resuming ? '?resume=1' : ''}`, { headers: { authorization: `Bearer ${token}` } });
  socket.on('open', () => {
    // The first frame: live messages wait for it, so the replay and live ones arrive in one ordered stream.
    if (resuming) socket.send(JSON.stringify({ type: 'resume', id: 'resume', data: { since: syncToken, after: position } }));
  });
  socket.on('message', (raw) => {
    const frame = JSON.parse(String(raw));
    console.log(frame.type, JSON.stringify(frame.data ?? null).slice(0, 200));
    if (frame.type === 'ready') {
      attempt = 0;
      for (const c of frame.data.conversations ?? []) position[c.id] ??= c.lastSeq; // new to us: start at the end (load it over REST)
      syncToken ??= frame.data.syncToken;
    }
    if (frame.type === 'resume.done') syncToken = frame.data.syncToken;
    // Away longer than SYNC_TOKEN_TTL_DAYS: start over from a snapshot (GET /api/v1/sync), here from ready.
    if (frame.type === 'error' && frame.id === 'resume' && frame.data.code === 'SYNC_TOKEN_EXPIRED') {
      syncToken = undefined;
      socket.close();
    }
    if (typeof frame.seq === 'number') {
      if (frame.seq <= (position[frame.conversationId] ?? 0)) return; // a repeat: never expected, always harmless
      position[frame.conversationId] = frame.seq; // apply the event here (README: Reconnecting and offline sync, step 2)
    }
  });
  socket.on('unexpected-response', (_request, response) => {
    console.log('refused', response.statusCode);
    if (response.statusCode === 401 || response.statusCode === 403) stop('the token is not accepted: sign in again');
    socket.terminate();
  });
  socket.on('close', (code) => {
    console.log('closed', code);
    if (code === 4401) return stop('the session ended: sign in again');
    if (code === 4408) return stop('the access token expired: refresh it (POST /api/v1/auth/refresh) and reconnect');
    if (!stopped) setTimeout(() => connect(attempt + 1), Math.min(30_000, 500 * 2 ** attempt)); // 1001, 1013, network
  });
  socket.on('error', (error) => console.log('socket error', error.message));
}

function stop(why) {
  stopped = true;
  console.log(why);
  lines.close();
}

const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  const [conversationId, ...words] = line.trim().split(' ');
  if (!conversationId || words.length === 0 || socket?.readyState !== WebSocket.OPEN) return console.log('type: <conversationId> <text>');
  // A retry after a drop must reuse the clientId: the server answers the original message, never a second one.
  socket.send(JSON.stringify({ type: 'message.send', id: 'send', data: { conversationId, clientId: randomUUID(), type: 'text', body: words.join(' ') } }));
});
connect();
