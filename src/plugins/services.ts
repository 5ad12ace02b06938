import { getOrCreateSecret } from '../lib/app-secrets.js';
import { type PushRepository, createPushRepository } from '../modules/push/push.repository.js';
import { type PushService, createPushService } from '../modules/push/push.service.js';
import { createPushMetrics } from '../modules/push/push.metrics.js';
import { createPushSenders } from '../providers/push/push-providers.js';
import { generateVapidKeys } from '../providers/push/web-push.js';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Config } from '../config.js';
import { AppError } from '../errors.js';
import { type AuthService, createAuthService } from '../modules/auth/auth.service.js';
import { createOtpRepository } from '../modules/auth/otp.repository.js';
import { createOtpService } from '../modules/auth/otp.service.js';
import { createPasswordHasher } from '../modules/auth/password.js';
import { createSessionRepository } from '../modules/auth/session.repository.js';
import { ACCESS_CHANNEL, type AccessChange, createLiveSessions } from '../modules/auth/live-sessions.js';
import { createConversationAccess } from '../modules/conversations/conversation.access.js';
import { createConversationExtrasRepository } from '../modules/conversations/conversation-extras.repository.js';
import { createConversationPresenter } from '../modules/conversations/conversation.presenter.js';
import { createConversationRepository } from '../modules/conversations/conversation.repository.js';
import { createChangeLog } from '../modules/conversations/change-log.js';
import { createSyncRepository } from '../modules/sync/sync.repository.js';
import { type SyncService, createSyncService } from '../modules/sync/sync.service.js';
import { type ConversationsService, createConversationsService } from '../modules/conversations/conversations.service.js';
import { type MembersService, createMembersService } from '../modules/conversations/members.service.js';
import { type ReceiptsService, createReceiptsService } from '../modules/conversations/receipts.service.js';
import { createMessageBatcher } from '../modules/messages/message-batch.js';
import { createMessageRepository } from '../modules/messages/message.repository.js';
import { type MessagesService, createMessagesService } from '../modules/messages/messages.service.js';
import { type ReactionsService, createReactionsService } from '../modules/messages/reactions.service.js';
import { type ChatEvents, createChatEvents } from '../events/chat-events.js';
import { createUserRepository } from '../modules/users/user.repository.js';
import { type UsersService, createUsersService } from '../modules/users/users.service.js';
import { createUserLog } from '../modules/users/user-log.js';
import { createStreams, type Streams } from '../modules/sync/streams.js';
import { createAnnouncementRepository } from '../modules/announcements/announcement.repository.js';
import type { MailSender } from '../providers/mail/mail-sender.js';
import type { SmsSender } from '../providers/sms/sms-sender.js';
import { bearerToken } from './auth.js';
import { type OperatorServices, createOperatorServices } from './operator-services.js';
import { hmac } from '../lib/crypto.js';
import { createMediaLinks } from '../modules/media/media-links.js';
import { createMediaRepository } from '../modules/media/media.repository.js';
import { type MediaService, createMediaService } from '../modules/media/media.service.js';
import { uploadTempDir } from '../providers/storage/disk-storage.js';
import type { ObjectStorage } from '../providers/storage/object-storage.js';
import { createStatusRepository } from '../modules/status/status.repository.js';
import { type StatusService, createStatusService } from '../modules/status/status.service.js';
import { type AccountExport, createAccountExport } from '../modules/account/account-export.js';
import { createAccountRepository } from '../modules/account/account.repository.js';
import { type AccountService, createAccountService } from '../modules/account/account.service.js';

interface ChatServices {
  auth: AuthService;
  account: AccountService;
  accountExport: AccountExport;
  users: UsersService;
  conversations: ConversationsService;
  members: MembersService;
  receipts: ReceiptsService;
  messages: MessagesService;
  reactions: ReactionsService;
  media: MediaService;
  status: StatusService;
  push: PushService;
  sync: SyncService;
  /** The publisher of domain events (the socket gateway relays typing through it). */
  events: ChatEvents;
}

export type Services = ChatServices & OperatorServices;

declare module 'fastify' {
  interface FastifyInstance {
    services: Services;
  }
}

/**
 * Builds repositories and services once per app and exposes them as `app.services`: the one service
 * layer that REST routes and socket frames both call.
 */
export const servicesPlugin = fp<{ config: Config; argon2: { memoryCost: number; timeCost: number }; sms: SmsSender; mail: MailSender; ownsMail: boolean; storage: ObjectStorage; ownsStorage: boolean }>(
  async (app, { config, argon2, sms, mail, ownsMail, storage, ownsStorage }) => {
    const passwords = await createPasswordHasher(argon2);
    const userRepository = createUserRepository(app.db);
    const publishFailed = (error: unknown, channel: string) => app.log.warn({ err: error, channel }, 'event publish failed');
    const liveSessions = createLiveSessions({ bus: app.bus });
    // Not awaited: with Redis down at boot the subscription waits for it, and the app serves meanwhile (every session read from the database).
    liveSessions.start().catch((error: unknown) => app.log.warn({ err: error }, 'live-session cache not started: every session is read from the database'));
    app.addHook('onClose', async () => liveSessions.stop());
    const accessChanged = (change: AccessChange) => liveSessions.changed(change, (error) => publishFailed(error, ACCESS_CHANNEL));
    const chatEvents = createChatEvents(app.bus, publishFailed);
    // Every end of a session (revocation, ban, erasure) is announced here: it leaves every instance's live-session cache too.
    const events: ChatEvents = {
      ...chatEvents,
      sessionsRevoked(userId, sessionIds) {
        accessChanged({ userId, sessionIds });
        chatEvents.sessionsRevoked(userId, sessionIds);
      },
    };
    const sessionRepository = createSessionRepository(app.db, (revoked) => {
      const byUser = new Map<string, string[]>();
      for (const { userId, sessionId } of revoked) byUser.set(userId, [...(byUser.get(userId) ?? []), sessionId]);
      for (const [userId, sessionIds] of byUser) events.sessionsRevoked(userId, sessionIds);
    });
    const otp = createOtpService({
      otps: createOtpRepository(app.db),
      sms,
      mail,
      config: config.otp,
      secret: app.otpSecret,
      log: app.log,
    });
    const auth = createAuthService({
      db: app.db,
      users: userRepository,
      sessions: sessionRepository,
      otp,
      passwords,
      tokens: app.accessTokens,
      liveSessions,
      config: { ...config.auth, otpTtlSeconds: config.otp.ttlSeconds },
    });
    const media = createMediaService({
      media: createMediaRepository(app.db),
      storage,
      // Keyed from the same JWT-derived secret as OTP hashes, so every instance signs alike.
      links: createMediaLinks({ secret: hmac(app.otpSecret, 'media-links'), ttlSeconds: config.media.urlTtlSeconds, basePath: `${config.publicUrl ?? ''}/api/v1/media` }),
      tempDir: uploadTempDir(config.dataDir),
      config: config.media,
    });
    const userLog = createUserLog(app.db);
    const statusRepository = createStatusRepository(app.db);
    media.addReader((mediaId, viewerId) => statusRepository.showsMedia(mediaId, viewerId));
    const status = createStatusService({ db: app.db, statuses: statusRepository, userLog, media, events, config: config.status });
    const users = createUsersService({ db: app.db, users: userRepository, contacts: status, sessions: sessionRepository, otp, passwords, media });
    const streams = createStreams({ userLog, announcements: createAnnouncementRepository(app.db), statuses: status });
    // Read (or made) on first use: building the app (e.g. to print the OpenAPI document) needs no database.
    let syncKey: Promise<string> | undefined;
    const syncTokenKey = () => (syncKey ??= getOrCreateSecret(app.db, 'sync-token'));
    const pushRepository = createPushRepository(app.db);
    const { presenter, conversationRepository, messageRepository, changeLog, ...chat } = createChatServices(app, config, events, media, syncTokenKey, { streams, contacts: status, pushes: pushRepository });
    const accountRepository = createAccountRepository(app.db);
    const account = createAccountService({ accounts: accountRepository, users: userRepository, passwords, otp, events, members: chat.members, reactions: chat.reactions, status, media });
    const accountExport = createAccountExport({ accounts: accountRepository, account, links: media.links });
    const operator = createOperatorServices(app.db, {
      ...chat,
      account,
      users: userRepository,
      sessions: sessionRepository,
      conversationRepository,
      messageRepository,
      changeLog,
      media,
      userLog,
      // The gateway registers after the services; without it (no sockets) nobody is online.
      onlineUsers: () => (app.hasDecorator('onlineUsers') ? app.onlineUsers() : Promise.resolve(0)),
      accessChanged,
    });
    // Read (or made) on first use, like the sync key: the configured pair, or one generated once and kept in the database.
    let vapid: Promise<{ publicKey: string; privateKey: string }> | undefined;
    const vapidKeys = () =>
      (vapid ??= config.push.webPush.vapid
        ? Promise.resolve(config.push.webPush.vapid)
        : getOrCreateSecret(app.db, 'web-push-vapid', () => JSON.stringify(generateVapidKeys())).then((text) => JSON.parse(text) as { publicKey: string; privateKey: string }));
    const push = createPushService({
      push: pushRepository,
      senders: await createPushSenders(config, vapidKeys, app.log),
      vapidPublicKey: async () => (await vapidKeys()).publicKey,
      unreadTotals: presenter.unreadTotals,
      observe: createPushMetrics(app.metrics, () => pushRepository.outbox()).observe,
      config: { ...config.push, allowPrivateEndpoints: config.push.webPush.allowPrivate },
      log: app.log,
    });
    app.decorate('services', { auth, account, accountExport, users, media, status, push, ...chat, ...operator });

    app.decorate('authenticate', async (request) => {
      const token = bearerToken(request.headers.authorization);
      if (!token) throw new AppError('UNAUTHORIZED', 'Send "Authorization: Bearer <access token>"');
      request.actor = await auth.authenticate(token);
    });

    if (config.auth.admin) {
      const { created } = await auth.ensureAdmin(config.auth.admin);
      app.log.info({ username: config.auth.admin.username, created }, created ? 'admin account created' : 'admin account ensured');
    }
    if (ownsMail) app.addHook('onClose', () => mail.close());
    if (ownsStorage) app.addHook('onClose', () => storage.close());
  },
  { name: 'services', dependencies: ['infrastructure', 'auth'] },
);

/** Conversations and messages over their repositories, publishing domain events on the app's bus. */
function createChatServices(
  app: FastifyInstance,
  config: Config,
  events: ChatEvents,
  media: MediaService,
  syncTokenKey: () => Promise<string>,
  user: { streams: Streams; contacts: Pick<StatusService, 'contactChanged' | 'publish'>; pushes: Pick<PushRepository, 'retract'> },
) {
  const conversationRepository = createConversationRepository(app.db);
  const messageRepository = createMessageRepository(app.db);
  const changeLog = createChangeLog(app.db);
  const access = createConversationAccess(conversationRepository);
  const presenter = createConversationPresenter({ conversations: conversationRepository, messages: messageRepository, extras: createConversationExtrasRepository(app.db) });
  const chat = { maxGroupMembers: config.chat.maxGroupMembers };
  const messages = createMessagesService({
    messages: messageRepository,
    batcher: createMessageBatcher(app.database),
    conversations: conversationRepository,
    changeLog,
    access,
    events,
    media,
    contacts: user.contacts,
    pushes: user.pushes,
    config: config.chat,
  });
  return {
    presenter,
    conversationRepository,
    messageRepository,
    changeLog,
    conversations: createConversationsService({ conversations: conversationRepository, changeLog, access, presenter, events, media, contacts: user.contacts, config: chat }),
    members: createMembersService({ conversations: conversationRepository, changeLog, access, events, config: chat }),
    receipts: createReceiptsService({ conversations: conversationRepository, changeLog, access, presenter, events }),
    messages,
    reactions: createReactionsService({ messages: messageRepository, changeLog, access, visibility: messages.visibility, events }),
    sync: createSyncService({ sync: createSyncRepository(app.db), log: messages.log, streams: user.streams, conversations: conversationRepository, presenter, config: { tokenTtlMs: config.chat.syncTokenTtlMs, tokenKey: syncTokenKey } }),
    events,
  };
}
