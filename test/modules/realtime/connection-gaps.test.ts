import t from 'tap';
import { buildChatApp, directChat, eventually, sendText } from '../../support/chat.js';
import { actorOf, deliver, socketPair } from './connection-pair.js';

/*
 * Gaps in a conversation's seqs, on one Connection over a real socket and the real log: a gap the
 * bus closes by itself (publishes of two instances arriving out of order) costs no read of the
 * log; a gap it never closes (a publish lost in a Redis outage) is filled from the log after a
 * short grace. Either way the client sees every seq once, in order.
 */

const h = await buildChatApp(t);
const { app } = h;

t.test('a gap the bus closes within the grace is delivered in order without reading the log', async (t) => {
  const [a, b] = [await h.user(), await h.user()];
  const chat = await directChat(app, a, b);
  const { connection, wire: seqs, reads } = await socketPair(t, app, actorOf(b.accessToken));
  connection.setPosition(chat.id, 0);
  connection.ready({});
  const [first, second, third] = [await sendText(app, a, chat.id, 'one'), await sendText(app, a, chat.id, 'two'), await sendText(app, a, chat.id, 'three')];

  deliver(connection, third);
  deliver(connection, first);
  deliver(connection, second);
  await eventually(() => seqs.length === 3);
  t.strictSame(seqs, [1, 2, 3], 'every seq once, in order');
  await new Promise((resolve) => setTimeout(resolve, 100));
  t.equal(reads.length, 0, 'the log was not read');
  t.strictSame(seqs, [1, 2, 3], 'nothing more arrived after the grace');
});

t.test('a gap the bus never closes is filled from the log after the grace', async (t) => {
  const [a, b] = [await h.user(), await h.user()];
  const chat = await directChat(app, a, b);
  const { connection, wire: seqs, reads } = await socketPair(t, app, actorOf(b.accessToken));
  connection.setPosition(chat.id, 0);
  connection.ready({});
  const sent = [];
  for (const body of ['one', 'two', 'three', 'four']) sent.push(await sendText(app, a, chat.id, body));

  deliver(connection, sent[0]!);
  deliver(connection, sent[3]!); // 2 and 3 were lost on the bus
  await eventually(() => seqs.length === 4);
  t.strictSame(seqs, [1, 2, 3, 4], 'the missing seqs came from the log, then the held one, in order');
  t.ok(reads.length >= 1, 'the log was read to fill the gap');
  deliver(connection, sent[2]!); // the lost publish turns up late
  await new Promise((resolve) => setTimeout(resolve, 60));
  t.strictSame(seqs, [1, 2, 3, 4], 'a late duplicate is dropped');
});

t.test('a socket that closes during the grace does not read the log afterwards', async (t) => {
  const [a, b] = [await h.user(), await h.user()];
  const chat = await directChat(app, a, b);
  const { connection, reads } = await socketPair(t, app, actorOf(b.accessToken));
  connection.setPosition(chat.id, 0);
  connection.ready({});
  await sendText(app, a, chat.id, 'one');
  const second = await sendText(app, a, chat.id, 'two');
  deliver(connection, second);
  connection.dispose();
  await new Promise((resolve) => setTimeout(resolve, 100));
  t.equal(reads.length, 0, 'the grace timer was cancelled');
});
