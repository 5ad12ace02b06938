import { once } from 'node:events';
import t, { type Test } from 'tap';
import type { Redis } from 'ioredis';
import type { Bus, BusHandler } from '../../src/bus/bus.js';
import { createRedisBus } from '../../src/bus/redis-bus.js';
import { closeRedis, createRedis } from '../../src/lib/redis.js';
import { build, createBackend, runConfig, uniqueName } from '../helper.js';

/*
 * The Redis bus against the real server. Every test uses its own prefix, so files running in
 * parallel on the same Redis never hear each other. "Did not arrive" checks never wait on a clock:
 * Redis runs commands one at a time and writes to a subscriber connection in that order, so once a
 * sentinel published later has arrived on a connection, anything published earlier to a channel
 * that connection listens on has arrived too.
 *
 * Without REDIS_URL this file declares no tests at all (tap reports it as "no tests found", a skip,
 * and exits 0): nothing here can run without a server, and nothing pretends it passed.
 */

interface Received {
  message: unknown;
  channel: string;
}

/** A handler that records what it gets and lets a test await a condition on it. */
function recorder() {
  const received: Received[] = [];
  let waiters: Array<{ done: () => boolean; resolve: () => void }> = [];
  const handler: BusHandler = (message, channel) => {
    received.push({ message, channel });
    waiters = waiters.filter((w) => {
      if (!w.done()) return true;
      w.resolve();
      return false;
    });
  };
  const until = (done: () => boolean) => (done() ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ done, resolve })));
  const messages = () => received.map((r) => r.message);
  return {
    handler,
    received,
    messages,
    waitFor: (count: number) => until(() => received.length >= count),
    waitForMessage: (message: unknown) => until(() => messages().some((m) => JSON.stringify(m) === JSON.stringify(message))),
  };
}

if (!runConfig.redis.url) {
  t.comment('REDIS_URL unset: Redis bus tests need a Redis server');
} else {
  const url = runConfig.redis.url;

  const connect = (t: Test): Redis => {
    const redis = createRedis(url);
    t.teardown(() => closeRedis(redis));
    return redis;
  };

  const newBus = (t: Test, redis: Redis, prefix: string, onHandlerError?: (error: unknown, channel: string) => void): Bus => {
    const bus = createRedisBus({ redis, prefix, ...(onHandlerError ? { onHandlerError } : {}) });
    t.teardown(() => bus.close());
    return bus;
  };

  const prefixFor = () => `${uniqueName('t')}:`;

  const numsub = async (redis: Redis, channel: string): Promise<number> => {
    const reply = (await redis.call('PUBSUB', 'NUMSUB', channel)) as [string, number | string];
    return Number(reply[1]);
  };

  t.test('kind is redis and ping reaches the server', async (t) => {
    const redis = connect(t);
    // The ping's 1 s budget is for a connected client (health checks); connecting on a loaded
    // machine is not what is measured.
    if (redis.status !== 'ready') await once(redis, 'ready');
    const bus = newBus(t, redis, prefixFor());
    t.equal(bus.kind, 'redis');
    await t.resolves(bus.ping());
  });

  t.test('two buses on separate connections with the same prefix both receive, in publish order', async (t) => {
    const prefix = prefixFor();
    const a = newBus(t, connect(t), prefix);
    const b = newBus(t, connect(t), prefix);
    const onA = recorder();
    const onB = recorder();
    await a.subscribe('room', onA.handler);
    await b.subscribe('room', onB.handler);

    const burst = Array.from({ length: 50 }, (_, i) => ({ i, at: new Date(Date.UTC(2024, 0, 1, 0, 0, i)) }));
    // Fired together: order is the order of the publish calls on the one command connection.
    await Promise.all(burst.map((message) => a.publish('room', message)));
    await Promise.all([onA.waitFor(burst.length), onB.waitFor(burst.length)]);

    const expected = burst.map(({ i, at }) => ({ i, at: at.toISOString() }));
    t.same(onA.messages(), expected, 'the publishing instance got all 50 in order, as JSON');
    t.same(onB.messages(), expected, 'the other instance got all 50 in order');
    t.ok(onB.received.every((r) => r.channel === 'room'), 'handlers see the unprefixed channel name');

    await b.publish('room', 'from-b');
    await Promise.all([onA.waitFor(51), onB.waitFor(51)]);
    t.equal(onA.messages()[50], 'from-b', 'and the other way round');
  });

  t.test('channels are namespaced by the prefix', async (t) => {
    const redis = connect(t);
    const prefixA = prefixFor();
    const prefixB = prefixFor();
    // Same command connection for both buses: only the prefix tells them apart.
    const a = newBus(t, redis, prefixA);
    const b = newBus(t, redis, prefixB);
    const onA = recorder();
    const onB = recorder();
    await a.subscribe('x', onA.handler);
    await b.subscribe('x', onB.handler);

    await a.publish('x', 'for-a');
    await b.publish('x', 'for-b');
    await a.publish('x', 'end');
    await b.publish('x', 'end');
    await Promise.all([onA.waitForMessage('end'), onB.waitForMessage('end')]);

    t.same(onA.messages(), ['for-a', 'end'], 'prefix A hears only its own');
    t.same(onB.messages(), ['for-b', 'end'], 'prefix B hears only its own');

    // The channel on the server is prefix + channel: a raw subscriber there hears the bus.
    const raw = redis.duplicate();
    raw.on('error', () => {});
    t.teardown(() => closeRedis(raw));
    const rawMessages: Array<[string, string]> = [];
    const rawGot = new Promise<void>((resolve) =>
      raw.on('message', (channel: string, payload: string) => {
        rawMessages.push([channel, payload]);
        resolve();
      }),
    );
    await raw.subscribe(`${prefixA}x`);
    await a.publish('x', { hello: 'raw' });
    await rawGot;
    t.same(rawMessages, [[`${prefixA}x`, '{"hello":"raw"}']]);
  });

  t.test('one shared server subscription per channel, dropped with the last handler', async (t) => {
    const redis = connect(t);
    const admin = connect(t);
    const prefix = prefixFor();
    const bus = newBus(t, redis, prefix);
    const channel = `${prefix}c`;

    t.equal(await numsub(admin, channel), 0, 'nobody listens before subscribe');
    const first = recorder();
    const second = recorder();
    const offFirst = await bus.subscribe('c', first.handler);
    t.equal(await numsub(admin, channel), 1, 'subscribe resolves once the server subscription is active');
    const offSecond = await bus.subscribe('c', second.handler);
    t.equal(await numsub(admin, channel), 1, 'two local handlers share one server subscription');

    await bus.publish('c', 1);
    await Promise.all([first.waitFor(1), second.waitFor(1)]);
    t.same([first.messages(), second.messages()], [[1], [1]], 'each local handler gets the message once');

    await offFirst();
    t.equal(await numsub(admin, channel), 1, 'still subscribed while a handler remains');
    await bus.publish('c', 2);
    await second.waitFor(2);
    t.same(second.messages(), [1, 2], 'the remaining handler keeps receiving');
    t.same(first.messages(), [1], 'the removed handler does not');

    await offSecond();
    t.equal(await numsub(admin, channel), 0, 'the last unsubscribe drops the server subscription');

    const third = recorder();
    const offThird = await bus.subscribe('c', third.handler);
    t.equal(await numsub(admin, channel), 1, 'a later subscribe takes it again');
    await bus.publish('c', 3);
    await third.waitFor(1);
    t.same(third.messages(), [3]);

    // Unsubscribing the last handler while another subscribes at once must leave the channel subscribed.
    const fourth = recorder();
    const [, offFourth] = await Promise.all([offThird(), bus.subscribe('c', fourth.handler)]);
    t.equal(await numsub(admin, channel), 1, 'a subscribe racing the last unsubscribe stays subscribed');
    await bus.publish('c', 4);
    await fourth.waitFor(1);
    t.same(fourth.messages(), [4]);
    t.same(third.messages(), [3]);

    // And the other way round: subscribe then unsubscribe at once leaves nothing behind.
    await offFourth();
    const off = await bus.subscribe('c', recorder().handler);
    await Promise.all([off(), bus.subscribe('c', recorder().handler).then((offAgain) => offAgain())]);
    t.equal(await numsub(admin, channel), 0, 'no subscription leaks from interleaved subscribe/unsubscribe');
  });

  t.test('a throwing handler does not stop the others and is reported with its channel', async (t) => {
    const errors: Array<{ error: unknown; channel: string }> = [];
    const bus = newBus(t, connect(t), prefixFor(), (error, channel) => errors.push({ error, channel }));
    const after = recorder();
    const boom = new Error('boom');
    await bus.subscribe('e', () => {
      throw boom;
    });
    await bus.subscribe('e', after.handler);
    await bus.publish('e', 'x');
    await after.waitFor(1);
    t.same(after.messages(), ['x']);
    t.same(errors, [{ error: boom, channel: 'e' }]);
  });

  t.test('after its subscriber connection is killed the bus resubscribes, then calls onReconnect', async (t) => {
    const redis = connect(t);
    const admin = connect(t);
    const prefix = prefixFor();
    const bus = newBus(t, redis, prefix);
    const name = `${prefix}bus-sub`;

    const kept = recorder();
    await bus.subscribe('kept', kept.handler);
    const offDropped = await bus.subscribe('dropped', recorder().handler);
    await offDropped();

    const subscriberIds = async (): Promise<string[]> => {
      const list = String(await admin.call('CLIENT', 'LIST'));
      return list
        .split('\n')
        .filter((line) => line.split(' ').includes(`name=${name}`))
        .map((line) => /(?:^| )id=(\d+)/.exec(line)?.[1] ?? '');
    };
    const before = await subscriberIds();
    t.equal(before.length, 1, `exactly one connection is named ${name}`);

    let removedCalls = 0;
    const removeListener = bus.onReconnect(() => removedCalls++);
    removeListener();

    // The moment onReconnect fires, subscriptions must already be active again: publish right there.
    const reconnected = new Promise<number>((resolve) => {
      let calls = 0;
      bus.onReconnect(() => {
        calls++;
        void redis.publish(`${prefix}kept`, JSON.stringify('published-in-listener'));
        resolve(calls);
      });
    });
    await admin.call('CLIENT', 'KILL', 'ID', before[0]!);
    t.equal(await reconnected, 1, 'onReconnect fired once');
    t.equal(removedCalls, 0, 'a removed onReconnect listener is not called');

    // The listener only runs once the resubscribe is acknowledged, so this holds without waiting.
    const keptSubscribers = await numsub(admin, `${prefix}kept`);
    t.equal(keptSubscribers, 1, 'the channel with a handler is subscribed again when onReconnect fires');
    t.equal(await numsub(admin, `${prefix}dropped`), 0, 'the channel without handlers is not');
    // Sentinel from the same connection as the listener's publish: once it is in, that one is too (or lost).
    if (keptSubscribers === 1) {
      await bus.publish('kept', 'after-reconnect');
      await kept.waitForMessage('after-reconnect');
    }
    t.same(kept.messages(), ['published-in-listener', 'after-reconnect'], 'the old handler gets the message published as onReconnect fired, then later ones, once each');

    const after = await subscriberIds();
    t.equal(after.length, 1, 'one named subscriber connection again');
    t.not(after[0], before[0], 'and it is a new connection');
  });

  t.test('close ends the subscriber connection', async (t) => {
    const admin = connect(t);
    const prefix = prefixFor();
    const bus = createRedisBus({ redis: connect(t), prefix });
    t.teardown(() => bus.close());
    await bus.subscribe('z', () => {});
    t.equal(await numsub(admin, `${prefix}z`), 1);
    await bus.close();
    // QUIT has been answered, so the server has already dropped the connection and its subscription.
    t.equal(await numsub(admin, `${prefix}z`), 0, 'no subscription survives close');
    const list = String(await admin.call('CLIENT', 'LIST'));
    t.notOk(list.split('\n').some((line) => line.split(' ').includes(`name=${prefix}bus-sub`)), 'the named connection is gone');
  });

  t.test('two app instances sharing one Redis fan out to each other', async (t) => {
    const backend = await createBackend(t);
    const a = await build(t, { backend });
    const b = await build(t, { backend });
    t.equal(a.bus.kind, 'redis', 'app a runs the Redis bus');
    t.equal(b.bus.kind, 'redis', 'app b runs the Redis bus');
    t.not(a.bus, b.bus, 'each app has its own bus');

    const onA = recorder();
    const onB = recorder();
    await a.bus.subscribe('x', onA.handler);
    await b.bus.subscribe('x', onB.handler);
    await a.bus.publish('x', { from: 'a', n: 1 });
    await Promise.all([onA.waitFor(1), onB.waitFor(1)]);
    t.same(onB.received, [{ message: { from: 'a', n: 1 }, channel: 'x' }], 'published on a, received on b');
    t.same(onA.messages(), [{ from: 'a', n: 1 }], 'and on a itself');

    await b.bus.publish('x', { from: 'b', n: 2 });
    await Promise.all([onA.waitFor(2), onB.waitFor(2)]);
    t.same(onA.messages()[1], { from: 'b', n: 2 }, 'published on b, received on a');
  });
}
