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

t.test('push credentials: FCM and APNs key files are read and checked at boot, never echoed', async (t) => {
  const { generateKeyPairSync } = await import('node:crypto');
  const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
  const dir = mkdtempSync('/tmp/config-push-');
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, text: string) => {
    writeFileSync(`${dir}/${name}`, text);
    return `${dir}/${name}`;
  };
  const pem = (type: 'rsa' | 'ec', curve?: string) =>
    (type === 'rsa' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ec', { namedCurve: curve! })).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  const rsa = pem('rsa');
  const p256 = pem('ec', 'prime256v1');

  t.same([loadConfig({}).push.fcm, loadConfig({}).push.apns, loadConfig({}).push.console], [undefined, undefined, false], 'off by default');
  const account = write('sa.json', JSON.stringify({ type: 'service_account', project_id: 'p1', client_email: 'push@p1.iam.example', private_key: rsa }));
  const fcm = loadConfig({ FCM_SERVICE_ACCOUNT_FILE: account, FCM_BASE_URL: 'https://127.0.0.1:9/' }).push.fcm;
  t.same([fcm?.projectId, fcm?.clientEmail, fcm?.tokenUri, fcm?.baseUrl], ['p1', 'push@p1.iam.example', 'https://oauth2.googleapis.com/token', 'https://127.0.0.1:9'], 'FCM from the key file');
  t.throws(() => loadConfig({ FCM_SERVICE_ACCOUNT_FILE: `${dir}/missing.json` }), /FCM_SERVICE_ACCOUNT_FILE=".*missing.json": cannot be read \(ENOENT\)/, 'a missing file');
  t.throws(() => loadConfig({ FCM_SERVICE_ACCOUNT_FILE: write('bad.json', '{"project_id": "p1"') }), /FCM_SERVICE_ACCOUNT_FILE is not a service account key/, 'not JSON');
  const ecAccount = write('ec.json', JSON.stringify({ project_id: 'p1', client_email: 'x@y', private_key: p256 }));
  t.throws(() => loadConfig({ FCM_SERVICE_ACCOUNT_FILE: ecAccount }), /private_key is not an RSA key/, 'not an RSA key');

  const p8 = write('AuthKey.p8', p256);
  const apns = loadConfig({ APNS_KEY_FILE: p8, APNS_KEY_ID: 'ABC123DEFG', APNS_TEAM_ID: 'TEAM123456', APNS_TOPIC: 'com.example.chat', APNS_ENVIRONMENT: 'sandbox' }).push.apns;
  t.same([apns?.keyId, apns?.teamId, apns?.topic, apns?.baseUrl], ['ABC123DEFG', 'TEAM123456', 'com.example.chat', 'https://api.sandbox.push.apple.com'], 'APNs, sandbox host');
  t.equal(loadConfig({ APNS_KEY_FILE: p8, APNS_KEY_ID: 'ABC123DEFG', APNS_TEAM_ID: 'TEAM123456', APNS_TOPIC: 'a.b' }).push.apns?.baseUrl, 'https://api.push.apple.com', 'production by default');
  const missing = (() => {
    try {
      loadConfig({ APNS_KEY_FILE: p8 });
      return '';
    } catch (error) {
      return (error as Error).message;
    }
  })();
  t.match(missing, /APNS_KEY_ID is required[\s\S]*APNS_TEAM_ID is required[\s\S]*APNS_TOPIC is required/, 'the ids and topic go with the key');
  for (const [text, why] of [[rsa, 'an RSA key'], [pem('ec', 'secp384r1'), 'another curve'], ['not a key', 'not PEM']] as const) {
    const file = write(`k${Math.random()}.p8`, text);
    let message = '';
    try {
      loadConfig({ APNS_KEY_FILE: file, APNS_KEY_ID: 'ABC123DEFG', APNS_TEAM_ID: 'TEAM123456', APNS_TOPIC: 'a.b' });
    } catch (error) {
      t.ok(error instanceof ConfigError, `${why}: a ConfigError`);
      message = (error as Error).message;
    }
    t.match(message, /APNS_KEY_FILE is not a \.p8 key/, `${why}: refused`);
    t.notOk(message.includes('PRIVATE KEY-----\n'), `${why}: the key is not echoed`);
  }
});

t.test('the boot line names the push platforms, never a credential', async (t) => {
  const { startupSummary } = await import('../src/startup-summary.js');
  t.equal(startupSummary(loadConfig({}), 'http://127.0.0.1:3000').push, 'webpush');
  t.equal(startupSummary(loadConfig({ PUSH_CONSOLE: 'true' }), 'http://127.0.0.1:3000').push, 'webpush, fcm (console: printed to the log), apns (console: printed to the log)');
});
