import type { Config } from '../config.js';
import { createConsoleMail } from './mail/console-mail.js';
import type { MailSender } from './mail/mail-sender.js';
import { createSmtpMail } from './mail/smtp-mail.js';
import { createConsoleSms } from './sms/console-sms.js';
import type { SmsSender } from './sms/sms-sender.js';
import { createTwilioSms } from './sms/twilio-sms.js';
import { createDiskStorage } from './storage/disk-storage.js';
import type { ObjectStorage } from './storage/object-storage.js';
import { join } from 'node:path';

/** What the console providers write to (the app's pino logger fits). */
export interface ProviderLogger {
  info(obj: object, msg: string): void;
}

/** SMS_PROVIDER=twilio sends through Twilio (or TWILIO_BASE_URL); the default logs texts. */
export function createSmsSender(config: Config, log: ProviderLogger): SmsSender {
  const sms = config.sms;
  if (sms.provider === 'console') return createConsoleSms(log);
  return createTwilioSms({
    accountSid: sms.accountSid,
    authToken: sms.authToken,
    from: sms.from,
    messagingServiceSid: sms.messagingServiceSid,
    baseUrl: sms.baseUrl,
    timeoutMs: config.providerTimeoutMs,
  });
}

/** SMTP_URL set sends through it; unset logs mail. */
export function createMailSender(config: Config, log: ProviderLogger): MailSender {
  if (!config.mail.smtpUrl) return createConsoleMail(log);
  return createSmtpMail({ url: config.mail.smtpUrl, from: config.mail.from, timeoutMs: config.providerTimeoutMs });
}

/**
 * S3_BUCKET set stores media in that bucket; unset stores it on disk under DATA_DIR/media. The S3 SDK
 * (hundreds of modules) is only loaded when it is used.
 */
export async function createStorage(config: Config): Promise<ObjectStorage> {
  const storage = config.storage;
  if (storage.driver === 'disk') return createDiskStorage(join(config.dataDir, 'media'));
  const { createS3Storage } = await import('./storage/s3-storage.js');
  return createS3Storage({ ...storage, timeoutMs: config.providerTimeoutMs });
}
