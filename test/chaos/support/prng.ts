/**
 * A seeded pseudo-random generator (mulberry32): every timing decision of a chaos run (send
 * intervals, targets, reconnect delays, which socket drops when) comes from one of these, so a seed
 * replays the same plan. The operating system's scheduling still varies between runs.
 */
export interface Prng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Integer in [min, max]. */
  int(min: number, max: number): number;
  pick<T>(items: readonly T[]): T;
  /** Exponentially distributed with this mean (Poisson arrivals). */
  exp(mean: number): number;
  /** An independent generator derived from this one and a label (one per client, per scenario). */
  fork(label: string): Prng;
}

export function prng(seed: number): Prng {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (min, max) => min + Math.floor(next() * (max - min + 1)),
    pick: (items) => items[Math.floor(next() * items.length)]!,
    exp: (mean) => -Math.log(1 - next()) * mean,
    fork(label) {
      let hash = Math.floor(next() * 4294967296);
      for (const char of label) hash = Math.imul(hash ^ char.charCodeAt(0), 0x01000193) >>> 0;
      return prng(hash);
    },
  };
}
