import type { Config } from '../../config.js';
import type { Database } from '../../db/client.js';
import { AppError } from '../../errors.js';
import { hmac, randomDigits, safeEqual } from '../../lib/crypto.js';
import { newId } from '../../lib/ids.js';
import type { MailSender } from '../../providers/mail/mail-sender.js';
import { type OtpPurpose, otpMail, otpSms } from '../../providers/mail/templates.js';
import type { SmsSender } from '../../providers/sms/sms-sender.js';
import { type Channel, maskDestination } from './contacts.js';
import type { OtpChallengeRow, OtpRepository } from './otp.repository.js';

export type { OtpPurpose };

/** What clients see of a challenge: never the code, and the destination masked. */
export interface ChallengeView {
  challengeId: string;
  channel: Channel;
  destination: string;
  expiresAt: string;
}

export interface IssueInput {
  /** null: a decoy for an unknown contact. It is stored and rate-counted like any other, never sent, never verifies. */
  userId: string | null;
  purpose: OtpPurpose;
  channel: Channel;
  destination: string;
  ip: string | null;
  payload?: Record<string, unknown>;
}

const HOUR_MS = 3_600_000;

/**
 * Purposes whose caller must not learn whether an account exists (passwordless sign-in, password
 * reset): their codes are sent in the background, so known and unknown contacts answer alike.
 */
const BACKGROUND_DELIVERY: ReadonlySet<OtpPurpose> = new Set(['passwordless', 'reset_password']);

export interface OtpServiceDeps {
  otps: OtpRepository;
  sms: SmsSender;
  mail: MailSender;
  config: Pick<Config['otp'], 'ttlSeconds' | 'maxAttempts' | 'resendIntervalSeconds' | 'maxSends' | 'destinationHourlyCap' | 'destinationGlobalHourlyCap' | 'ipHourlyCap'>;
  /** Keys the code hashes. */
  secret: string;
  log: { error: (obj: object, msg: string) => void; warn: (obj: object, msg: string) => void };
}

/**
 * One-time codes: 6 CSPRNG digits, stored as an HMAC bound to the challenge id, single use, expiring,
 * at most `maxAttempts` wrong tries, resends spaced and counted, hourly caps per destination and per
 * client address (SMS pumping).
 */
export function createOtpService({ otps, sms, mail, config, secret, log }: OtpServiceDeps) {
  const hashCode = (challengeId: string, code: string) => hmac(secret, `${challengeId}:${code}`);
  const ttlMinutes = Math.max(1, Math.round(config.ttlSeconds / 60));

  const view = (row: OtpChallengeRow): ChallengeView => ({
    challengeId: row.id,
    channel: row.channel,
    destination: maskDestination(row.channel, row.destination),
    expiresAt: row.expiresAt.toISOString(),
  });

  async function deliver(row: Pick<OtpChallengeRow, 'channel' | 'destination' | 'purpose'>, code: string): Promise<void> {
    const purpose = row.purpose as OtpPurpose;
    if (row.channel === 'sms') await sms.send(row.destination, otpSms(code, purpose, ttlMinutes));
    else await mail.send({ to: row.destination, ...otpMail(code, purpose, ttlMinutes) });
  }

  /** Sends now (errors reach the caller), in the background (errors are logged), or not at all (decoys). */
  async function dispatch(row: OtpChallengeRow, code: string): Promise<void> {
    if (row.userId === null) return;
    if (!BACKGROUND_DELIVERY.has(row.purpose as OtpPurpose)) return deliver(row, code);
    deliver(row, code).catch((error: unknown) => log.error({ err: error, challengeId: row.id }, 'background code delivery failed'));
  }

  /**
   * The hourly caps. The per-destination cap counts the codes one client address asked for, so
   * someone flooding a victim's address uses up their own budget, not the victim's; every address
   * together meets a ceiling, logged as a warning when reached (a distributed flood, or SMS pumping).
   */
  async function assertUnderCaps(destination: string, ip: string | null, channel: Channel, tx?: Database): Promise<void> {
    const since = new Date(Date.now() - HOUR_MS);
    const limited = () => new AppError('OTP_SEND_LIMIT', undefined, { retryAfter: HOUR_MS / 1000 });
    if (ip && (await otps.countSends('ip', ip, since, tx)) >= config.ipHourlyCap) throw limited();
    if ((await otps.countSendsFrom(destination, ip, since, tx)) >= config.destinationHourlyCap) throw limited();
    if ((await otps.countSends('destination', destination, since, tx)) >= config.destinationGlobalHourlyCap) {
      log.warn({ destination: maskDestination(channel, destination), cap: config.destinationGlobalHourlyCap }, 'hourly code ceiling of a destination reached');
      throw limited();
    }
  }

  return {
    /**
     * Creates a challenge and sends its code. With `tx`, every query runs in the caller's transaction,
     * so a failed send rolls back the caller's writes too.
     */
    async issue(input: IssueInput, tx?: Database): Promise<ChallengeView> {
      await assertUnderCaps(input.destination, input.ip, input.channel, tx);
      const id = newId();
      const code = randomDigits(6);
      const row = await otps.insert(
        {
          id,
          userId: input.userId,
          purpose: input.purpose,
          channel: input.channel,
          destination: input.destination,
          codeHash: hashCode(id, code),
          expiresAt: new Date(Date.now() + config.ttlSeconds * 1000),
          payload: input.payload ?? null,
          ip: input.ip,
        },
        tx,
      );
      await dispatch(row, code);
      return view(row);
    },

    /**
     * Checks a code and consumes the challenge. Every try counts; the try that reaches `maxAttempts`
     * wrong answers kills the challenge (429). Decoys and challenges of another purpose never verify.
     * `beforeConsume` runs once the code matched and may refuse (throw) without using the code up.
     */
    async verify(
      challengeId: string,
      code: string,
      purposes: readonly OtpPurpose[],
      beforeConsume?: (row: OtpChallengeRow) => Promise<void>,
    ): Promise<OtpChallengeRow> {
      const row = await otps.recordAttempt(challengeId);
      if (!row) throw new AppError('OTP_INVALID');
      if (row.attempts > config.maxAttempts) throw new AppError('OTP_ATTEMPTS_EXCEEDED');
      if (row.expiresAt.getTime() <= Date.now()) throw new AppError('OTP_EXPIRED');
      const matches = row.userId !== null && purposes.includes(row.purpose as OtpPurpose) && safeEqual(row.codeHash, hashCode(row.id, code));
      if (!matches) {
        if (row.attempts >= config.maxAttempts) throw new AppError('OTP_ATTEMPTS_EXCEEDED');
        throw new AppError('OTP_INVALID', undefined, { attemptsRemaining: config.maxAttempts - row.attempts });
      }
      await beforeConsume?.(row);
      if (!(await otps.consume(row.id))) throw new AppError('OTP_INVALID');
      return row;
    },

    /** Sends a fresh code for a live challenge, at most `maxSends` times and `resendIntervalSeconds` apart. */
    async resend(challengeId: string, ip: string | null): Promise<ChallengeView> {
      const row = await otps.findById(challengeId);
      if (!row || row.consumedAt) throw new AppError('OTP_INVALID');
      if (row.attempts >= config.maxAttempts) throw new AppError('OTP_ATTEMPTS_EXCEEDED');
      if (row.sendCount >= config.maxSends) throw new AppError('OTP_SEND_LIMIT', 'This code was sent too often; start over', { retryAfter: HOUR_MS / 1000 });
      const waitMs = row.lastSentAt.getTime() + config.resendIntervalSeconds * 1000 - Date.now();
      if (waitMs > 0) throw new AppError('OTP_RESEND_TOO_SOON', undefined, { retryAfter: Math.ceil(waitMs / 1000) });
      await assertUnderCaps(row.destination, ip, row.channel);
      const code = randomDigits(6);
      const updated = await otps.replaceCode(row.id, hashCode(row.id, code), new Date(Date.now() + config.ttlSeconds * 1000));
      if (!updated) throw new AppError('OTP_INVALID');
      await dispatch(updated, code);
      return view(updated);
    },
  };
}

export type OtpService = ReturnType<typeof createOtpService>;
