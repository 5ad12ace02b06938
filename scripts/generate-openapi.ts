import { writeFile } from 'node:fs/promises';
import { stringify } from 'yaml';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { createDatabase } from '../src/db/client.js';
import { renderOpenApi } from '../src/plugins/swagger.js';
import { renderAsyncApi } from '../src/realtime/asyncapi.js';

/**
 * `npm run openapi`: writes openapi/openapi.json from the route schemas and openapi/asyncapi.yaml from
 * the socket frame schemas. The document depends on code
 * only, so the app is built without touching any database: the pool below is never queried.
 */
// A fixed JWT secret so nothing is read from (or generated into) a database.
const config = loadConfig({ LOG_LEVEL: 'silent', MIGRATE_ON_START: 'false', JWT_SECRET: 'only-used-to-generate-the-openapi-document' });
const database = createDatabase({ url: 'postgres://unused@127.0.0.1:1/unused', poolMax: 1 });
const app = await buildApp(config, { database, redis: null });
await app.ready();
const target = new URL('../openapi/openapi.json', import.meta.url);
await writeFile(target, renderOpenApi(app));
await app.close();
await database.close();
const asyncTarget = new URL('../openapi/asyncapi.yaml', import.meta.url);
await writeFile(asyncTarget, renderAsyncApi(stringify));
process.stdout.write(`wrote ${target.pathname}\nwrote ${asyncTarget.pathname}\n`);
