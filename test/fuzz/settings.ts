import fc from 'fast-check';

/*
 * Reproducible runs: a fixed default seed, FUZZ_SEED to change it, FUZZ_RUNS for the inputs per
 * operation or frame type (the default keeps a file under half a minute on a 2-core machine; raise it for
 * a soak), FUZZ_ONLY (a regular expression) to run only matching operations or frame types. Each
 * operation's seed is derived from the base seed and its name, so one operation's inputs do not
 * depend on how many others ran before it (the server's state does: reproduce with the whole file).
 */

export const DEFAULT_SEED = 1_300_013;

function integerEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value)) throw new Error(`${name} must be an integer, got ${JSON.stringify(raw)}`);
  return value;
}

export interface FuzzSettings {
  seed: number;
  runs: number;
  only: RegExp | undefined;
}

export function fuzzSettings(defaultRuns: number): FuzzSettings {
  const only = process.env.FUZZ_ONLY;
  return { seed: integerEnv('FUZZ_SEED', DEFAULT_SEED), runs: integerEnv('FUZZ_RUNS', defaultRuns), only: only ? new RegExp(only) : undefined };
}

/** The seed of one named property: stable for a base seed and a name. */
export function seedFor(base: number, name: string): number {
  let hash = base | 0;
  for (let i = 0; i < name.length; i++) hash = (Math.imul(hash, 31) + name.charCodeAt(i)) | 0;
  return hash;
}

/** How to run this file again with the same inputs. */
export function reproduceHint(settings: FuzzSettings, file: string, name: string): string {
  const only = `^${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`;
  return `reproduce: FUZZ_SEED=${settings.seed} FUZZ_RUNS=${settings.runs} npx tap ${file} (FUZZ_ONLY='${only}' for this one alone, on a fresh server state)`;
}

/** One way the contract was broken, with the first input that broke it that way. */
export interface Finding {
  /** What kind of break (the same for every input that breaks it the same way). */
  signature: string;
  /** The input as sent, the answer, every violation. */
  details: string;
}

export interface Failure extends Finding {
  /** Inputs that broke the contract this way. */
  count: number;
  seed: number;
}

/**
 * Runs `check` on `settings.runs` inputs of one operation and collects the distinct ways the contract
 * broke (a break does not stop the run: one bug must not hide the next). No shrinking: the server
 * keeps state between inputs, and the failing input as it was sent is what a report needs.
 */
export async function runProperty<T>(settings: FuzzSettings, name: string, input: fc.Arbitrary<T>, check: (value: T) => Promise<Finding | undefined>): Promise<Failure[]> {
  const seed = seedFor(settings.seed, name);
  const found = new Map<string, Failure>();
  const details = await fc.check(
    fc.asyncProperty(input, async (value) => {
      const finding = await check(value);
      if (!finding) return;
      const known = found.get(finding.signature);
      if (known) known.count += 1;
      else found.set(finding.signature, { ...finding, count: 1, seed });
    }),
    { seed, numRuns: settings.runs },
  );
  if (details.failed) throw details.errorInstance instanceof Error ? details.errorInstance : new Error(String(details.errorInstance));
  return [...found.values()];
}
