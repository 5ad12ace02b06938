import type { Test } from 'tap';
import type { App, AppOverrides } from '../../src/app.js';
import { type Env, type TestBackend, build, createBackend } from '../helper.js';
import { type Mailbox, startMailbox } from './mailbox.js';
import { type SmsGateway, startSmsGateway } from './sms-gateway.js';

/*
 * An app wired to real delivery: mail through nodemailer to a local SMTP server, texts through the
 * twilio SDK to a local Twilio stand-in. Caps that would get in the way of ordinary tests are raised;
 * tests of those caps set them back through `env`.
 */

/** Limits high enough for multi-user tests (passwords hash at the helper's cheap TEST_ARGON2 cost). */
export const AUTH_TEST_ENV: Env = {
  AUTH_RATE_LIMIT_MAX: '100000',
  OTP_IP_HOURLY_CAP: '100000',
  OTP_DESTINATION_HOURLY_CAP: '1000',
  PROVIDER_TIMEOUT_MS: '5000',
};

export interface AuthHarness {
  app: App;
  mailbox: Mailbox;
  sms: SmsGateway;
  backend: TestBackend;
}

export interface AuthAppOptions {
  env?: Env;
  /** Share storage with another app (e.g. to restart with other settings). */
  backend?: TestBackend;
  /** Reuse delivery endpoints of another harness. */
  mailbox?: Mailbox;
  sms?: SmsGateway;
  overrides?: AppOverrides;
  /** Hash with the configured argon2 cost instead of the cheap test cost. */
  productionArgon2?: boolean;
}

export async function buildAuthApp(t: Test, options: AuthAppOptions = {}): Promise<AuthHarness> {
  const mailbox = options.mailbox ?? (await startMailbox(t));
  const sms = options.sms ?? (await startSmsGateway(t));
  const backend = options.backend ?? (await createBackend(t));
  const app = await build(t, {
    backend,
    env: { ...AUTH_TEST_ENV, ...mailbox.env, ...sms.env, ...options.env },
    ...(options.overrides ? { overrides: options.overrides } : {}),
    ...(options.productionArgon2 ? { productionArgon2: true } : {}),
  });
  return { app, mailbox, sms, backend };
}
