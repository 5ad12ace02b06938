import { Type } from 'typebox';
import { AvatarMediaId } from './media.js';
import { HttpsUrl, Id, Nullable, PageQuery, Text, Timestamp } from './common.js';
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from '../modules/auth/password.js';

/** Wire schemas of /auth and /users: request bodies, and responses (which also filter what is sent). */

/** Request bodies refuse unknown fields (400 naming them), like every other route's. */
const strict = { additionalProperties: false } as const;

export const Username = Type.String({ minLength: 3, maxLength: 32, pattern: '^[A-Za-z0-9_.]+$', examples: ['alice_01'] });
export const Password = Text({ minLength: PASSWORD_MIN_LENGTH, maxLength: PASSWORD_MAX_LENGTH, examples: ['correct horse battery'] });
export const Email = Type.String({ format: 'email', maxLength: 254, examples: ['alice@example.com'] });
export const Phone = Text({ minLength: 1, maxLength: 32, description: 'E.164, e.g. +14155550123 (any country).', examples: ['+14155550123'] });
const DisplayName = Text({ minLength: 1, maxLength: 64 });
export const Code = Type.String({ pattern: '^[0-9]{6}$', examples: ['123456'] });
export const DeviceName = Text({ maxLength: 100, description: 'Shown in the session list.', examples: ['Pixel 8'] });

const publicUserFields = {
  id: Id,
  username: Type.String(),
  displayName: Type.String(),
  about: Type.Union([Type.String(), Type.Null()]),
  avatarUrl: Type.Union([Type.String(), Type.Null()]),
};

export const PublicUser = Type.Object(publicUserFields, {
  $id: 'PublicUser',
  description: 'Another user as anyone may see them: no contact details.',
});

/** The public profile plus what only its owner sees (mirrors toPrivateUser). */
export const PrivateUser = Type.Object(
  {
    ...publicUserFields,
    email: Type.Union([Type.String(), Type.Null()]),
    emailVerified: Type.Boolean(),
    phone: Type.Union([Type.String(), Type.Null()]),
    phoneVerified: Type.Boolean(),
    role: Type.Enum(['user', 'support', 'admin']),
    hideLastSeen: Type.Boolean({ description: 'Others see whether you are online, never when you were last seen.' }),
    createdAt: Timestamp,
  },
  { $id: 'PrivateUser', description: 'Your own account, contacts included.' },
);

export const Challenge = Type.Object(
  {
    challengeId: Id,
    channel: Type.Enum(['sms', 'email']),
    destination: Type.String({ description: 'Masked, e.g. a***@example.com or +14*******0123.' }),
    expiresAt: Timestamp,
  },
  { $id: 'Challenge', description: 'A one-time code was sent; answer with POST /auth/verify-otp (or the route that asked for it).' },
);

export const ChallengeResponse = Type.Object({ challenge: Type.Ref('Challenge') });

export const TokenPair = Type.Object(
  {
    accessToken: Type.String({ description: 'JWT, send as Authorization: Bearer.' }),
    refreshToken: Type.String({ description: 'Opaque, single use: POST /auth/refresh returns a new one.' }),
    tokenType: Type.Literal('Bearer'),
    expiresIn: Type.Integer({ description: 'Access token lifetime in seconds.' }),
    user: Type.Ref('PrivateUser'),
  },
  { $id: 'TokenPair' },
);

export const RegisterBody = Type.Object({
  username: Username,
  password: Password,
  email: Type.Optional(Email),
  phone: Type.Optional(Phone),
  displayName: Type.Optional(DisplayName),
}, strict);

export const LoginBody = Type.Object({
  identifier: Text({ minLength: 1, maxLength: 254, description: 'Username, email or phone (E.164).', examples: ['alice_01'] }),
  password: Text({ minLength: 1, maxLength: PASSWORD_MAX_LENGTH }),
  deviceName: Type.Optional(DeviceName),
}, strict);

export const LoginResponse = Type.Union([
  Type.Object({ otpRequired: Type.Literal(true), challenge: Type.Ref('Challenge') }),
  Type.Ref('TokenPair'),
]);

export const OtpRequestBody = Type.Union([Type.Object({ phone: Phone }, strict), Type.Object({ email: Email }, strict)]);
export const VerifyOtpBody = Type.Object({ challengeId: Id, code: Code, deviceName: Type.Optional(DeviceName) }, strict);
export const ChallengeIdBody = Type.Object({ challengeId: Id }, strict);
export const IdentifierBody = Type.Object({ identifier: Text({ minLength: 1, maxLength: 254 }) }, strict);
export const ResetPasswordBody = Type.Object({ challengeId: Id, code: Code, newPassword: Password }, strict);
export const RefreshBody = Type.Object({ refreshToken: Text({ minLength: 1, maxLength: 200 }) }, strict);

export const SessionView = Type.Object({
  id: Id,
  deviceName: Type.Union([Type.String(), Type.Null()]),
  userAgent: Type.Union([Type.String(), Type.Null()]),
  ip: Type.Union([Type.String(), Type.Null()]),
  createdAt: Timestamp,
  lastUsedAt: Timestamp,
  expiresAt: Timestamp,
  current: Type.Boolean({ description: 'The session of the token making this request.' }),
});

export const WsTicket = Type.Object({
  ticket: Type.String({ description: 'Single use; open the socket with ?ticket=.' }),
  expiresAt: Timestamp,
});

export const ProfilePatchBody = Type.Object(
  {
    displayName: Type.Optional(DisplayName),
    about: Type.Optional(Nullable(Text({ maxLength: 500, multiline: true }))),
    avatarUrl: Type.Optional(Nullable(HttpsUrl({ maxLength: 2048 }))),
    avatarMediaId: Type.Optional(AvatarMediaId),
    hideLastSeen: Type.Optional(Type.Boolean()),
  },
  { ...strict, minProperties: 1 },
);

export const ChangePasswordBody = Type.Object({ currentPassword: Text({ minLength: 1, maxLength: PASSWORD_MAX_LENGTH }), newPassword: Password }, strict);
export const ChangeEmailBody = Type.Object({ email: Email }, strict);
export const ChangePhoneBody = Type.Object({ phone: Phone }, strict);
export const ConfirmContactBody = Type.Object({ challengeId: Id, code: Code }, strict);
export const UserIdParams = Type.Object({ id: Id });
export const SearchQuery = Type.Object({
  q: Type.Optional(Text({ maxLength: 100, description: 'Start of a username or display name, or a whole email address or phone number.' })),
  ...PageQuery.properties,
});
export const BlockEntry = Type.Object({ user: Type.Ref('PublicUser'), blockedAt: Timestamp });

export const sharedAuthSchemas = [PrivateUser, PublicUser, Challenge, TokenPair];
