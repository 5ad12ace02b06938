import argon2 from 'argon2';
import { AppError } from '../../errors.js';
import { commonPasswords } from './common-passwords.js';

export const PASSWORD_MIN_LENGTH = 8;
export const PASSWORD_MAX_LENGTH = 128;

export interface PasswordHasher {
  hash(password: string): Promise<string>;
  verify(hash: string, password: string): Promise<boolean>;
  /** True when the stored hash used other (older) parameters than the current ones. */
  needsRehash(hash: string): boolean;
  /** Spends the time of a verification without an account, so unknown identifiers answer as slowly. */
  verifyNothing(password: string): Promise<void>;
}

/** argon2id at or above OWASP's floor (m=19456 KiB, t=2, p=1). */
export async function createPasswordHasher(params: { memoryCost: number; timeCost: number }): Promise<PasswordHasher> {
  const options = { type: argon2.argon2id, memoryCost: params.memoryCost, timeCost: params.timeCost, parallelism: 1 } as const;
  const dummyHash = await argon2.hash('not-a-real-password', options);
  return {
    hash: (password) => argon2.hash(password, options),
    verify: async (hash, password) => {
      try {
        return await argon2.verify(hash, password);
      } catch {
        return false;
      }
    },
    needsRehash: (hash) => argon2.needsRehash(hash, options),
    verifyNothing: async (password) => {
      await argon2.verify(dummyHash, password).catch(() => false);
    },
  };
}

/** Length 8..128, not a well-known password, not the username. Throws WEAK_PASSWORD naming the rule. */
export function assertPasswordPolicy(password: string, context: { username?: string } = {}): void {
  const length = [...password].length;
  if (length < PASSWORD_MIN_LENGTH || length > PASSWORD_MAX_LENGTH) {
    throw new AppError('WEAK_PASSWORD', `Use ${PASSWORD_MIN_LENGTH} to ${PASSWORD_MAX_LENGTH} characters`, { rule: 'length' });
  }
  const lowered = password.toLowerCase();
  if (commonPasswords.has(lowered)) throw new AppError('WEAK_PASSWORD', 'This password is too common', { rule: 'common' });
  if (context.username && lowered === context.username.toLowerCase()) {
    throw new AppError('WEAK_PASSWORD', 'The password must differ from the username', { rule: 'username' });
  }
}
