import t from 'tap';
import type { ReadAfter } from '../../../src/realtime/connection.js';
import { buildChatApp, directChat, eventually, sendText } from '../../support/chat.js';
import { actorOf, deliver, socketPair } from './connection-pair.js';

/*
 * Regression tests for the three ways resume and gap filling went wrong (issue 12), each driven by a
 * controlled interleaving on one Connection over a real socket and the real log:
 * 1. a resume below what live delivery already sent repeated seqs (and reordered them);
 * 2. a resume while a gap fill was reading from a higher position lost the range between;
 * 3. a fill that read the log several times without finding a seq skipped it for good.
 */

const h = await buildChatApp(t);
const { app } = h;
const noDelay = () => Promise.resolve();

async function chatWith(count: number) {
  const [a, b] = [await h.user(), await h.user()];
  const chat = await directChat(app, a, b);
  const messages = [];
  for (let i = 1; i <= count; i++) messages.push(await sendText(app, a, chat.id, `m${i}`));
  return { a, b, chat, messages };
}

/** A read of the log that waits until the test lets it finish. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  let entered!: () => void;
  const reached = new Promise<void>((resolve) => (entered = resolve));
  const wrap =
    (read: ReadAfter): ReadAfter =>
    async (...args) => {
      const page = await read(...args);
      entered();
      await opened;
      return page;
    };
  return { wrap, open, reached };
}

t.test('1. a resume below what was sent live replays only what is missing: no seq twice', async (t) => {
  const { a, b, chat } = await chatWith(3);
  const pair = await socketPair(t, app, actorOf(b.accessToken));
  pair.connection.setPosition(chat.id, 3); // ready said lastSeq 3
  pair.connection.ready({});
  deliver(pair.connection, await sendText(app, a, chat.id, 'live'));
  await eventually(() => pair.wire.length === 1);
  const done = await pair.connection.resume([{ conversationId: chat.id, after: 1, target: 4 }]);
  await eventually(() => pair.wire.length >= 3);
  await new Promise((resolve) => setTimeout(resolve, 50));
  t.strictSame(pair.wire, [4, 2, 3], 'the live 4, then the never-sent 2 and 3; 4 is not sent again');
  t.equal(done.get(chat.id), 4, 'resume.done reports the position reached');
});

t.test('1. with resume on connect (?resume=1) the replay and live events arrive strictly in order', async (t) => {
  const { a, b, chat } = await chatWith(3);
  const pair = await socketPair(t, app, actorOf(b.accessToken), { holdUntilFirstFrame: true });
  pair.connection.setPosition(chat.id, 3);
  pair.connection.ready({});
  deliver(pair.connection, await sendText(app, a, chat.id, 'live before the resume frame'));
  await new Promise((resolve) => setTimeout(resolve, 50));
  t.strictSame(pair.wire, [], 'live events wait for the first frame');
  await pair.connection.resume([{ conversationId: chat.id, after: 1, target: 4 }]);
  deliver(pair.connection, await sendText(app, a, chat.id, 'live after'));
  await eventually(() => pair.wire.length === 4);
  t.strictSame(pair.wire, [2, 3, 4, 5], 'every seq after the point once, in order');
});

t.test('2. a resume during a gap fill that reads from a higher position loses nothing', async (t) => {
  const { a, b, chat } = await chatWith(3);
  const pair = await socketPair(t, app, actorOf(b.accessToken), { wait: noDelay });
  pair.connection.setPosition(chat.id, 3);
  pair.connection.ready({});
  const held = gate();
  pair.read = held.wrap(pair.real);
  await sendText(app, a, chat.id, 'lost on the bus');
  deliver(pair.connection, await sendText(app, a, chat.id, 'arrives'));
  await held.reached; // the fill is reading after 3
  pair.read = pair.real;
  const resumed = pair.connection.resume([{ conversationId: chat.id, after: 0, target: 5 }]);
  held.open();
  const done = await resumed;
  await eventually(() => pair.wire.length >= 5);
  t.strictSame(pair.wire, [1, 2, 3, 4, 5], 'the range below the running fill was read too, in order');
  t.equal(done.get(chat.id), 5);
  t.strictSame(pair.reads.slice(0, 2), [3, 0], 'the stale page of the running fill was not used');
});

t.test('3. a seq the log does not show yet is never skipped, however many reads it takes', async (t) => {
  const [a, b] = [await h.user(), await h.user()];
  const chat = await directChat(app, a, b);
  const pair = await socketPair(t, app, actorOf(b.accessToken), { wait: noDelay });
  pair.connection.setPosition(chat.id, 0);
  pair.connection.ready({});
  const stale = await pair.real(actorOf(b.accessToken), chat.id, 0); // what a read that began before the commits sees
  let staleReads = 6;
  pair.read = async (...args) => (staleReads-- > 0 ? stale : pair.real(...args));
  const [first, second] = [await sendText(app, a, chat.id, 'one'), await sendText(app, a, chat.id, 'two')];
  deliver(pair.connection, second); // first's publish was lost
  await eventually(() => pair.wire.length === 2);
  t.strictSame(pair.wire, [1, 2], 'the hole was read until the log had it, then the held event followed');
  t.ok(pair.reads.length >= 7, `the log was read until it answered (${pair.reads.length} reads)`);
  deliver(pair.connection, first);
  await new Promise((resolve) => setTimeout(resolve, 30));
  t.strictSame(pair.wire, [1, 2], 'the late publish is not sent again');
});

t.test('a failing log is retried, never skipped: the held event waits for the database', async (t) => {
  const { a, b, chat } = await chatWith(1);
  const pair = await socketPair(t, app, actorOf(b.accessToken), { wait: noDelay });
  pair.connection.setPosition(chat.id, 1);
  pair.connection.ready({});
  let failures = 5;
  pair.read = async (...args) => {
    if (failures-- > 0) throw new Error('connection terminated unexpectedly');
    return pair.real(...args);
  };
  await sendText(app, a, chat.id, 'lost');
  deliver(pair.connection, await sendText(app, a, chat.id, 'held'));
  await eventually(() => pair.wire.length === 2);
  t.strictSame(pair.wire, [2, 3]);
  t.equal(pair.reads.length, 6, 'five failed reads, then one that succeeded');
});
