import t from 'tap';
import { DeliveryLane, type LaneEntry, type LaneIo, type LogPage } from '../../../src/realtime/delivery-lane.js';

/*
 * The delivery lane's state machine under controlled interleavings: a seeded scheduler decides, step
 * by step, which pending thing happens next (a commit to the log, a publish reaching the socket, a
 * read of the log returning, a backoff or grace ending), so every order of those is tried and any
 * failure replays from its seed. The log is an in-memory model of the real one's contract (LogPage):
 * a read sees every seq committed before it began, maybe later ones, never an uncommitted one; some
 * seqs are not visible to the reader (some of those are announced live as taken, with nothing to
 * send). Publishes are lost, repeated and reordered.
 */

function prng(seed: number) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let x = state;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

interface Run {
  wire: number[];
  visible: Set<number>;
  committed: number;
  resumedFrom: number;
  start: number;
}

/** One scenario: `total` seqs committed over time, the lane starting at `start`, a resume at a random step. */
async function scenario(seed: number, options: { holdUntilResume: boolean; lateResume: boolean }): Promise<Run> {
  const random = prng(seed);
  const total = 20 + Math.floor(random() * 40);
  const visible = new Set<number>();
  for (let seq = 1; seq <= total; seq++) if (random() > 0.1) visible.add(seq);
  let committed = Math.floor(random() * 10);
  const start = committed; // `ready` said lastSeq = committed
  const pending: Array<() => void> = [];
  const later = (action: () => void) => pending.push(action);
  const entry = (seq: number): LaneEntry => ({ seq, text: String(seq) });
  const wire: number[] = [];

  const io: LaneIo = {
    read: (after) =>
      new Promise<LogPage>((resolve, reject) => {
        const atStart = committed;
        later(() => {
          if (random() < 0.05) return reject(new Error('connection reset'));
          const items = [...visible].filter((seq) => seq > after && seq <= committed).sort((x, y) => x - y).slice(0, 4);
          const more = items.length === 4;
          const last = items.at(-1) ?? after;
          resolve({ items: items.map(entry), more, upTo: more ? last : Math.max(last, after, atStart) });
        });
      }),
    send: (sent) => wire.push(sent.seq),
    failed: () => 'retry',
    overflow: () => {
      throw new Error('overflow');
    },
    wait: () => new Promise<void>((resolve) => later(resolve)),
    ended: () => undefined,
  };
  const lane = new DeliveryLane(start, io, options.holdUntilResume, { graceMs: 1, backoffMs: 1, maxBackoffMs: 1, maxHeld: 10_000 });
  const resumeAt = options.holdUntilResume ? 0 : Math.floor(random() * total);
  const resumedFrom = Math.floor(random() * (start + 1));
  let resumed = false;
  let resumeDone: Promise<number> | undefined;
  let resumeTarget = 0;

  for (let step = 0; step < 10_000; step++) {
    if (!resumed && (step >= resumeAt || (options.lateResume && wire.length > 0))) {
      resumed = true;
      resumeTarget = committed;
      resumeDone = lane.resume(resumedFrom, resumeTarget);
      lane.release(); // the resume was the first frame
    }
    if (committed < total && random() < 0.3) {
      const seq = ++committed;
      if (visible.has(seq)) {
        const copies = random() < 0.15 ? 0 : random() < 0.1 ? 2 : 1; // lost, repeated, or once
        for (let i = 0; i < copies; i++) later(() => lane.live(entry(seq)));
      } else if (random() < 0.5) {
        // Another member's private change: the seq is announced as taken, with nothing to send.
        later(() => lane.live({ seq, text: null }));
      }
      continue;
    }
    if (pending.length === 0) {
      if (committed >= total && resumed) break;
      continue;
    }
    pending.splice(Math.floor(random() * pending.length), 1)[0]!();
    await Promise.resolve();
    await Promise.resolve();
  }
  lane.catchUp(total); // the last publishes may all have been lost: a bus reconnect asks for the end
  for (let i = 0; i < 10_000 && (pending.length > 0 || i < 5); i++) {
    pending.shift()?.();
    await new Promise((resolve) => setImmediate(resolve));
  }
  const reached = await resumeDone;
  if (reached === undefined || reached < resumeTarget) t.fail(`seed ${seed}: resume resolved at ${reached}, before its target ${resumeTarget}`);
  return { wire, visible, committed, resumedFrom, start };
}

const seeds = Number(process.env.LANE_SEEDS ?? 150);

t.test('resume on connect: every visible seq after the point exactly once, strictly in order', async (t) => {
  for (let seed = 1; seed <= seeds; seed++) {
    const run = await scenario(seed, { holdUntilResume: true, lateResume: false });
    const expected = [...run.visible].filter((seq) => seq > run.resumedFrom).sort((x, y) => x - y);
    if (JSON.stringify(run.wire) !== JSON.stringify(expected)) {
      t.strictSame(run.wire, expected, `seed ${seed}`);
      return;
    }
  }
  t.pass(`${seeds} seeded interleavings`);
});

t.test('resume after live delivery (or never-sent start): nothing twice, nothing lost, forward part in order', async (t) => {
  for (let seed = 1; seed <= seeds; seed++) {
    const run = await scenario(seed, { holdUntilResume: false, lateResume: seed % 2 === 0 });
    const expected = [...run.visible].filter((seq) => seq > run.resumedFrom).sort((x, y) => x - y);
    const sorted = [...run.wire].sort((x, y) => x - y);
    const repeats = run.wire.filter((seq, i) => run.wire.indexOf(seq) !== i);
    const forward = run.wire.filter((seq) => seq > run.start);
    if (forward.some((seq, i) => i > 0 && seq <= forward[i - 1]!)) {
      t.fail(`seed ${seed}: seqs above the start out of order: ${run.wire.join(',')}`);
      return;
    }
    if (repeats.length > 0 || JSON.stringify(sorted) !== JSON.stringify(expected)) {
      t.strictSame({ repeats, delivered: sorted }, { repeats: [], delivered: expected }, `seed ${seed}: wire ${run.wire.join(',')}`);
      return;
    }
  }
  t.pass(`${seeds} seeded interleavings`);
});

t.test('a final entry (the user left) is the last thing a lane sends, whatever is held or read after it', async (t) => {
  const wire: number[] = [];
  let ended = 0;
  const io: LaneIo = {
    read: async (after) => ({ items: [4, 5, 6].filter((seq) => seq > after).map((seq) => ({ seq, text: String(seq), final: seq === 5 })), more: false, upTo: 6 }),
    send: (sent) => wire.push(sent.seq),
    failed: () => 'retry',
    overflow: () => undefined,
    wait: () => Promise.resolve(),
    ended: () => {
      ended += 1;
    },
  };
  const lane = new DeliveryLane(2, io, false, { graceMs: 0, backoffMs: 0, maxBackoffMs: 0, maxHeld: 10 });
  lane.live({ seq: 3, text: null });
  lane.live({ seq: 7, text: '7' }); // held: 4..6 are missing
  await lane.resume(2, 7);
  t.same(wire, [4, 5], 'up to the leave (3 was settled with nothing to send), and not 6 or 7');
  t.equal(ended, 1, 'the lane said it ended, once');
  lane.live({ seq: 8, text: '8' });
  t.same(wire, [4, 5], 'nothing after it, even live');
});
