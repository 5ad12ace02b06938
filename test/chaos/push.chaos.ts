import t from 'tap';
import { seedDirects, seedUsers } from '../../bench/ws-support.js';
import { LOOPBACK_CA_FILE } from '../support/loopback-tls.js';
import { startWebPushEndpoint } from '../support/web-push-endpoint.js';
import { startCluster } from './support/cluster.js';

/*
 * Push under a crash: two instances (child processes) on a Postgres and a Redis this file owns. One
 * instance claims pushes and is SIGKILLed while the push service leaves its requests hanging; the
 * other, once the lease is over, sends each of them, and each is shown exactly once. Then both run
 * at once over a stream of messages: no push is sent twice. `npm run test:chaos`.
 */

t.setTimeout(300_000);
const LEASE_MS = 2000;
const endpoint = await startWebPushEndpoint(t);
const cluster = await startCluster({
  env: { WEB_PUSH_ALLOW_PRIVATE: 'true', NODE_EXTRA_CA_CERTS: LOOPBACK_CA_FILE, PUSH_GRACE_MS: '0', PUSH_POLL_MS: '100', PUSH_LEASE_MS: String(LEASE_MS), PROVIDER_TIMEOUT_MS: '60000' },
});
t.teardown(() => cluster.close());
const http = (index: number) => cluster.endpoints[index]!.url.replace(/^ws/, 'http');

async function api(index: number, token: string, method: string, path: string, body?: unknown): Promise<Record<string, unknown>> {
  const response = await fetch(`${http(index)}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  if (response.status >= 300) throw new Error(`${method} ${path}: ${response.status} ${text}`);
  return text ? (JSON.parse(text) as Record<string, unknown>) : {};
}

async function until(what: string, done: () => boolean | Promise<boolean>, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A recipient with a browser subscription, and `senders` others with a direct chat to them. */
async function setUp(tag: string, senders: number) {
  const client = await cluster.db.connect();
  const [recipient, ...others] = await seedUsers(client, senders + 1, tag);
  const chats = await seedDirects(client, others.map((sender) => [sender.id, recipient!.id]));
  client.release();
  const subscription = endpoint.subscribe();
  await api(0, recipient!.token, 'POST', '/push/devices', { platform: 'webpush', subscription: subscription.json });
  return { others, chats, subscription };
}

const seqsOf = (subscription: ReturnType<typeof endpoint.subscribe>) =>
  endpoint.received(subscription).map((r) => {
    const payload = subscription.decrypt(r.body) as { conversationId: string; seq: number };
    return `${payload.conversationId}/${payload.seq}`;
  });

t.test('an instance killed while holding pushes: the other sends each once when the lease is over', async (t) => {
  const { others, chats, subscription } = await setUp('held', 20);
  await cluster.signal(1, 'SIGKILL');
  const before = endpoint.requests.length;
  for (let i = 0; i < 20; i++) endpoint.answers.push('hang');
  const sent = [];
  // One message per conversation (a burst in one would be collapsed into one push).
  for (const [i, sender] of others.entries()) sent.push(await api(0, sender.token, 'POST', '/message', { conversationId: chats[i], clientId: `held-${i}`, type: 'text', body: `held ${i}` }));
  // Instance 0 claims them all and sends PUSH_CONCURRENCY (16) at once, into requests that never end.
  await until('the first pushes to hang', () => endpoint.requests.length - before >= 16);
  await cluster.signal(0, 'SIGKILL');
  endpoint.answers.length = 0;
  t.equal(seqsOf(subscription).length, 0, 'nothing was shown yet');

  await cluster.restart(1);
  const expected = sent.map((m) => `${m.conversationId}/${m.seq}`).sort();
  await until('every push, after the lease', () => seqsOf(subscription).length >= expected.length);
  await new Promise((resolve) => setTimeout(resolve, LEASE_MS + 500)); // time for a wrong second send to show
  t.same(seqsOf(subscription).sort(), expected, 'each message pushed and shown exactly once');
  await cluster.restart(0);
});

t.test('both instances working one outbox: every push goes out once', async (t) => {
  const { others, chats, subscription } = await setUp('both', 40);
  const expected: string[] = [];
  for (let round = 0; round < 3; round++) {
    await Promise.all(
      others.map(async (sender, i) => {
        const message = await api(i % 2, sender.token, 'POST', '/message', { conversationId: chats[i], clientId: `both-${round}-${i}`, type: 'text', body: `round ${round}` });
        expected.push(`${message.conversationId}/${message.seq}`);
      }),
    );
    // Each round is pushed before the next, so no two messages of a conversation are due together (collapsed).
    await until(`round ${round} pushed`, () => seqsOf(subscription).length >= expected.length);
  }
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const received = seqsOf(subscription);
  t.equal(new Set(received).size, received.length, 'no push twice');
  t.same(received.sort(), expected.sort(), 'every message pushed');
  const [settled] = (await cluster.db.query(`select count(*) filter (where state = 'sent')::int as sent, count(*) filter (where state = 'pending')::int as pending from push_deliveries`)).rows as Array<{ sent: number; pending: number }>;
  t.equal(settled?.pending, 0, 'nothing left pending');
});
