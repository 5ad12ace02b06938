import { sql } from 'drizzle-orm';
import t from 'tap';
import { captureLogs } from '../../helper.js';
import { type Account, call, expectStatus, registerAndVerify } from '../../support/accounts.js';
import { apnsDeviceToken, startApnsServer } from '../../support/apns-server.js';
import { buildAuthApp } from '../../support/auth-app.js';
import { createGroup, directChat, sendText } from '../../support/chat.js';
import { startFcmServer } from '../../support/fcm-server.js';

/*
 * FCM and APNs end to end: the app, configured as an operator would (a service account key file, a
 * .p8 key), sends through the real clients (google-auth-library + FCM HTTP v1, HTTP/2 to APNs) to
 * servers on loopback that check what those services check. The worker is driven with runOnce.
 */

const fcm = await startFcmServer(t);
const apns = await startApnsServer(t);
const account = await fcm.serviceAccount('chat-prod');
const { app, mailbox } = await buildAuthApp(t, {
  env: { AUTH_LOGIN_OTP: 'false', PUSH_GRACE_MS: '0', PUSH_POLL_MS: '60000', FCM_SERVICE_ACCOUNT_FILE: account.file, FCM_BASE_URL: fcm.base, ...apns.env },
});
const user = (displayName: string) => registerAndVerify(app, mailbox, { displayName });

async function register(who: Account, payload: Record<string, unknown>): Promise<string> {
  return expectStatus<{ id: string }>(await call(app, 'POST', '/push/devices', { token: who.accessToken, payload }), 201, 'register').id;
}

async function drain(): Promise<void> {
  for (let round = 0; round < 10; round++) {
    const result = await app.services.push.runOnce();
    if (result.planned === 0 && Object.keys(result.outcomes).length === 0) return;
  }
}

const fcmTo = (token: string) => fcm.requests.filter((r) => r.status === 200 && r.body.message?.token === token).map((r) => r.body.message as Record<string, any>);

t.test('a group message reaches an Android phone through FCM and an iPhone through APNs, with badge and collapse key', async (t) => {
  const [alice, bob, carol] = [await user('Alice'), await user('Bob'), await user('Carol')];
  const group = await createGroup(app, alice, [bob, carol], { title: 'Trip' });
  const android = `fcm-${Math.random().toString(36).slice(2)}`;
  const iphone = apnsDeviceToken();
  await register(bob, { platform: 'fcm', token: android, appId: 'com.example.chat' });
  await register(carol, { platform: 'apns', token: iphone });
  const message = await sendText(app, alice, group.id, 'see you at 8');
  await drain();

  const [toBob] = fcmTo(android);
  t.ok(toBob, 'FCM got the push for Bob');
  t.equal(toBob?.android?.notification?.title, 'Trip', 'titled with the group');
  t.equal(toBob?.android?.notification?.body, 'Alice: see you at 8', 'the sender and the text');
  t.equal(toBob?.android?.notification?.notification_count, 1, 'the badge');
  t.equal(toBob?.android?.collapse_key, toBob?.android?.notification?.tag, 'collapse key and tag are the same');
  t.same([toBob?.data?.type, toBob?.data?.conversationId, toBob?.data?.seq], ['message', group.id, String(message.seq)], 'the data, as strings');

  const [toCarol] = apns.received(iphone);
  t.ok(toCarol, 'APNs got the push for Carol');
  t.same([toCarol?.headers['apns-topic'], toCarol?.headers['apns-push-type'], toCarol?.headers['apns-collapse-id']], ['com.example.chat', 'alert', toBob?.android?.collapse_key], 'topic, type, and the same collapse id');
  t.match(toCarol?.headers['apns-id'], /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, 'a stable apns-id');
  t.same((toCarol?.body?.aps as Record<string, unknown>)?.badge, 1, 'the badge');
  t.same((toCarol?.body?.aps as Record<string, unknown>)?.alert, { title: 'Trip', body: 'Alice: see you at 8' }, 'the alert');
  t.equal(toCarol?.claims?.iss, apns.key.teamId, 'signed for the team');

  expectStatus(await call(app, 'DELETE', `/message/${message.id}?for=everyone`, { token: alice.accessToken }), 204, 'deleted for everyone');
  await drain();
  const retraction = fcmTo(android)[1];
  t.same([retraction?.data?.type, retraction?.notification, retraction?.android?.notification], ['message.deleted', undefined, undefined], 'FCM: a data-only retraction');
  const apnsRetraction = apns.received(iphone)[1];
  t.same([apnsRetraction?.headers['apns-push-type'], apnsRetraction?.headers['apns-priority'], (apnsRetraction?.body?.aps as Record<string, unknown>)?.['content-available']], ['background', '5', 1], 'APNs: a background retraction');
  t.equal(apnsRetraction?.headers['apns-id'], toCarol?.headers['apns-id'], 'with the apns-id of the push it takes back');
});

t.test('tokens the services say are gone are deleted; a 503 is retried and sent once', async (t) => {
  const [alice, bob, carol] = [await user('Alice'), await user('Bob'), await user('Carol')];
  const toBob = await directChat(app, alice, bob);
  const toCarol = await directChat(app, alice, carol);
  const android = `fcm-${Math.random().toString(36).slice(2)}`;
  const iphone = apnsDeviceToken();
  await register(bob, { platform: 'fcm', token: android });
  await register(carol, { platform: 'apns', token: iphone });
  fcm.answers.push({ status: 404, errorCode: 'UNREGISTERED' });
  apns.answers.push({ status: 410, reason: 'Unregistered' });
  await sendText(app, alice, toBob.id, 'gone?');
  await sendText(app, alice, toCarol.id, 'gone?');
  await drain();
  for (const who of [bob, carol]) {
    const list = expectStatus<{ items: unknown[] }>(await call(app, 'GET', '/push/devices', { token: who.accessToken }), 200, 'list');
    t.equal(list.items.length, 0, `${who.username}'s device is deleted`);
  }

  const iphone2 = apnsDeviceToken();
  await register(carol, { platform: 'apns', token: iphone2 });
  apns.answers.push(503);
  await sendText(app, alice, toCarol.id, 'try again');
  await drain();
  t.equal(apns.received(iphone2).length, 0, 'not shown after the 503');
  await app.db.execute(sql`update push_deliveries set send_after = now() where state = 'pending'`);
  await drain();
  await drain();
  t.equal(apns.received(iphone2).length, 1, 'then shown, once');
});

t.test('without FCM or APNs configured, their devices are refused; PUSH_CONSOLE=true logs their pushes instead', async (t) => {
  const bare = await buildAuthApp(t, { env: { AUTH_LOGIN_OTP: 'false', PUSH_GRACE_MS: '0', PUSH_POLL_MS: '60000' } });
  const zoe = await registerAndVerify(bare.app, bare.mailbox);
  for (const platform of ['fcm', 'apns']) {
    const answer = await call(bare.app, 'POST', '/push/devices', { token: zoe.accessToken, payload: { platform, token: apnsDeviceToken() } });
    t.equal(answer.statusCode, 400, `${platform}: refused`);
    t.equal(answer.json().code, 'PUSH_PLATFORM_UNAVAILABLE', `${platform}: PUSH_PLATFORM_UNAVAILABLE`);
  }
  const logs = captureLogs();
  const dev = await buildAuthApp(t, { env: { AUTH_LOGIN_OTP: 'false', PUSH_GRACE_MS: '0', PUSH_POLL_MS: '60000', PUSH_CONSOLE: 'true', LOG_LEVEL: 'info' }, overrides: { logStream: logs.stream } });
  const [yan, xia] = [await registerAndVerify(dev.app, dev.mailbox), await registerAndVerify(dev.app, dev.mailbox)];
  const token = apnsDeviceToken();
  expectStatus(await call(dev.app, 'POST', '/push/devices', { token: xia.accessToken, payload: { platform: 'apns', token } }), 201, 'accepted');
  const chat = await directChat(dev.app, yan, xia);
  await sendText(dev.app, yan, chat.id, 'hello console');
  await dev.app.services.push.runOnce();
  const lines = logs.text().split('\n').filter(Boolean);
  const logged = lines.map((line) => JSON.parse(line) as { msg: string; push?: { device: string; alert: { body: string } } }).find((entry) => entry.msg === 'push (console)');
  t.equal(logged?.push?.alert.body, 'hello console', 'the push is in the log');
  t.equal(logged?.push?.device, `…${token.slice(-6)}`, 'with only the end of the device token');
  t.notOk(lines.some((line) => line.includes(token)), 'never the whole token');
});
