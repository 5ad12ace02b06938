import t from 'tap';
import { problemOf } from '../../helper.js';
import { call, expectStatus } from '../../support/accounts.js';
import { buildChatApp } from '../../support/chat.js';
import { createAdmin, grantRole } from '../../support/staff.js';
import { socketBase } from '../../support/ws-client.js';
import { open } from '../realtime/gateway-helpers.js';

/*
 * Announcements on one instance: admins publish, edit and withdraw; users list the active ones with a
 * read flag and mark them read; an active one reaches every connected socket at once, a scheduled one
 * once it starts (the sweeper runs every second here). Across two instances: see done-when.test.ts.
 */

const h = await buildChatApp(t, { SWEEP_INTERVAL_SECONDS: '1' });
const admin = await createAdmin(h.app);

interface AdminAnnouncement {
  id: string;
  title: string;
  active: boolean;
  readCount: number;
  withdrawnAt: string | null;
}
interface Announcement {
  id: string;
  title: string;
  read: boolean;
}
type Page<T> = { items: T[]; nextCursor: string | null };

async function publish(payload: Record<string, unknown>): Promise<AdminAnnouncement> {
  return expectStatus<AdminAnnouncement>(await call(h.app, 'POST', '/admin/announcements', { token: admin.accessToken, payload }), 201, 'publish');
}

t.test('an active announcement reaches every connected socket, and lists with a read flag', async (t) => {
  const base = await socketBase(t, h.app);
  const [alice, bob] = [await h.user(), await h.user()];
  const sockets = [(await open(t, base, alice)).client, (await open(t, base, bob)).client];
  const created = await publish({ title: 'Maintenance tonight', body: 'Between 02:00 and 02:30 UTC.' });
  t.equal(created.active, true);
  for (const socket of sockets) {
    const frame = await socket.next('announcement');
    t.equal(frame.data.id, created.id);
    t.equal(frame.data.title, 'Maintenance tonight');
  }
  const list = expectStatus<Page<Announcement>>(await call(h.app, 'GET', '/announcements', { token: alice.accessToken }), 200, 'list');
  t.match(list.items[0], { id: created.id, read: false });
  expectStatus(await call(h.app, 'POST', `/announcements/${created.id}/read`, { token: alice.accessToken }), 204, 'read');
  expectStatus(await call(h.app, 'POST', `/announcements/${created.id}/read`, { token: alice.accessToken }), 204, 'read again');
  const after = expectStatus<Page<Announcement>>(await call(h.app, 'GET', '/announcements', { token: alice.accessToken }), 200, 'list again');
  t.match(after.items.find((a) => a.id === created.id), { read: true });
  const bobs = expectStatus<Page<Announcement>>(await call(h.app, 'GET', '/announcements', { token: bob.accessToken }), 200, 'bob');
  t.match(bobs.items.find((a) => a.id === created.id), { read: false }, 'the flag is per user');
  const staffView = expectStatus<Page<AdminAnnouncement>>(await call(h.app, 'GET', '/admin/announcements', { token: admin.accessToken }), 200, 'admin list');
  t.match(staffView.items.find((a) => a.id === created.id), { readCount: 1 }, 'a repeated read counts once');
});

t.test('a scheduled announcement reaches the sockets once it starts, once', async (t) => {
  const user = await h.user();
  const { client } = await open(t, await socketBase(t, h.app), user);
  const scheduled = await publish({ title: 'Soon', body: 'b', startsAt: new Date(Date.now() + 1500).toISOString() });
  t.equal(scheduled.active, false);
  await new Promise((resolve) => setTimeout(resolve, 500));
  t.equal(client.frames.filter((f) => f.type === 'announcement' && f.data.id === scheduled.id).length, 0, 'not before it starts');
  const frame = await client.next('announcement', 8000);
  t.equal(frame.data.id, scheduled.id);
  await new Promise((resolve) => setTimeout(resolve, 2500));
  t.equal(client.frames.filter((f) => f.type === 'announcement' && f.data.id === scheduled.id).length, 1, 'later sweeps do not repeat it');
});

t.test('scheduled, expired and withdrawn ones are not listed; edits show; newest first, paged', async (t) => {
  const user = await h.user();
  const future = await publish({ title: 'Later', body: 'b', startsAt: new Date(Date.now() + 3_600_000).toISOString() });
  t.equal(future.active, false);
  const older = await publish({ title: 'Older', body: 'b', startsAt: new Date(Date.now() - 60_000).toISOString() });
  const newer = await publish({ title: 'Newer', body: 'b' });
  const ids = async () => {
    const all: string[] = [];
    let cursor: string | null = null;
    do {
      const page: Page<Announcement> = expectStatus(await call(h.app, 'GET', `/announcements?limit=1${cursor ? `&cursor=${cursor}` : ''}`, { token: user.accessToken }), 200, 'page');
      all.push(...page.items.map((a) => a.id));
      cursor = page.nextCursor;
    } while (cursor);
    return all;
  };
  const listed = await ids();
  t.notOk(listed.includes(future.id), 'not before it starts');
  t.ok(listed.indexOf(newer.id) < listed.indexOf(older.id), 'newest first');
  const edited = await call(h.app, 'PATCH', `/admin/announcements/${older.id}`, { token: admin.accessToken, payload: { title: 'Older, edited', endsAt: new Date(Date.now() - 1000).toISOString() } });
  t.equal(edited.statusCode, 200);
  t.notOk((await ids()).includes(older.id), 'gone once it ended');
  expectStatus(await call(h.app, 'DELETE', `/admin/announcements/${newer.id}`, { token: admin.accessToken }), 204, 'withdraw');
  t.notOk((await ids()).includes(newer.id), 'gone once withdrawn');
  const read = await call(h.app, 'POST', `/announcements/${newer.id}/read`, { token: user.accessToken });
  t.equal(problemOf(t, read).code, 'NOT_FOUND', 'a withdrawn one cannot be read');
  const withdrawn = expectStatus<Page<AdminAnnouncement>>(await call(h.app, 'GET', '/admin/announcements?state=withdrawn', { token: admin.accessToken }), 200, 'withdrawn');
  t.ok(withdrawn.items.some((a) => a.id === newer.id && a.withdrawnAt !== null));
  const audit = expectStatus<Page<{ action: string }>>(await call(h.app, 'GET', `/admin/audit?targetId=${newer.id}`, { token: admin.accessToken }), 200, 'audit');
  t.same(audit.items.map((e) => e.action), ['announcement.withdrawn', 'announcement.created']);
});

t.test('bad input, and only admins publish', async (t) => {
  const window = await call(h.app, 'POST', '/admin/announcements', { token: admin.accessToken, payload: { title: 't', body: 'b', startsAt: '2030-01-02T00:00:00Z', endsAt: '2030-01-01T00:00:00Z' } });
  t.equal(problemOf(t, window).code, 'VALIDATION_FAILED');
  const missing = await call(h.app, 'POST', '/admin/announcements', { token: admin.accessToken, payload: { title: 't' } });
  t.equal(problemOf(t, missing).code, 'VALIDATION_FAILED');
  const user = await h.user();
  const support = await grantRole(h.app, admin, await h.user(), 'support');
  for (const who of [user, support]) {
    const refused = await call(h.app, 'POST', '/admin/announcements', { token: who.accessToken, payload: { title: 't', body: 'b' } });
    t.equal(refused.statusCode, 403, `${who.user.role} cannot publish`);
    t.equal(problemOf(t, refused).code, 'FORBIDDEN');
  }
});
