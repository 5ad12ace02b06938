import t from 'tap';
import { createCoalescer } from '../../src/lib/coalescer.js';

t.test('inputs submitted together run as one batch; each caller gets its own result', async (t) => {
  const batches: number[][] = [];
  const coalescer = createCoalescer(async (inputs: number[]) => {
    batches.push(inputs);
    return inputs.map((n) => n * 10);
  }, { maxBatch: 100, maxInFlight: 1 });
  const results = await Promise.all([1, 2, 3, 4].map((n) => coalescer.submit(n)));
  t.strictSame(results, [10, 20, 30, 40]);
  t.strictSame(batches, [[1, 2, 3, 4]], 'one execution');
});

t.test('maxBatch splits, maxInFlight bounds concurrent executions, and what arrives meanwhile waits', async (t) => {
  let running = 0;
  let peak = 0;
  const batches: number[][] = [];
  const coalescer = createCoalescer(async (inputs: number[]) => {
    running++;
    peak = Math.max(peak, running);
    batches.push(inputs);
    await new Promise((resolve) => setTimeout(resolve, 20));
    running--;
    return inputs;
  }, { maxBatch: 3, maxInFlight: 2 });
  const first = [1, 2, 3, 4, 5, 6, 7].map((n) => coalescer.submit(n));
  await new Promise((resolve) => setTimeout(resolve, 5));
  const late = [8, 9].map((n) => coalescer.submit(n));
  t.strictSame(await Promise.all([...first, ...late]), [1, 2, 3, 4, 5, 6, 7, 8, 9], 'every input answered with its own result');
  t.equal(peak, 2, 'never more than two executions at once');
  t.ok(batches.every((b) => b.length <= 3), 'no batch above maxBatch');
  t.strictSame(batches.flat().sort((a, b) => a - b), [1, 2, 3, 4, 5, 6, 7, 8, 9], 'each input ran exactly once');
  t.strictSame(batches.slice(0, 2), [[1, 2, 3], [4, 5, 6]], 'in submission order');
});

t.test('a failed execution rejects every input of its batch and no other', async (t) => {
  const coalescer = createCoalescer(async (inputs: string[]) => {
    if (inputs.includes('bad')) throw new Error('batch failed');
    return inputs.map((s) => s.toUpperCase());
  }, { maxBatch: 2, maxInFlight: 1 });
  const outcomes = await Promise.allSettled(['a', 'bad', 'c', 'd'].map((s) => coalescer.submit(s)));
  t.strictSame(outcomes.map((o) => o.status), ['rejected', 'rejected', 'fulfilled', 'fulfilled']);
  t.strictSame(outcomes.slice(2).map((o) => (o as PromiseFulfilledResult<string>).value), ['C', 'D']);
  t.equal((outcomes[0] as PromiseRejectedResult).reason.message, 'batch failed');
});
