import { Type } from 'typebox';
import { Id, Nullable, Timestamp } from './common.js';

/* The push-device contract (POST/GET/DELETE /push/devices, GET /push/vapid-key). */

/** Base64url of a bounded length (the pattern says it, so schema-driven generators need not guess). */
const Base64Url = (min: number, max: number, description: string) => Type.String({ pattern: `^[A-Za-z0-9_-]{${min},${max}}={0,2}$`, minLength: min, maxLength: max + 2, description });

export const PushDeviceBody = Type.Object(
  {
    platform: Type.Enum(['webpush', 'fcm', 'apns'], { description: 'Where the pushes go. fcm and apns need the operator to configure them (else 400 PUSH_PLATFORM_UNAVAILABLE).' }),
    subscription: Type.Optional(
      Type.Object(
        {
          endpoint: Type.String({ minLength: 10, maxLength: 2048, pattern: '^[\\x21-\\x7e]{10,2048}$', description: 'The push service URL (https, public addresses only).' }),
          expirationTime: Type.Optional(Nullable(Type.Integer({ minimum: 0, maximum: 9_007_199_254_740_991, description: 'When the browser says the subscription ends (ms since the epoch); not used.' }))),
          keys: Type.Object({ p256dh: Base64Url(80, 100, "The browser's P-256 public key."), auth: Base64Url(16, 32, 'The 16-byte auth secret.') }, { additionalProperties: false }),
        },
        { additionalProperties: false, description: "For webpush: the browser's PushSubscription.toJSON()." },
      ),
    ),
    token: Type.Optional(Type.String({ minLength: 1, maxLength: 4096, pattern: '^[\\x21-\\x7e]{1,4096}$', description: 'For fcm and apns: the device token.' })),
    appId: Type.Optional(Type.String({ minLength: 1, maxLength: 255, pattern: '^[A-Za-z0-9._-]{1,255}$', description: 'The app (bundle id, package name) the token belongs to.' })),
    locale: Type.Optional(Type.String({ minLength: 2, maxLength: 35, pattern: '^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8}){0,3}$', description: 'BCP 47 language tag for the texts of pushes.' })),
  },
  {
    additionalProperties: false,
    examples: [
      {
        platform: 'webpush',
        subscription: {
          endpoint: 'https://push.example.com/send/abc123',
          keys: { p256dh: 'BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM', auth: 'tBHItJI5svbpez7KI4CCXg' },
        },
      },
    ],
  },
);

export const PushDevice = Type.Object(
  {
    id: Id,
    platform: Type.Enum(['webpush', 'fcm', 'apns']),
    appId: Nullable(Type.String()),
    locale: Nullable(Type.String()),
    current: Type.Boolean({ description: 'Registered by the session making this request.' }),
    createdAt: Timestamp,
  },
  { $id: 'PushDevice', examples: [{ id: '0192f0c1-7a00-7000-8000-0000000000f1', platform: 'webpush', appId: null, locale: 'en', current: true, createdAt: '2026-12-02T10:00:00.000Z' }] },
);

export const PushDeviceList = Type.Object({ items: Type.Array(Type.Ref('PushDevice')) });

export const VapidKey = Type.Object(
  { publicKey: Type.String({ description: 'The applicationServerKey for PushManager.subscribe (base64url).' }) },
  { examples: [{ publicKey: 'BEl62iUYgUivxIkv69yViEuiBIa-Ib9-SkvMeAtA3LFgDzkrxZJjSgSnfckjBJuBkr3qBUYIHBQFLXYp5Nksh8U' }] },
);



export const NotificationSettings = Type.Object(
  {
    dndUntil: Nullable(Timestamp),
    preview: Type.Boolean({ description: 'Pushes show the sender and the text; false: only "New message". The operator\'s PUSH_PREVIEW=false overrides it.' }),
  },
  { $id: 'NotificationSettings', description: 'Your push settings, for all your devices.', examples: [{ dndUntil: '2026-11-25T07:00:00.000Z', preview: true }] },
);

export const NotificationSettingsPatch = Type.Object(
  {
    dndUntil: Type.Optional(Nullable(Timestamp)),
    preview: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false, minProperties: 1, examples: [{ dndUntil: '2026-11-25T07:00:00.000Z' }, { dndUntil: null, preview: false }] },
);

export const sharedPushSchemas = [PushDevice, NotificationSettings];
