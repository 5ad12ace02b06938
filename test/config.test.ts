import { readFile } from 'node:fs/promises';
import t from 'tap';
import { ConfigError, envSchema, loadConfig } from '../src/config.js';

t.test('defaults run the embedded single instance', async (t) => {
  const config = loadConfig({});
  t.equal(config.host, '127.0.0.1');
  t.equal(config.port, 3000);
  t.equal(config.database.url, undefined);
  t.equal(config.redis.url, undefined);
  t.equal(config.dataDir, './data');
  t.same(config.corsOrigins, []);
  t.ok(Object.isFrozen(config));
});

t.test('values are converted and empty strings mean unset', async (t) => {
  const config = loadConfig({ PORT: '8080', MIGRATE_ON_START: 'false', CORS_ORIGINS: 'https://a.example, https://b.example', DATABASE_URL: '', TRUST_PROXY: '2' });
  t.equal(config.port, 8080);
  t.equal(config.database.migrateOnStart, false);
  t.same(config.corsOrigins, ['https://a.example', 'https://b.example']);
  t.equal(config.database.url, undefined);
  t.equal(config.trustProxy, 2);
  t.equal(loadConfig({ CORS_ORIGINS: '*' }).corsOrigins, '*');
  t.same(loadConfig({ TRUST_PROXY: '10.0.0.0/8,127.0.0.1' }).trustProxy, ['10.0.0.0/8', '127.0.0.1']);
});

t.test('a bad value fails with a message naming the variable', async (t) => {
  t.throws(() => loadConfig({ PORT: 'abc' }), { name: 'ConfigError', message: /PORT="abc": must be integer/ });
  t.throws(() => loadConfig({ PORT: '70000' }), /PORT="70000"/);
  t.throws(() => loadConfig({ LOG_LEVEL: 'loud' }), /LOG_LEVEL="loud".*\(fatal, error, warn, info, debug, trace, silent\)/);
  t.throws(() => loadConfig({ MIGRATE_ON_START: 'maybe' }), /MIGRATE_ON_START="maybe": must be boolean/);
  t.throws(() => loadConfig({ TRUST_PROXY: 'everyone' }), /TRUST_PROXY="everyone"/);
  t.throws(() => loadConfig({ REDIS_KEY_PREFIX: 'has spaces' }), /REDIS_KEY_PREFIX/);
});

t.test('every bad variable is reported at once; secret values are never echoed', async (t) => {
  try {
    loadConfig({ PORT: 'x', DATABASE_URL: 'mysql://root:hunter2@db/app', METRICS_TOKEN: 'short' });
    t.fail('should throw');
  } catch (error) {
    t.ok(error instanceof ConfigError);
    const message = (error as Error).message;
    t.match(message, /PORT="x"/);
    t.match(message, /DATABASE_URL=<redacted>: must match pattern/);
    t.match(message, /METRICS_TOKEN=<redacted>/);
    t.notMatch(message, /hunter2|short/);
  }
});

t.test('the README documents every variable', async (t) => {
  const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8');
  for (const name of Object.keys(envSchema.properties)) t.match(readme, new RegExp(`\\| \`${name}\` \\|`), `${name} in the configuration table`);
});
