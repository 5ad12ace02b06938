/**
 * Runs `deleteBatch(batch)` until it removes fewer than `batch` rows (short transactions, no long
 * locks); answers how many went in all.
 */
export async function deleteInBatches(batch: number, deleteBatch: (batch: number) => Promise<number>): Promise<number> {
  let total = 0;
  for (;;) {
    const removed = await deleteBatch(batch);
    total += removed;
    if (removed < batch) return total;
  }
}
