/** A `--name` option that must be an integer of at least `min`. */
export function intOption(name: string, value: string | undefined, min = 1): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}, got ${JSON.stringify(value)}`);
  return n;
}

/**
 * Cleans up (scratch database, instances) if the run overruns `timeoutMinutes` (exit 2) or is
 * interrupted by SIGINT/SIGTERM (exit 130). Answers the watchdog's timer, to clear once the run ends.
 */
export function cleanUpOnAbort(timeoutMinutes: number, cleanUp: () => Promise<void>): NodeJS.Timeout {
  const watchdog = setTimeout(() => {
    console.error(`\nstopped: still running after ${timeoutMinutes} min (--timeout-minutes)`);
    void cleanUp().finally(() => process.exit(2));
  }, timeoutMinutes * 60_000);
  watchdog.unref();
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      console.error(`\n${signal}: cleaning up`);
      void cleanUp().finally(() => process.exit(130));
    });
  }
  return watchdog;
}
