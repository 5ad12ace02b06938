import { parseArgs } from 'node:util';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';

/**
 * `npm run admin:create -- --username root --password '...' [--email a@b.c] [--phone +1...]`
 * Creates an admin account on the configured database (DATABASE_URL, or the embedded one in
 * DATA_DIR), or promotes an existing account of that username. Contacts given here count as verified.
 */
const { values } = parseArgs({
  options: { username: { type: 'string' }, password: { type: 'string' }, email: { type: 'string' }, phone: { type: 'string' } },
});
if (!values.username || !values.password) {
  process.stderr.write('usage: npm run admin:create -- --username <name> --password <password> [--email <address>] [--phone <E.164>]\n');
  process.exit(2);
}
const app = await buildApp(loadConfig({ ...process.env, LOG_LEVEL: 'warn' }));
try {
  await app.ready();
  const { created, user } = await app.services.auth.ensureAdmin({
    username: values.username,
    password: values.password,
    ...(values.email ? { email: values.email } : {}),
    ...(values.phone ? { phone: values.phone } : {}),
  });
  process.stdout.write(`${created ? 'created' : 'promoted'} admin ${user.username} (${user.id})\n`);
} catch (error) {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
} finally {
  await app.close();
}
