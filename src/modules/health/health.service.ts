import type { Bus } from '../../bus/bus.js';
import type { DatabaseHandle } from '../../db/client.js';

export type DependencyStatus = 'up' | 'down';

export interface Readiness {
  ready: boolean;
  checks: Record<string, DependencyStatus>;
}

const CHECK_TIMEOUT_MS = 2000;

async function probe(check: () => Promise<void>): Promise<DependencyStatus> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      check(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('timed out')), CHECK_TIMEOUT_MS);
      }),
    ]);
    return 'up';
  } catch {
    return 'down';
  } finally {
    clearTimeout(timer);
  }
}

/** Readiness: the database always, Redis only when the bus runs on it. Checks run in parallel. */
export function createHealthService(deps: { database: Pick<DatabaseHandle, 'ping'>; bus: Pick<Bus, 'kind' | 'ping'> }) {
  return {
    async readiness(): Promise<Readiness> {
      const probes: Array<Promise<[string, DependencyStatus]>> = [probe(() => deps.database.ping()).then((s) => ['database', s])];
      if (deps.bus.kind === 'redis') probes.push(probe(() => deps.bus.ping()).then((s) => ['redis', s]));
      const checks = Object.fromEntries(await Promise.all(probes));
      return { ready: Object.values(checks).every((s) => s === 'up'), checks };
    },
  };
}
