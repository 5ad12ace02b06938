import type { Test } from 'tap';
import { type Account, call, expectStatus, registerAndVerify } from '../../support/accounts.js';
import { buildAuthApp } from '../../support/auth-app.js';
import { type BrowserSubscription, startWebPushEndpoint } from '../../support/web-push-endpoint.js';

/*
 * One app whose push worker is driven round by round (PUSH_POLL_MS far away, PUSH_GRACE_MS 0: a
 * message is due the moment it is planned), and a Web Push service on loopback that decrypts what it
 * receives: the setting of the push rule tests.
 */
export async function pushHarness(t: Test, env: Record<string, string> = {}) {
  const endpoint = await startWebPushEndpoint(t);
  const { app, mailbox } = await buildAuthApp(t, { env: { AUTH_LOGIN_OTP: 'false', WEB_PUSH_ALLOW_PRIVATE: 'true', PUSH_GRACE_MS: '0', PUSH_POLL_MS: '60000', ...env } });
  const user = (displayName: string) => registerAndVerify(app, mailbox, { displayName });
  return {
    endpoint,
    app,
    user,
    users: <const T extends readonly string[]>(...names: T) => Promise.all(names.map(user)) as Promise<{ [K in keyof T]: Account }>,
    /** Registers a browser subscription for the account's session. */
    async browserOf(account: Account): Promise<BrowserSubscription> {
      const subscription = endpoint.subscribe();
      expectStatus(await call(app, 'POST', '/push/devices', { token: account.accessToken, payload: { platform: 'webpush', subscription: subscription.json } }), 201, 'register');
      return subscription;
    },
    /** Rounds of the worker until one has nothing left to plan or send. */
    async drain(): Promise<void> {
      for (let round = 0; round < 10; round++) {
        const result = await app.services.push.runOnce();
        if (result.planned === 0 && Object.keys(result.outcomes).length === 0) return;
      }
    },
  };
}
