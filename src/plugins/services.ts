import fp from 'fastify-plugin';
import type { Config } from '../config.js';
import { AppError } from '../errors.js';
import { type AuthService, createAuthService } from '../modules/auth/auth.service.js';
import { createOtpRepository } from '../modules/auth/otp.repository.js';
import { createOtpService } from '../modules/auth/otp.service.js';
import { createPasswordHasher } from '../modules/auth/password.js';
import { createSessionRepository } from '../modules/auth/session.repository.js';
import { createUserRepository } from '../modules/users/user.repository.js';
import { type UsersService, createUsersService } from '../modules/users/users.service.js';
import type { MailSender } from '../providers/mail/mail-sender.js';
import type { SmsSender } from '../providers/sms/sms-sender.js';
import { bearerToken } from './auth.js';

export interface Services {
  auth: AuthService;
  users: UsersService;
}

declare module 'fastify' {
  interface FastifyInstance {
    services: Services;
  }
}

/**
 * Builds repositories and services once per app and exposes them as `app.services`: the one service
 * layer that REST routes and socket frames both call.
 */
export const servicesPlugin = fp<{ config: Config; sms: SmsSender; mail: MailSender; ownsMail: boolean }>(
  async (app, { config, sms, mail, ownsMail }) => {
    const passwords = await createPasswordHasher(config.auth.argon2);
    const userRepository = createUserRepository(app.db);
    const sessionRepository = createSessionRepository(app.db);
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
      config: { ...config.auth, otpTtlSeconds: config.otp.ttlSeconds },
    });
    const users = createUsersService({ users: userRepository, sessions: sessionRepository, otp, passwords });
    app.decorate('services', { auth, users });

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
  },
  { name: 'services', dependencies: ['infrastructure', 'auth'] },
);
