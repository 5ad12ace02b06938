import type { Config } from './config.js';
import { pgliteDirFor } from './db/client.js';

/** host:port/path of a URL, without credentials or query (safe to log). */
function location(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.hostname}${parsed.port ? `:${parsed.port}` : ''}${parsed.pathname === '/' ? '' : parsed.pathname}`;
  } catch {
    return '(unparsable URL)';
  }
}

/** The one boot line: where the service listens and which real parts it uses; never a secret. */
export function startupSummary(config: Config, listeningOn: string): Record<string, string> {
  const base = (config.publicUrl ?? listeningOn).replace(/\/$/, '');
  return {
    url: base,
    docs: `${base}/docs`,
    database: config.database.url ? `postgres ${location(config.database.url)}` : `embedded ${pgliteDirFor(config.dataDir)}`,
    bus: config.redis.url ? `redis ${location(config.redis.url)}` : 'in-process (single instance)',
    sms: config.sms.provider === 'twilio' ? 'twilio' : 'console (printed to the log)',
    mail: config.mail.smtpUrl ? `smtp ${location(config.mail.smtpUrl)}` : 'console (printed to the log)',
    storage: config.storage.driver === 's3' ? `s3 bucket ${config.storage.bucket}` : `disk ${config.dataDir}/media`,
    push: pushProviders(config),
  };
}

/** The push platforms this instance sends on, e.g. "webpush, fcm (project p1), apns (sandbox)". */
function pushProviders(config: Config): string {
  const { fcm, apns } = config.push;
  const consoleOnly = config.push.console ? ' (console: printed to the log)' : '';
  return [
    'webpush',
    fcm ? `fcm (project ${fcm.projectId})` : config.push.console ? `fcm${consoleOnly}` : null,
    apns ? `apns (${location(apns.baseUrl)}, topic ${apns.topic})` : config.push.console ? `apns${consoleOnly}` : null,
  ]
    .filter(Boolean)
    .join(', ');
}
