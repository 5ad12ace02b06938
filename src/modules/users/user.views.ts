import type { UserRow } from './user.repository.js';

/** What anyone else may see: never contact details. */
export function toPublicUser(user: UserRow) {
  return {
    id: user.id,
    username: user.username,
    displayName: user.displayName,
    about: user.about,
    avatarUrl: user.avatarUrl,
  };
}

/** The account as its owner sees it (contacts included). */
export function toPrivateUser(user: UserRow) {
  return {
    ...toPublicUser(user),
    email: user.email,
    emailVerified: user.emailVerifiedAt != null,
    phone: user.phone,
    phoneVerified: user.phoneVerifiedAt != null,
    role: user.role,
    hideLastSeen: user.hideLastSeen,
    createdAt: user.createdAt.toISOString(),
  };
}

export type PrivateUser = ReturnType<typeof toPrivateUser>;
export type PublicUser = ReturnType<typeof toPublicUser>;

/** The NotificationSettings resource: dndUntil only while it lasts. */
export function toNotificationSettings(user: Pick<UserRow, 'dndUntil' | 'pushPreview'>) {
  return { dndUntil: user.dndUntil && user.dndUntil > new Date() ? user.dndUntil.toISOString() : null, preview: user.pushPreview };
}
