import { eq } from 'drizzle-orm';
import t from 'tap';
import { loadConfig } from '../../../src/config.js';
import { media as mediaTable, messageReactions, sessions } from '../../../src/db/schema.js';
import { ObjectNotFoundError } from '../../../src/providers/storage/object-storage.js';
import { createStorage } from '../../../src/providers/providers.js';
import { type Account, call, expectStatus, registerAndVerify, signIn } from '../../support/accounts.js';
import { buildAuthApp } from '../../support/auth-app.js';
import { type MessageBody, type PublicUserBody, createGroup, directChat, eventually, history, listMembers, recordEvents, sendText } from '../../support/chat.js';
import { userRow } from '../../support/db.js';
import { DRIVERS, fetchMedia, png, storageEnv, upload } from '../../support/media.js';
import { createAdmin, grantRole } from '../../support/staff.js';
import { socketBase } from '../../support/ws-client.js';
import { expectProblem } from '../messages/fixtures.js';
import { open } from '../realtime/gateway-helpers.js';

/*
 * Account deletion, by the owner (password or a fresh code) and by an admin, on both storage drivers:
 * sessions and sockets end at once, the row becomes a "Deleted account" tombstone with nothing
 * personal on it, messages stay in other people's chats, groups are left, reactions and statuses go,
 * and every uploaded file is removed from storage.
 */

for (const driver of DRIVERS) {
  t.test(`${driver} storage`, async (t) => {
    const env = { AUTH_LOGIN_OTP: 'false', ...(await storageEnv(t, driver)) };
    const h = await buildAuthApp(t, { env });
    const { app } = h;
    const user = () => registerAndVerify(app, h.mailbox);
    const probe = await createStorage(loadConfig({ ...h.backend.env, ...env }));
    t.teardown(() => probe.close());
    const stored = async (key: string) =>
      probe.read(key).then(
        (stream) => (stream.destroy(), true),
        (error: unknown) => {
          if (error instanceof ObjectNotFoundError) return false;
          throw error;
        },
      );

    t.test('the owner deletes their account with their password: everything personal goes, the history of others stays', async (t) => {
      const [alice, bob, carol] = [await user(), await user(), await user()];
      const laptop = { ...alice, ...(await signIn(app, h.mailbox, alice, 'laptop')) } as Account;
      const chat = await directChat(app, alice, bob);
      const said = await sendText(app, alice, chat.id, 'hello Bob');
      const fromBob = await sendText(app, bob, chat.id, 'hi Alice');
      expectStatus(await call(app, 'PUT', `/message/${fromBob.id}/reactions/${encodeURIComponent('👍')}`, { token: alice.accessToken }), 200, 'react');
      const photo = await upload(app, alice, await png(40, 30), 'me.png');
      const withPhoto = expectStatus<MessageBody>(
        await call(app, 'POST', '/message', { token: alice.accessToken, payload: { conversationId: chat.id, clientId: 'photo-1', type: 'image', attachments: [photo.id] } }),
        201,
        'send photo',
      );
      const avatar = await upload(app, alice, await png(16, 16), 'avatar.png');
      expectStatus(await call(app, 'PATCH', '/users/me', { token: alice.accessToken, payload: { avatarMediaId: avatar.id } }), 200, 'avatar');
      expectStatus(await call(app, 'POST', '/status', { token: alice.accessToken, payload: { type: 'text', body: 'at the beach' } }), 201, 'status');
      const group = await createGroup(app, alice, [bob, carol]);
      const keys = (await app.db.select().from(mediaTable).where(eq(mediaTable.ownerId, alice.user.id))).flatMap((m) => [m.storageKey, ...(m.thumbnailKey ? [m.thumbnailKey] : [])]);
      t.equal(keys.length, 4, 'two images and their thumbnails are stored');
      for (const key of keys) t.ok(await stored(key), `${key} is stored before`);

      const base = await socketBase(t, app);
      const sockets = [(await open(t, base, alice)).client, (await open(t, base, laptop)).client];
      const bobSocket = (await open(t, base, bob)).client;
      const groupEvents = await recordEvents(t, app, `conversation:${group.id}`);
      const chatEvents = await recordEvents(t, app, `conversation:${chat.id}`);

      const wrong = await call(app, 'DELETE', '/users/me', { token: alice.accessToken, payload: { password: 'not-my-password' } });
      expectProblem(t, wrong, 400, 'CURRENT_PASSWORD_INCORRECT', 'a wrong password');
      expectProblem(t, await call(app, 'DELETE', '/users/me', { token: alice.accessToken }), 400, 'VALIDATION_FAILED', 'no proof at all');
      t.equal((await userRow(app, alice.user.id))?.status, 'active', 'nothing happened');

      expectStatus(await call(app, 'DELETE', '/users/me', { token: alice.accessToken, payload: { password: alice.password } }), 204, 'delete');

      for (const socket of sockets) t.equal((await socket.closed()).code, 4401, 'every socket of the account closes at once');
      expectProblem(t, await call(app, 'GET', '/users/me', { token: laptop.accessToken }), 401, 'UNAUTHORIZED', 'the other device is signed out too');
      t.equal((await call(app, 'POST', '/auth/refresh', { payload: { refreshToken: alice.refreshToken } })).statusCode, 401, 'no refresh');
      expectProblem(t, await call(app, 'POST', '/auth/login', { payload: { identifier: alice.username, password: alice.password } }), 401, 'INVALID_CREDENTIALS', 'no sign-in');
      t.equal((await app.db.select().from(sessions).where(eq(sessions.userId, alice.user.id))).length, 0, 'no session rows are left');

      const row = (await userRow(app, alice.user.id))!;
      t.match(row, { status: 'deleted', displayName: 'Deleted account', email: null, phone: null, emailVerifiedAt: null, about: null, avatarUrl: null });
      t.not(row.username, alice.username, 'the username is released');
      t.ok(row.deletedAt, 'deletedAt is set');
      const profile = expectStatus<PublicUserBody>(await call(app, 'GET', `/users/${alice.user.id}`, { token: bob.accessToken }), 200, 'profile');
      t.match(profile, { id: alice.user.id, displayName: 'Deleted account', about: null, avatarUrl: null }, 'others see a "Deleted account"');

      const bobsHistory = (await history(app, bob, chat.id)).items;
      t.match(
        bobsHistory.find((m) => m.id === said.id),
        { senderId: alice.user.id, body: 'hello Bob', deletedAt: null },
        'her messages stay in Bob’s chat, from the tombstone',
      );
      t.same(bobsHistory.find((m) => m.id === withPhoto.id)?.attachments, [], 'without the files she uploaded');
      t.same(bobsHistory.find((m) => m.id === fromBob.id)?.reactions, [], 'her reaction is gone');
      t.equal((await app.db.select().from(messageReactions).where(eq(messageReactions.userId, alice.user.id))).length, 0);
      await eventually(() => chatEvents.some((e) => e.type === 'reaction.updated' && e.data.action === 'removed'));
      t.equal((await conversationPeer(bob, chat.id))?.displayName, 'Deleted account', 'Bob’s chat shows a deleted account');
      expectProblem(t, await call(app, 'POST', '/message', { token: bob.accessToken, payload: { conversationId: chat.id, clientId: `to-deleted-${chat.id}`, type: 'text', body: 'still there?' } }), 403, 'USER_BLOCKED', 'nobody receives in it any more');

      const members = await listMembers(app, bob, group.id);
      t.same(members.map((m) => m.user.id).sort(), [bob.user.id, carol.user.id].sort(), 'she left the group');
      t.equal(members.filter((m) => m.role === 'owner').length, 1, 'which has a new owner');
      await eventually(() => groupEvents.some((e) => e.type === 'member.left' && e.data.userId === alice.user.id));
      t.ok(bobSocket.frames.length > 0, 'Bob stays connected');

      t.same(expectStatus<{ items: unknown[] }>(await call(app, 'GET', '/status', { token: bob.accessToken }), 200, 'feed').items, [], 'her status is gone');
      t.equal((await app.db.select().from(mediaTable).where(eq(mediaTable.ownerId, alice.user.id))).length, 0, 'no media rows');
      for (const key of keys) t.notOk(await stored(key), `${key} is removed from ${driver} storage`);
      t.equal((await fetchMedia(app, `/media/${photo.id}`, { token: bob.accessToken })).statusCode, 404, 'the photo is gone for Bob');

      const again = await registerAndVerify(app, h.mailbox, { username: alice.username, ...(alice.email ? { email: alice.email } : {}) });
      t.not(again.user.id, alice.user.id, 'her username and email can be used for a new account');
    });

    t.test('with a code instead of the password; a wrong or foreign code does not delete', async (t) => {
      const [dana, eve] = [await user(), await user()];
      const { challenge } = expectStatus<{ challenge: { challengeId: string; destination: string } }>(
        await call(app, 'POST', '/users/me/deletion-code', { token: dana.accessToken }),
        202,
        'code',
      );
      const code = await h.mailbox.codeFor(dana.email!);
      const wrongCode = code === '000000' ? '111111' : '000000';
      expectProblem(t, await call(app, 'DELETE', '/users/me', { token: dana.accessToken, payload: { challengeId: challenge.challengeId, code: wrongCode } }), 400, 'OTP_INVALID', 'a wrong code');
      expectProblem(t, await call(app, 'DELETE', '/users/me', { token: eve.accessToken, payload: { challengeId: challenge.challengeId, code } }), 400, 'OTP_INVALID', 'someone else’s code');
      t.equal((await userRow(app, eve.user.id))?.status, 'active');
      expectStatus(await call(app, 'DELETE', '/users/me', { token: dana.accessToken, payload: { challengeId: challenge.challengeId, code } }), 204, 'delete');
      t.equal((await userRow(app, dana.user.id))?.status, 'deleted');
    });

    t.test('admins delete accounts (audited); nobody else may, and not their own or another admin’s', async (t) => {
      const admin = await createAdmin(app);
      const [frank, grace] = [await user(), await user()];
      const agent = await grantRole(app, admin, await user(), 'support');
      expectProblem(t, await call(app, 'DELETE', `/admin/users/${frank.user.id}`), 401, 'UNAUTHORIZED', 'no token');
      expectProblem(t, await call(app, 'DELETE', `/admin/users/${frank.user.id}`, { token: grace.accessToken }), 403, 'FORBIDDEN', 'a user');
      expectProblem(t, await call(app, 'DELETE', `/admin/users/${frank.user.id}`, { token: agent.accessToken }), 403, 'FORBIDDEN', 'support staff');
      expectProblem(t, await call(app, 'DELETE', '/admin/users/0192f0c1-7a00-7000-8000-0000000000aa', { token: admin.accessToken }), 404, 'USER_NOT_FOUND', 'an unknown id');
      expectProblem(t, await call(app, 'DELETE', `/admin/users/${admin.user.id}`, { token: admin.accessToken }), 403, 'FORBIDDEN', 'yourself');
      const other = await createAdmin(app);
      expectProblem(t, await call(app, 'DELETE', `/admin/users/${other.user.id}`, { token: admin.accessToken }), 403, 'FORBIDDEN', 'another admin');
      expectProblem(t, await call(app, 'DELETE', '/users/me', { token: admin.accessToken, payload: { password: admin.password } }), 403, 'FORBIDDEN', 'an admin deleting their own account');

      expectStatus(await call(app, 'DELETE', `/admin/users/${frank.user.id}`, { token: admin.accessToken }), 204, 'admin deletes');
      t.equal((await userRow(app, frank.user.id))?.status, 'deleted');
      expectProblem(t, await call(app, 'GET', '/users/me', { token: frank.accessToken }), 401, 'UNAUTHORIZED', 'the deleted user is signed out');
      const audit = expectStatus<{ items: Array<{ action: string; actorId: string; details: unknown }> }>(
        await call(app, 'GET', `/admin/audit?targetId=${frank.user.id}`, { token: admin.accessToken }),
        200,
        'audit',
      );
      t.match(audit.items, [{ action: 'user.deleted', actorId: admin.user.id, details: null }], 'audited, without personal data');
      expectStatus(await call(app, 'DELETE', `/admin/users/${frank.user.id}`, { token: admin.accessToken }), 204, 'again: finishes, still 204');
    });

    async function conversationPeer(reader: Account, conversationId: string): Promise<PublicUserBody | null> {
      return expectStatus<{ peer: PublicUserBody | null }>(await call(app, 'GET', `/chat/${conversationId}`, { token: reader.accessToken }), 200, 'conversation').peer;
    }
  });
}
