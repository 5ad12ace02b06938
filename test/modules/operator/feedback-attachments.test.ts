import t from 'tap';
import { type Account, call, expectStatus } from '../../support/accounts.js';
import { buildChatApp } from '../../support/chat.js';
import { fetchMedia, png, storageEnv, upload } from '../../support/media.js';
import { createAdmin, grantRole } from '../../support/staff.js';
import { expectProblem } from '../messages/fixtures.js';

/*
 * Feedback tickets with attachments: the author's own uploads (any kind), shown on the ticket to the
 * author and to staff, readable at GET /media/:id by the author and staff only.
 */

const h = await buildChatApp(t, await storageEnv(t, 'disk'));
const { app } = h;
const admin = await createAdmin(app);
const agent = await grantRole(app, admin, await h.user('Agent with attachments'), 'support');

interface Ticket {
  id: string;
  attachments: Array<{ id: string; kind: string; mime: string }>;
}

const fileTicket = (user: Account, attachments: string[]) =>
  call(app, 'POST', '/feedback', { token: user.accessToken, payload: { category: 'bug', subject: 'Broken screen', body: 'See the screenshot.', attachments } });

t.test('a ticket carries the author’s uploads; the author and staff read them, nobody else', async (t) => {
  const [author, stranger] = [await h.user(), await h.user()];
  const screenshot = await upload(app, author, await png(), 'screen.png');
  const ticket = expectStatus<Ticket>(await fileTicket(author, [screenshot.id]), 201, 'file with an attachment');
  t.strictSame(ticket.attachments.map((a) => [a.id, a.kind, a.mime]), [[screenshot.id, 'image', 'image/png']], 'the ticket lists the attachment');

  const own = expectStatus<{ items: Ticket[] }>(await call(app, 'GET', '/feedback', { token: author.accessToken }), 200, 'own list');
  t.strictSame(own.items[0]?.attachments.map((a) => a.id), [screenshot.id], 'the author’s list shows it');
  const staffView = expectStatus<Ticket>(await call(app, 'GET', `/admin/feedback/${ticket.id}`, { token: agent.accessToken }), 200, 'staff view');
  t.strictSame(staffView.attachments.map((a) => a.id), [screenshot.id], 'staff see it on the ticket');

  for (const [who, reader, status] of [['the author', author, 200], ['support staff', agent, 200], ['an admin', admin, 200], ['another user', stranger, 404]] as const) {
    const response = await fetchMedia(app, `/media/${screenshot.id}`, { token: reader.accessToken });
    t.equal(response.statusCode, status, `${who}: GET /media/:id answers ${status}`);
  }
});

t.test('attachments must be the author’s own uploads, each once, at most 10', async (t) => {
  const [author, other] = [await h.user(), await h.user()];
  const theirs = await upload(app, other, await png(), 'theirs.png');
  expectProblem(t, await fileTicket(author, [theirs.id]), 404, 'MEDIA_NOT_FOUND', 'someone else’s media');
  const mine = await upload(app, author, await png(), 'mine.png');
  expectProblem(t, await fileTicket(author, [mine.id, mine.id]), 400, 'INVALID_ATTACHMENTS', 'the same media twice');
  const tooMany = Array.from({ length: 11 }, () => mine.id);
  t.equal((await fileTicket(author, tooMany)).statusCode, 400, 'eleven ids: 400');
  const list = expectStatus<{ items: Ticket[] }>(await call(app, 'GET', '/feedback', { token: author.accessToken }), 200, 'own list');
  t.equal(list.items.length, 0, 'no ticket was filed by the refused requests');
  const fetched = await fetchMedia(app, `/media/${theirs.id}`, { token: admin.accessToken });
  t.equal(fetched.statusCode, 404, 'staff do not read media that is on no ticket');
});
