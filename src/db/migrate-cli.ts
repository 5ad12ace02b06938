import { createDatabase, pgliteDirFor } from './client.js';
import { migrate } from './migrate.js';
import { loadConfig } from '../config.js';

/** `npm run db:migrate`: applies pending migrations to the configured database and exits. */
const config = loadConfig();
const database = createDatabase({ url: config.database.url, poolMax: 2, pgliteDir: pgliteDirFor(config.dataDir) });
try {
  await migrate(database);
  process.stdout.write(`migrations applied (${database.driver})\n`);
} finally {
  await database.close();
}
