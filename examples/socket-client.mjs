// A minimal device client: node examples/socket-client.mjs <access token> [base url]
// Connects to /ws, prints every frame, resumes each conversation from the last seq it saw after a
// reconnect, and sends "hello" to the most recent conversation once ready.
import WebSocket from 'ws';

const [token, base = 'ws://127.0.0.1:3000'] = process.argv.slice(2);
if (!token) throw new Error('usage: node examples/socket-client.mjs <access token> [ws base url]');
const lastSeen = {}; // conversationId -> last message.created seq seen

function connect(attempt = 0) {
  const socket = new WebSocket(`${base}/ws`, { headers: { authorization: `Bearer ${token}` } });
  socket.on('message', (raw) => {
    const frame = JSON.parse(String(raw));
    console.log(frame.type, JSON.stringify(frame.data ?? null).slice(0, 200));
    if (frame.type === 'ready') {
      attempt = 0;
      const known = Object.keys(lastSeen);
      if (known.length > 0) socket.send(JSON.stringify({ type: 'resume', id: 'resume-1', data: { after: lastSeen } }));
      const first = frame.data.conversations[0];
      if (first) socket.send(JSON.stringify({ type: 'message.send', id: 'send-1', data: { conversationId: first.id, clientId: `hello-${Date.now()}`, type: 'text', body: 'hello' } }));
    }
    if (frame.type === 'message.created') lastSeen[frame.conversationId] = frame.data.seq;
  });
  socket.on('close', (code) => {
    console.log('closed', code);
    if (code === 4408) return console.log('token expired: refresh it (POST /api/v1/auth/refresh) and reconnect');
    setTimeout(() => connect(attempt + 1), Math.min(30_000, 500 * 2 ** attempt)); // 1001, 1013, network: back off and resume
  });
  socket.on('error', (error) => console.log('socket error', error.message));
}
connect();
