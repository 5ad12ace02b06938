import t from 'tap';
import { call, expectStatus } from '../../support/accounts.js';
import { buildChatApp, directChat, sendText } from '../../support/chat.js';
import { createAdmin, grantRole } from '../../support/staff.js';
import { socketBase } from '../../support/ws-client.js';
import { open } from '../realtime/gateway-helpers.js';
import { waitUntilAsync } from '../realtime/cluster-support.js';

/* The admin dashboard, on a database of its own so every count is exact. */

const h = await buildChatApp(t);
const admin = await createAdmin(h.app);

interface Stats {
  users: { total: number; activeToday: number; banned: number };
  messagesPerDay: Array<{ day: string; count: number }>;
  onlineNow: number;
  openTickets: number;
  openReports: number;
}

const stats = async () => expectStatus<Stats>(await call(h.app, 'GET', '/admin/stats', { token: admin.accessToken }), 200, 'stats');

t.test('users, messages per day, online now, open tickets and reports', async (t) => {
  const utcDay = () => new Date().toISOString().slice(0, 10);
  const startDay = utcDay();
  const [alice, bob] = [await h.user(), await h.user()];
  const before = await stats();
  t.equal(before.users.total, 3);
  t.equal(before.onlineNow, 0);
  t.equal(before.messagesPerDay.length, 7);
  t.ok([startDay, utcDay()].includes(before.messagesPerDay.at(-1)!.day), 'the last entry is today (UTC)');
  t.same(before.messagesPerDay.map((d) => d.count), [0, 0, 0, 0, 0, 0, 0]);

  const chat = await directChat(h.app, alice, bob);
  for (const body of ['one', 'two', 'three']) await sendText(h.app, alice, chat.id, body);
  await open(t, await socketBase(t, h.app), bob);
  expectStatus(await call(h.app, 'POST', '/feedback', { token: alice.accessToken, payload: { category: 'idea', subject: 's', body: 'b' } }), 201, 'ticket');
  expectStatus(await call(h.app, 'POST', '/reports', { token: alice.accessToken, payload: { userId: bob.user.id, reason: 'r' } }), 201, 'report');
  expectStatus(await call(h.app, 'POST', `/admin/users/${alice.user.id}/ban`, { token: admin.accessToken, payload: { reason: 'r' } }), 200, 'ban');

  await waitUntilAsync('Bob counts as online', async () => (await stats()).onlineNow === 1, () => '', 5000);
  const after = await stats();
  t.equal(after.messagesPerDay.reduce((sum, d) => sum + d.count, 0), 3, 'the three messages are counted in the last seven days');
  t.same({ total: after.users.total, banned: after.users.banned }, { total: 3, banned: 1 });
  // A run that crosses UTC midnight starts a new "today": then only the totals above are exact.
  if (utcDay() === startDay) {
    t.equal(after.users.activeToday, 3, 'everyone signed in today');
    t.equal(after.messagesPerDay.at(-1)!.count, 3, 'all three today');
  } else {
    t.ok(after.users.activeToday <= 3, 'active today never exceeds the users');
  }
  t.equal(after.openTickets, 1);
  t.equal(after.openReports, 1);
});

t.test('admins only', async (t) => {
  const agent = await grantRole(h.app, admin, await h.user(), 'support');
  t.equal((await call(h.app, 'GET', '/admin/stats', { token: agent.accessToken })).statusCode, 403);
});
