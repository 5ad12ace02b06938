import t, { type Test } from 'tap';
import type { Bus, BusHandler } from '../../src/bus/bus.js';
import { createMemoryBus } from '../../src/bus/memory-bus.js';

/*
 * The in-process bus delivers on a microtask. Negative checks ("did not arrive") never wait on a
 * clock: a sentinel published afterwards on a channel the observer listens to proves that every
 * earlier publish has been dispatched.
 */

interface Received {
  message: unknown;
  channel: string;
}

/** A handler that records what it gets and lets a test await a number of deliveries. */
function recorder() {
  const received: Received[] = [];
  let waiters: Array<{ count: number; resolve: () => void }> = [];
  const handler: BusHandler = (message, channel) => {
    received.push({ message, channel });
    waiters = waiters.filter((w) => {
      if (received.length < w.count) return true;
      w.resolve();
      return false;
    });
  };
  const waitFor = (count: number) =>
    received.length >= count ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ count, resolve }));
  return { handler, received, waitFor, messages: () => received.map((r) => r.message) };
}

function newBus(t: Test, onHandlerError?: (error: unknown, channel: string) => void): Bus {
  const bus = createMemoryBus(onHandlerError);
  t.teardown(() => bus.close());
  return bus;
}

t.test('kind is memory', async (t) => {
  t.equal(newBus(t).kind, 'memory');
});

t.test('publish reaches every subscriber of the channel and no other channel', async (t) => {
  const bus = newBus(t);
  const a1 = recorder();
  const a2 = recorder();
  const b = recorder();
  await bus.subscribe('a', a1.handler);
  await bus.subscribe('a', a2.handler);
  await bus.subscribe('b', b.handler);

  await bus.publish('a', { n: 1 });
  await bus.publish('b', { sentinel: true });
  await Promise.all([a1.waitFor(1), a2.waitFor(1), b.waitFor(1)]);

  t.same(a1.received, [{ message: { n: 1 }, channel: 'a' }], 'first subscriber of a got the message with its channel');
  t.same(a2.received, [{ message: { n: 1 }, channel: 'a' }], 'second subscriber of a got it too');
  t.same(b.received, [{ message: { sentinel: true }, channel: 'b' }], 'subscriber of b got only what was published on b');
  t.same(a1.messages(), [{ n: 1 }], 'nothing from b leaked to a');
});

t.test('messages arrive in publish order', async (t) => {
  const bus = newBus(t);
  const r = recorder();
  await bus.subscribe('ordered', r.handler);
  const expected = Array.from({ length: 50 }, (_, i) => i);
  for (const i of expected) await bus.publish('ordered', i);
  await r.waitFor(expected.length);
  t.same(r.messages(), expected);
});

t.test('every subscriber receives its own JSON copy', async (t) => {
  const bus = newBus(t);
  const first = recorder();
  const second = recorder();
  // The first handler vandalises its copy as soon as it gets it, before the second one runs.
  await bus.subscribe('copy', (message, channel) => {
    first.handler(message, channel);
    const m = message as { nested: { list: number[] }; text: string };
    m.text = 'changed';
    m.nested.list.push(99);
  });
  await bus.subscribe('copy', second.handler);

  const at = new Date('2024-05-06T07:08:09.010Z');
  const original = { text: 'hello', nested: { list: [1, 2] }, at, gone: undefined, big: 1.5 };
  await bus.publish('copy', original);
  await Promise.all([first.waitFor(1), second.waitFor(1)]);

  t.same(second.messages()[0], { text: 'hello', nested: { list: [1, 2] }, at: '2024-05-06T07:08:09.010Z', big: 1.5 }, 'the second copy is untouched');
  t.equal((first.messages()[0] as { text: string }).text, 'changed', 'the first handler did change its own copy');
  t.not(first.messages()[0], second.messages()[0], 'handlers got distinct objects');
  t.equal(typeof (second.messages()[0] as { at: unknown }).at, 'string', 'a Date arrives as its ISO string');
  t.notOk(Object.hasOwn(second.messages()[0] as object, 'gone'), 'undefined properties are dropped as in JSON');
  t.equal(original.text, 'hello', 'the publisher object is not touched');
  t.same(original.nested.list, [1, 2], 'nor its nested values');
  t.equal(original.at, at, 'the publisher keeps its Date');
});

t.test('a message is copied at publish time', async (t) => {
  const bus = newBus(t);
  const r = recorder();
  await bus.subscribe('snapshot', r.handler);
  const payload = { value: 1 };
  const published = bus.publish('snapshot', payload);
  payload.value = 2;
  await published;
  await r.waitFor(1);
  t.same(r.messages(), [{ value: 1 }], 'later mutation by the publisher is not seen');
});

t.test('unsubscribe removes exactly that handler', async (t) => {
  const bus = newBus(t);
  const kept = recorder();
  const removed = recorder();
  await bus.subscribe('u', kept.handler);
  const unsubscribe = await bus.subscribe('u', removed.handler);

  await bus.publish('u', 1);
  await Promise.all([kept.waitFor(1), removed.waitFor(1)]);
  await unsubscribe();
  await bus.publish('u', 2);
  await kept.waitFor(2);

  t.same(kept.messages(), [1, 2], 'the other handler keeps receiving');
  t.same(removed.messages(), [1], 'the removed handler gets nothing after unsubscribe');

  await unsubscribe();
  await bus.publish('u', 3);
  await kept.waitFor(3);
  t.same(kept.messages(), [1, 2, 3], 'calling unsubscribe twice does not remove the other handler');
});

t.test('the same function subscribed on two channels is removed from one only', async (t) => {
  const bus = newBus(t);
  const r = recorder();
  const offX = await bus.subscribe('x', r.handler);
  await bus.subscribe('y', r.handler);
  await offX();
  await bus.publish('x', 'to-x');
  await bus.publish('y', 'to-y');
  await r.waitFor(1);
  t.same(r.received, [{ message: 'to-y', channel: 'y' }]);
});

t.test('a throwing handler does not stop the others and is reported', async (t) => {
  const errors: Array<{ error: unknown; channel: string }> = [];
  const bus = newBus(t, (error, channel) => errors.push({ error, channel }));
  const before = recorder();
  const after = recorder();
  const boom = new Error('boom');
  await bus.subscribe('e', before.handler);
  await bus.subscribe('e', () => {
    throw boom;
  });
  await bus.subscribe('e', after.handler);

  await bus.publish('e', { n: 1 });
  await bus.publish('e', { n: 2 });
  await Promise.all([before.waitFor(2), after.waitFor(2)]);

  t.same(before.messages(), [{ n: 1 }, { n: 2 }], 'the handler before the thrower got both');
  t.same(after.messages(), [{ n: 1 }, { n: 2 }], 'the handler after the thrower got both');
  t.equal(errors.length, 2, 'onHandlerError called once per failed delivery');
  t.equal(errors[0]?.error, boom, 'with the thrown error');
  t.equal(errors[0]?.channel, 'e', 'and the channel');
});

t.test('without onHandlerError a throwing handler is still contained', async (t) => {
  const bus = newBus(t);
  const r = recorder();
  await bus.subscribe('quiet', () => {
    throw new Error('ignored');
  });
  await bus.subscribe('quiet', r.handler);
  await bus.publish('quiet', 'still delivered');
  await r.waitFor(1);
  t.same(r.messages(), ['still delivered']);
});

t.test('close', async (t) => {
  const bus = createMemoryBus();
  t.teardown(() => bus.close());
  const r = recorder();
  await bus.subscribe('c', r.handler);

  await t.resolves(bus.ping(), 'ping resolves while open');
  await bus.close();
  await t.rejects(bus.ping(), /closed/, 'ping rejects after close');
  await t.rejects(bus.publish('c', 'late'), /closed/, 'publish rejects after close');

  // Prove nothing was dispatched: a fresh bus's sentinel goes through the same microtask queue.
  const other = newBus(t);
  const sentinel = recorder();
  await other.subscribe('c', sentinel.handler);
  await other.publish('c', 'sentinel');
  await sentinel.waitFor(1);
  t.same(r.messages(), [], 'a handler of the closed bus received nothing');
});
