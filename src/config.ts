import { Type, type Static } from 'typebox';
import { Value } from 'typebox/value';
import { createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';

/**
 * The only reader of process.env. Every variable the service understands is declared here, with
 * its default and a description; the README's configuration table mirrors this schema (a test keeps
 * them in step). Unset or empty variables take their default; a bad value fails at boot with an
 * error naming the variable (values of variables marked `secret` are never echoed).
 */
const Env = Type.Object({
  HOST: Type.String({ default: '127.0.0.1', description: 'Interface to listen on (the image sets 0.0.0.0).' }),
  PORT: Type.Integer({ default: 3000, minimum: 0, maximum: 65535, description: 'TCP port to listen on.' }),
  PUBLIC_URL: Type.Optional(Type.String({ pattern: '^https?://', description: 'External base URL, listed as a server in the OpenAPI document.' })),
  LOG_LEVEL: Type.Enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], { default: 'info', description: 'pino log level.' }),
  TRUST_PROXY: Type.String({ default: 'false', description: 'Fastify trustProxy: true, false, a hop count, or a comma list of proxy addresses/CIDRs.' }),
  BODY_LIMIT_BYTES: Type.Integer({ default: 1_048_576, minimum: 1024, description: 'Largest JSON request body accepted.' }),
  CORS_ORIGINS: Type.String({ default: '', description: 'Comma list of browser origins allowed by CORS and the socket origin check; empty allows none, * allows all.' }),
  RATE_LIMIT_MAX: Type.Integer({ default: 600, minimum: 1, description: 'Requests per client per window on rate-limited routes.' }),
  RATE_LIMIT_WINDOW_MS: Type.Integer({ default: 60_000, minimum: 1000, description: 'Rate-limit window in milliseconds.' }),
  DATABASE_URL: Type.Optional(Type.String({ pattern: '^postgres(ql)?://', secret: true, description: 'Postgres connection URL; unset runs embedded PGlite in DATA_DIR.' })),
  DATABASE_POOL_MAX: Type.Integer({ default: 10, minimum: 1, maximum: 200, description: 'Postgres pool size per instance.' }),
  DATA_DIR: Type.String({ default: './data', minLength: 1, description: 'Directory for embedded data (PGlite database, media on disk, uploads in progress).' }),
  MIGRATE_ON_START: Type.Boolean({ default: true, description: 'Apply pending migrations at boot.' }),
  REDIS_URL: Type.Optional(Type.String({ pattern: '^rediss?://', secret: true, description: 'Redis URL for the bus, rate limits and presence; unset uses in-process equivalents (single instance only).' })),
  REDIS_KEY_PREFIX: Type.String({ default: 'chat:', pattern: '^[A-Za-z0-9:_.-]{1,64}$', description: 'Prefix for every Redis key and pub/sub channel.' }),
  METRICS_TOKEN: Type.Optional(Type.String({ minLength: 16, secret: true, description: 'When set, GET /metrics requires "Authorization: Bearer <token>".' })),
  SHUTDOWN_TIMEOUT_MS: Type.Integer({ default: 10_000, minimum: 100, description: 'Grace period for draining on SIGTERM/SIGINT before a forced exit.' }),
  WS_MAX_PAYLOAD_BYTES: Type.Integer({ default: 65_536, minimum: 1024, description: 'Largest WebSocket frame accepted (larger closes with 1009).' }),
  WS_MAX_SOCKETS_PER_USER: Type.Integer({ default: 10, minimum: 1, maximum: 1000, description: 'Open sockets per user on one instance; more are refused with 429.' }),
  WS_RATE_LIMIT: Type.Integer({ default: 100, minimum: 1, description: 'Frames a socket may send per WS_RATE_WINDOW_SECONDS; the excess gets RATE_LIMITED errors, 3x closes with 1008.' }),
  WS_RATE_WINDOW_SECONDS: Type.Integer({ default: 10, minimum: 1, maximum: 3600, description: 'The window of WS_RATE_LIMIT.' }),
  WS_PING_INTERVAL_SECONDS: Type.Integer({ default: 25, minimum: 1, maximum: 600, description: 'Server pings; a socket that has not answered the previous ping is dropped.' }),
  WS_MAX_BUFFERED_BYTES: Type.Integer({ default: 1_048_576, minimum: 65_536, description: 'Unsent bytes a socket may queue before it is closed as a slow consumer (1013).' }),
  JWT_SECRET: Type.Optional(Type.String({ minLength: 32, secret: true, description: 'HS256 signing secret (32+ bytes), identical on every instance; unset generates one into DATA_DIR/jwt-secret.' })),
  JWT_ISSUER: Type.String({ default: 'chat-backend', minLength: 1, description: 'iss claim of access tokens.' }),
  JWT_AUDIENCE: Type.String({ default: 'chat-api', minLength: 1, description: 'aud claim of access tokens.' }),
  ACCESS_TOKEN_TTL_SECONDS: Type.Integer({ default: 900, minimum: 60, maximum: 86_400, description: 'Access token lifetime.' }),
  REFRESH_TOKEN_TTL_DAYS: Type.Integer({ default: 30, minimum: 1, maximum: 365, description: 'Absolute lifetime of a session and its refresh tokens.' }),
  AUTH_LOGIN_OTP: Type.Boolean({ default: true, description: 'Two-step login: a password login answers with an OTP challenge instead of tokens.' }),
  AUTH_RATE_LIMIT_MAX: Type.Integer({ default: 30, minimum: 1, description: 'Requests per client address per minute on each /auth route.' }),
  OTP_TTL_SECONDS: Type.Integer({ default: 300, minimum: 30, maximum: 3600, description: 'Lifetime of a one-time code.' }),
  OTP_MAX_ATTEMPTS: Type.Integer({ default: 5, minimum: 1, maximum: 20, description: 'Wrong codes allowed per challenge before it dies.' }),
  OTP_RESEND_INTERVAL_SECONDS: Type.Integer({ default: 30, minimum: 0, description: 'Minimum time between two sends of one challenge.' }),
  OTP_MAX_SENDS: Type.Integer({ default: 5, minimum: 1, maximum: 20, description: 'Sends (first + resends) per challenge.' }),
  OTP_DESTINATION_HOURLY_CAP: Type.Integer({ default: 10, minimum: 1, description: 'Codes sent to one phone number or address per hour.' }),
  OTP_IP_HOURLY_CAP: Type.Integer({ default: 30, minimum: 1, description: 'Codes requested from one client address per hour (SMS pumping guard).' }),
  OTP_DESTINATION_GLOBAL_HOURLY_CAP: Type.Integer({ default: 0, minimum: 0, description: 'Codes to one phone number or address per hour from all client addresses together; reaching it logs a warning. 0: ten times OTP_DESTINATION_HOURLY_CAP.' }),
  ARGON2_MEMORY_KIB: Type.Integer({ default: 19_456, minimum: 19_456, description: 'argon2id memory cost (OWASP floor 19456).' }),
  ARGON2_TIME_COST: Type.Integer({ default: 2, minimum: 2, description: 'argon2id iterations (OWASP floor 2).' }),
  SMS_PROVIDER: Type.Enum(['console', 'twilio'], { default: 'console', description: 'console logs texts; twilio sends them.' }),
  TWILIO_ACCOUNT_SID: Type.Optional(Type.String({ pattern: '^AC', description: 'Twilio account SID (SMS_PROVIDER=twilio).' })),
  TWILIO_AUTH_TOKEN: Type.Optional(Type.String({ minLength: 1, secret: true, description: 'Twilio auth token.' })),
  TWILIO_FROM: Type.Optional(Type.String({ minLength: 1, description: 'Sender number in E.164 (or use TWILIO_MESSAGING_SERVICE_SID).' })),
  TWILIO_MESSAGING_SERVICE_SID: Type.Optional(Type.String({ pattern: '^MG', description: 'Twilio messaging service SID, instead of TWILIO_FROM.' })),
  TWILIO_BASE_URL: Type.Optional(Type.String({ pattern: '^https?://', description: 'Send Twilio API requests to this base URL instead (compatible gateways, tests).' })),
  SMTP_URL: Type.Optional(Type.String({ pattern: '^smtps?://', secret: true, description: 'nodemailer SMTP URL; unset prints mail to the log.' })),
  MAIL_FROM: Type.String({ default: 'Chat <no-reply@localhost>', minLength: 3, description: 'From header of outgoing mail.' }),
  PROVIDER_TIMEOUT_MS: Type.Integer({ default: 10_000, minimum: 500, maximum: 60_000, description: 'Timeout for one SMS or mail send.' }),
  MAX_GROUP_MEMBERS: Type.Integer({ default: 1024, minimum: 2, maximum: 100_000, description: 'Members of a group (owner included) and recipients of a broadcast list.' }),
  MESSAGE_MAX_LENGTH: Type.Integer({ default: 4096, minimum: 1, maximum: 65_536, description: 'Characters in a message body.' }),
  SYNC_TOKEN_TTL_DAYS: Type.Integer({ default: 30, minimum: 1, maximum: 3650, description: 'How long a sync token stays valid; an older one is answered SYNC_TOKEN_EXPIRED (take a fresh snapshot).' }),
  MESSAGE_EDIT_WINDOW_SECONDS: Type.Integer({ default: 900, minimum: 0, description: 'How long a sender may edit, or delete for everyone, their message.' }),
  SWEEP_INTERVAL_SECONDS: Type.Integer({ default: 60, minimum: 1, maximum: 86_400, description: 'How often expired (disappearing) messages, expired status updates and orphan uploads are deleted and started scheduled announcements pushed.' }),
  MEDIA_ALLOWED_TYPES: Type.String({
    default: 'image/jpeg,image/png,image/gif,image/webp,video/mp4,video/webm,video/quicktime,audio/mpeg,audio/ogg,audio/opus,audio/mp4,audio/aac,audio/wav,audio/webm,application/pdf,application/zip,application/epub+zip',
    description: 'Comma list of MIME types accepted by POST /media, as detected from the magic bytes (file-type); "type/*" allows a family.',
  }),
  MEDIA_MAX_IMAGE_BYTES: Type.Integer({ default: 16 * 1_048_576, minimum: 1024, description: 'Largest image upload; larger is refused with 413 while streaming.' }),
  MEDIA_MAX_AUDIO_BYTES: Type.Integer({ default: 64 * 1_048_576, minimum: 1024, description: 'Largest audio upload.' }),
  MEDIA_MAX_VIDEO_BYTES: Type.Integer({ default: 64 * 1_048_576, minimum: 1024, description: 'Largest video upload.' }),
  MEDIA_MAX_FILE_BYTES: Type.Integer({ default: 100 * 1_048_576, minimum: 1024, description: 'Largest upload of any other allowed type (documents, archives).' }),
  MEDIA_QUOTA_BYTES: Type.Integer({ default: 1_073_741_824, minimum: 1024, description: 'Bytes of media one user may have stored; an upload past it is refused with 413 MEDIA_QUOTA_EXCEEDED.' }),
  MEDIA_URL_TTL_SECONDS: Type.Integer({ default: 3600, minimum: 10, maximum: 604_800, description: 'Lifetime of signed media URLs (?exp=&sig=) for clients that cannot send headers.' }),
  MEDIA_ORPHAN_TTL_SECONDS: Type.Integer({ default: 86_400, minimum: 60, description: 'Uploads never attached to a message, status or avatar are removed after this long.' }),
  PUSH_PREVIEW: Type.Boolean({ default: true, description: 'Pushes carry the sender and the text; false sends only "New message" (nothing of the content leaves through the push services).' }),
  PUSH_GRACE_MS: Type.Integer({ default: 3000, minimum: 0, maximum: 600_000, description: 'A recipient whose device acknowledged delivery (delivered receipt) within this long gets no push.' }),
  PUSH_POLL_MS: Type.Integer({ default: 1000, minimum: 50, maximum: 60_000, description: 'How often each instance\'s push worker looks for new messages and due pushes.' }),
  PUSH_MAX_ATTEMPTS: Type.Integer({ default: 8, minimum: 1, maximum: 50, description: 'Tries of one push (exponential backoff with jitter on 429, 5xx and timeouts) before it is dropped.' }),
  PUSH_CONCURRENCY: Type.Integer({ default: 16, minimum: 1, maximum: 256, description: 'Pushes in flight at once per platform on each instance.' }),
  PUSH_LEASE_MS: Type.Integer({ default: 60_000, minimum: 1000, maximum: 3_600_000, description: 'How long a worker holds the pushes it claimed; if its instance dies, another sends them after this (replacing, not duplicating, on the device).' }),
  PUSH_MAX_DEVICES_PER_USER: Type.Integer({ default: 20, minimum: 1, maximum: 1000, description: 'Push devices one user may register; more is 409 PUSH_DEVICE_LIMIT_REACHED.' }),
  WEB_PUSH_VAPID_PUBLIC_KEY: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_-]{80,100}$', description: 'VAPID public key (base64url, uncompressed P-256 point); unset generates a key pair once, kept in the database.' })),
  WEB_PUSH_VAPID_PRIVATE_KEY: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_-]{40,50}$', secret: true, description: 'VAPID private key (base64url); set together with WEB_PUSH_VAPID_PUBLIC_KEY.' })),
  WEB_PUSH_SUBJECT: Type.String({ default: 'mailto:operator@example.invalid', pattern: '^(mailto:|https://)', description: 'VAPID subject: how push services reach the operator (mailto: or https: URL).' }),
  FCM_SERVICE_ACCOUNT_FILE: Type.Optional(Type.String({ minLength: 1, description: 'Path to the Firebase service account key (JSON) that FCM pushes are sent with; unset turns FCM off.' })),
  FCM_BASE_URL: Type.String({ default: 'https://fcm.googleapis.com', pattern: '^https?://', description: 'FCM HTTP v1 base URL (tests and compatible gateways); the OAuth token URL is the key file\'s token_uri.' }),
  APNS_KEY_FILE: Type.Optional(Type.String({ minLength: 1, description: 'Path to the APNs token-signing key (.p8, PEM); with APNS_KEY_ID, APNS_TEAM_ID and APNS_TOPIC turns APNs on.' })),
  APNS_KEY_ID: Type.Optional(Type.String({ pattern: '^[A-Z0-9]{10}$', description: 'The .p8 key\'s id (10 characters, from the Apple developer account).' })),
  APNS_TEAM_ID: Type.Optional(Type.String({ pattern: '^[A-Z0-9]{10}$', description: 'The Apple developer team id (10 characters).' })),
  APNS_TOPIC: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9.-]{1,200}$', description: 'The app\'s bundle id (apns-topic); a device registered with an appId uses that instead.' })),
  APNS_ENVIRONMENT: Type.Enum(['production', 'sandbox'], { default: 'production', description: 'APNs host: production (api.push.apple.com) or sandbox (api.sandbox.push.apple.com, development builds).' }),
  APNS_BASE_URL: Type.Optional(Type.String({ pattern: '^https://', description: 'APNs base URL, instead of the environment\'s host (tests and compatible gateways).' })),
  PUSH_CONSOLE: Type.Boolean({ default: false, description: 'Development: FCM and APNs devices are accepted without credentials and their pushes printed to the log instead of sent.' }),
  WEB_PUSH_ALLOW_PRIVATE: Type.Boolean({ default: false, description: 'Accept Web Push endpoints on private, loopback or link-local addresses (tests); otherwise only https on public addresses (no SSRF into your network).' }),
  STATUS_TTL_SECONDS: Type.Integer({ default: 86_400, minimum: 60, maximum: 604_800, description: 'How long a status update stays visible.' }),
  STATUS_MAX_LIVE: Type.Integer({ default: 30, minimum: 1, maximum: 1000, description: 'Live (unexpired) status updates one user may have at once.' }),
  S3_BUCKET: Type.Optional(Type.String({ minLength: 3, description: 'Store media in this S3 bucket (any S3-compatible service); unset stores it on disk under DATA_DIR/media.' })),
  S3_ENDPOINT: Type.Optional(Type.String({ pattern: '^https?://', description: 'S3 endpoint URL for S3-compatible services (MinIO, R2, ...); unset uses AWS.' })),
  S3_REGION: Type.String({ default: 'us-east-1', minLength: 1, description: 'S3 region.' }),
  S3_ACCESS_KEY_ID: Type.Optional(Type.String({ minLength: 1, description: 'S3 access key; unset uses the AWS SDK default credential chain.' })),
  S3_SECRET_ACCESS_KEY: Type.Optional(Type.String({ minLength: 1, secret: true, description: 'S3 secret key (with S3_ACCESS_KEY_ID).' })),
  S3_FORCE_PATH_STYLE: Type.Boolean({ default: false, description: 'Address the bucket as a path (endpoint/bucket/key), as MinIO and most self-hosted services need.' }),
  ADMIN_USERNAME: Type.Optional(Type.String({ minLength: 3, description: 'With ADMIN_PASSWORD: creates (or promotes) this admin at boot.' })),
  ADMIN_PASSWORD: Type.Optional(Type.String({ minLength: 8, secret: true, description: 'Password for ADMIN_USERNAME when it is created.' })),
});
export type Env = Static<typeof Env>;
export const envSchema = Env;

export interface Config {
  readonly host: string;
  readonly port: number;
  readonly publicUrl: string | undefined;
  readonly logLevel: Env['LOG_LEVEL'];
  readonly trustProxy: boolean | number | string[];
  readonly bodyLimitBytes: number;
  readonly corsOrigins: readonly string[] | '*';
  readonly rateLimit: { readonly max: number; readonly windowMs: number };
  readonly database: { readonly url: string | undefined; readonly poolMax: number; readonly migrateOnStart: boolean };
  readonly dataDir: string;
  readonly redis: { readonly url: string | undefined; readonly keyPrefix: string };
  readonly metricsToken: string | undefined;
  readonly shutdownTimeoutMs: number;
  readonly ws: {
    readonly maxPayloadBytes: number;
    readonly maxSocketsPerUser: number;
    readonly rateLimit: number;
    readonly rateWindowMs: number;
    readonly pingIntervalSeconds: number;
    readonly maxBufferedBytes: number;
  };
  readonly auth: {
    readonly jwtSecret: string | undefined;
    readonly issuer: string;
    readonly audience: string;
    readonly accessTokenTtlSeconds: number;
    readonly refreshTokenTtlDays: number;
    readonly loginOtp: boolean;
    readonly rateLimitMax: number;
    readonly argon2: { readonly memoryCost: number; readonly timeCost: number };
    readonly admin: { readonly username: string; readonly password: string } | undefined;
  };
  readonly otp: {
    readonly ttlSeconds: number;
    readonly maxAttempts: number;
    readonly resendIntervalSeconds: number;
    readonly maxSends: number;
    /** Codes to one destination per hour requested from one client address. */
    readonly destinationHourlyCap: number;
    /** Codes to one destination per hour from every address together (an alert when reached). */
    readonly destinationGlobalHourlyCap: number;
    readonly ipHourlyCap: number;
  };
  readonly sms:
    | { readonly provider: 'console' }
    | {
        readonly provider: 'twilio';
        readonly accountSid: string;
        readonly authToken: string;
        readonly from: string | undefined;
        readonly messagingServiceSid: string | undefined;
        readonly baseUrl: string | undefined;
      };
  readonly mail: { readonly smtpUrl: string | undefined; readonly from: string };
  readonly providerTimeoutMs: number;
  readonly chat: {
    readonly maxGroupMembers: number;
    readonly messageMaxLength: number;
    readonly editWindowSeconds: number;
    readonly sweepIntervalSeconds: number;
    /** How long a sync token stays valid. */
    readonly syncTokenTtlMs: number;
  };
  readonly media: {
    readonly allowedTypes: readonly string[];
    readonly maxBytes: { readonly image: number; readonly audio: number; readonly video: number; readonly file: number };
    readonly quotaBytes: number;
    readonly urlTtlSeconds: number;
    readonly orphanTtlSeconds: number;
  };
  readonly status: { readonly ttlSeconds: number; readonly maxLive: number };
  readonly push: {
    readonly preview: boolean;
    readonly graceMs: number;
    readonly pollMs: number;
    readonly maxAttempts: number;
    readonly leaseMs: number;
    readonly concurrency: number;
    readonly maxDevicesPerUser: number;
    readonly webPush: { readonly vapid: { readonly publicKey: string; readonly privateKey: string } | undefined; readonly subject: string; readonly allowPrivate: boolean };
    readonly fcm: FcmConfig | undefined;
    readonly apns: ApnsConfig | undefined;
    /** FCM and APNs pushes without credentials go to the log (development). */
    readonly console: boolean;
  };
  readonly storage:
    | { readonly driver: 'disk' }
    | {
        readonly driver: 's3';
        readonly bucket: string;
        readonly endpoint: string | undefined;
        readonly region: string;
        readonly accessKeyId: string | undefined;
        readonly secretAccessKey: string | undefined;
        readonly forcePathStyle: boolean;
      };
}

/** FCM HTTP v1 through a service account (its key file). */
export interface FcmConfig {
  readonly projectId: string;
  readonly clientEmail: string;
  readonly privateKey: string;
  readonly tokenUri: string;
  readonly baseUrl: string;
}

/** APNs over HTTP/2 with token (.p8) authentication. */
export interface ApnsConfig {
  readonly key: string;
  readonly keyId: string;
  readonly teamId: string;
  readonly topic: string;
  readonly baseUrl: string;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

type RawEnv = Record<string, string | undefined>;

/** Reads and validates the environment. Throws ConfigError naming every bad variable. */
export function loadConfig(env: RawEnv = process.env): Config {
  const raw: Record<string, unknown> = {};
  for (const key of Object.keys(Env.properties)) {
    const value = env[key]?.trim();
    if (value !== undefined && value !== '') raw[key] = value;
  }
  const withDefaults = Value.Default(Env, { ...raw });
  const converted = Value.Convert(Env, withDefaults);
  const errors = Value.Errors(Env, converted);
  if (errors.length > 0) {
    const lines = errors.map((e) => {
      const name = e.instancePath.replace(/^\//, '') || 'environment';
      const allowed = e.keyword === 'enum' ? ` (${(e.params as { allowedValues: unknown[] }).allowedValues.join(', ')})` : '';
      return `${name}=${describeValue(name, raw[name])}: ${e.message}${allowed}`;
    });
    throw new ConfigError(`Invalid configuration:\n  ${[...new Set(lines)].join('\n  ')}`);
  }
  const valid = converted as Env;
  const problems = crossFieldProblems(valid);
  if (problems.length > 0) throw new ConfigError(`Invalid configuration:\n  ${problems.join('\n  ')}`);
  return toConfig(valid);
}

/** Rules that span variables; each message starts with the variable to fix. */
function crossFieldProblems(env: Env): string[] {
  const problems: string[] = [];
  if (env.SMS_PROVIDER === 'twilio') {
    if (!env.TWILIO_ACCOUNT_SID) problems.push('TWILIO_ACCOUNT_SID is required when SMS_PROVIDER=twilio');
    if (!env.TWILIO_AUTH_TOKEN) problems.push('TWILIO_AUTH_TOKEN is required when SMS_PROVIDER=twilio');
    if (!env.TWILIO_FROM && !env.TWILIO_MESSAGING_SERVICE_SID) problems.push('TWILIO_FROM or TWILIO_MESSAGING_SERVICE_SID is required when SMS_PROVIDER=twilio');
  }
  if (Boolean(env.S3_ACCESS_KEY_ID) !== Boolean(env.S3_SECRET_ACCESS_KEY)) problems.push('S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY must be set together');
  if (Boolean(env.ADMIN_USERNAME) !== Boolean(env.ADMIN_PASSWORD)) problems.push('ADMIN_USERNAME and ADMIN_PASSWORD must be set together');
  if (Boolean(env.WEB_PUSH_VAPID_PUBLIC_KEY) !== Boolean(env.WEB_PUSH_VAPID_PRIVATE_KEY)) problems.push('WEB_PUSH_VAPID_PUBLIC_KEY and WEB_PUSH_VAPID_PRIVATE_KEY must be set together');
  if (env.FCM_SERVICE_ACCOUNT_FILE) {
    const account = readKeyFile('FCM_SERVICE_ACCOUNT_FILE', env.FCM_SERVICE_ACCOUNT_FILE, problems);
    if (account !== undefined) {
      try {
        const parsed = JSON.parse(account) as Record<string, unknown>;
        for (const field of ['project_id', 'client_email', 'private_key']) if (typeof parsed[field] !== 'string' || !parsed[field]) throw new Error(`no ${field}`);
        if (createPrivateKey(parsed.private_key as string).asymmetricKeyType !== 'rsa') throw new Error('private_key is not an RSA key');
      } catch (error) {
        problems.push(`FCM_SERVICE_ACCOUNT_FILE is not a service account key (JSON with project_id, client_email, private_key): ${(error as Error).message}`);
      }
    }
  }
  if (env.APNS_KEY_FILE) {
    for (const name of ['APNS_KEY_ID', 'APNS_TEAM_ID', 'APNS_TOPIC'] as const) if (!env[name]) problems.push(`${name} is required when APNS_KEY_FILE is set`);
    const key = readKeyFile('APNS_KEY_FILE', env.APNS_KEY_FILE, problems);
    if (key !== undefined && !isP256PrivateKey(key)) problems.push('APNS_KEY_FILE is not a .p8 key (a P-256 private key, PEM "BEGIN PRIVATE KEY")');
  }
  return problems;
}

function isP256PrivateKey(pem: string): boolean {
  try {
    const key = createPrivateKey(pem);
    return key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1';
  } catch {
    return false;
  }
}

/** A credential file's text, or undefined with a problem saying why it cannot be read (never its contents). */
function readKeyFile(name: string, path: string, problems: string[]): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    problems.push(`${name}=${JSON.stringify(path)}: cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
    return undefined;
  }
}

function describeValue(name: string, value: unknown): string {
  const schema = (Env.properties as Record<string, { secret?: boolean }>)[name];
  return schema?.secret ? '<redacted>' : JSON.stringify(value ?? '');
}

function toConfig(env: Env): Config {
  return Object.freeze({
    host: env.HOST,
    port: env.PORT,
    publicUrl: env.PUBLIC_URL?.replace(/\/+$/, ''),
    logLevel: env.LOG_LEVEL,
    trustProxy: parseTrustProxy(env.TRUST_PROXY),
    bodyLimitBytes: env.BODY_LIMIT_BYTES,
    corsOrigins: env.CORS_ORIGINS === '*' ? '*' : splitList(env.CORS_ORIGINS),
    rateLimit: { max: env.RATE_LIMIT_MAX, windowMs: env.RATE_LIMIT_WINDOW_MS },
    database: { url: env.DATABASE_URL, poolMax: env.DATABASE_POOL_MAX, migrateOnStart: env.MIGRATE_ON_START },
    dataDir: env.DATA_DIR,
    redis: { url: env.REDIS_URL, keyPrefix: env.REDIS_KEY_PREFIX },
    metricsToken: env.METRICS_TOKEN,
    shutdownTimeoutMs: env.SHUTDOWN_TIMEOUT_MS,
    ws: {
      maxPayloadBytes: env.WS_MAX_PAYLOAD_BYTES,
      maxSocketsPerUser: env.WS_MAX_SOCKETS_PER_USER,
      rateLimit: env.WS_RATE_LIMIT,
      rateWindowMs: env.WS_RATE_WINDOW_SECONDS * 1000,
      pingIntervalSeconds: env.WS_PING_INTERVAL_SECONDS,
      maxBufferedBytes: env.WS_MAX_BUFFERED_BYTES,
    },
    auth: {
      jwtSecret: env.JWT_SECRET,
      issuer: env.JWT_ISSUER,
      audience: env.JWT_AUDIENCE,
      accessTokenTtlSeconds: env.ACCESS_TOKEN_TTL_SECONDS,
      refreshTokenTtlDays: env.REFRESH_TOKEN_TTL_DAYS,
      loginOtp: env.AUTH_LOGIN_OTP,
      rateLimitMax: env.AUTH_RATE_LIMIT_MAX,
      argon2: { memoryCost: env.ARGON2_MEMORY_KIB, timeCost: env.ARGON2_TIME_COST },
      admin: env.ADMIN_USERNAME && env.ADMIN_PASSWORD ? { username: env.ADMIN_USERNAME, password: env.ADMIN_PASSWORD } : undefined,
    },
    otp: {
      ttlSeconds: env.OTP_TTL_SECONDS,
      maxAttempts: env.OTP_MAX_ATTEMPTS,
      resendIntervalSeconds: env.OTP_RESEND_INTERVAL_SECONDS,
      maxSends: env.OTP_MAX_SENDS,
      destinationHourlyCap: env.OTP_DESTINATION_HOURLY_CAP,
      destinationGlobalHourlyCap: env.OTP_DESTINATION_GLOBAL_HOURLY_CAP || env.OTP_DESTINATION_HOURLY_CAP * 10,
      ipHourlyCap: env.OTP_IP_HOURLY_CAP,
    },
    sms:
      env.SMS_PROVIDER === 'twilio'
        ? {
            provider: 'twilio' as const,
            accountSid: env.TWILIO_ACCOUNT_SID!,
            authToken: env.TWILIO_AUTH_TOKEN!,
            from: env.TWILIO_FROM,
            messagingServiceSid: env.TWILIO_MESSAGING_SERVICE_SID,
            baseUrl: env.TWILIO_BASE_URL?.replace(/\/+$/, ''),
          }
        : { provider: 'console' as const },
    mail: { smtpUrl: env.SMTP_URL, from: env.MAIL_FROM },
    providerTimeoutMs: env.PROVIDER_TIMEOUT_MS,
    chat: {
      maxGroupMembers: env.MAX_GROUP_MEMBERS,
      messageMaxLength: env.MESSAGE_MAX_LENGTH,
      editWindowSeconds: env.MESSAGE_EDIT_WINDOW_SECONDS,
      sweepIntervalSeconds: env.SWEEP_INTERVAL_SECONDS,
      syncTokenTtlMs: env.SYNC_TOKEN_TTL_DAYS * 86_400_000,
    },
    media: {
      allowedTypes: splitList(env.MEDIA_ALLOWED_TYPES).map((type) => type.toLowerCase()),
      maxBytes: { image: env.MEDIA_MAX_IMAGE_BYTES, audio: env.MEDIA_MAX_AUDIO_BYTES, video: env.MEDIA_MAX_VIDEO_BYTES, file: env.MEDIA_MAX_FILE_BYTES },
      quotaBytes: env.MEDIA_QUOTA_BYTES,
      urlTtlSeconds: env.MEDIA_URL_TTL_SECONDS,
      orphanTtlSeconds: env.MEDIA_ORPHAN_TTL_SECONDS,
    },
    status: { ttlSeconds: env.STATUS_TTL_SECONDS, maxLive: env.STATUS_MAX_LIVE },
    push: {
      preview: env.PUSH_PREVIEW,
      graceMs: env.PUSH_GRACE_MS,
      pollMs: env.PUSH_POLL_MS,
      maxAttempts: env.PUSH_MAX_ATTEMPTS,
      leaseMs: env.PUSH_LEASE_MS,
      concurrency: env.PUSH_CONCURRENCY,
      maxDevicesPerUser: env.PUSH_MAX_DEVICES_PER_USER,
      webPush: {
        vapid: env.WEB_PUSH_VAPID_PUBLIC_KEY && env.WEB_PUSH_VAPID_PRIVATE_KEY ? { publicKey: env.WEB_PUSH_VAPID_PUBLIC_KEY, privateKey: env.WEB_PUSH_VAPID_PRIVATE_KEY } : undefined,
        subject: env.WEB_PUSH_SUBJECT,
        allowPrivate: env.WEB_PUSH_ALLOW_PRIVATE,
      },
      fcm: env.FCM_SERVICE_ACCOUNT_FILE ? fcmConfig(env.FCM_SERVICE_ACCOUNT_FILE, env.FCM_BASE_URL) : undefined,
      apns: env.APNS_KEY_FILE
        ? {
            key: readFileSync(env.APNS_KEY_FILE, 'utf8'),
            keyId: env.APNS_KEY_ID!,
            teamId: env.APNS_TEAM_ID!,
            topic: env.APNS_TOPIC!,
            baseUrl: (env.APNS_BASE_URL ?? (env.APNS_ENVIRONMENT === 'sandbox' ? 'https://api.sandbox.push.apple.com' : 'https://api.push.apple.com')).replace(/\/+$/, ''),
          }
        : undefined,
      console: env.PUSH_CONSOLE,
    },
    storage: env.S3_BUCKET
      ? {
          driver: 's3' as const,
          bucket: env.S3_BUCKET,
          endpoint: env.S3_ENDPOINT?.replace(/\/+$/, ''),
          region: env.S3_REGION,
          accessKeyId: env.S3_ACCESS_KEY_ID,
          secretAccessKey: env.S3_SECRET_ACCESS_KEY,
          forcePathStyle: env.S3_FORCE_PATH_STYLE,
        }
      : { driver: 'disk' as const },
  });
}

function fcmConfig(path: string, baseUrl: string): FcmConfig {
  const account = JSON.parse(readFileSync(path, 'utf8')) as { project_id: string; client_email: string; private_key: string; token_uri?: string };
  return {
    projectId: account.project_id,
    clientEmail: account.client_email,
    privateKey: account.private_key,
    tokenUri: account.token_uri ?? 'https://oauth2.googleapis.com/token',
    baseUrl: baseUrl.replace(/\/+$/, ''),
  };
}

function splitList(value: string): string[] {
  return value.split(',').map((s) => s.trim()).filter(Boolean);
}

function parseTrustProxy(value: string): boolean | number | string[] {
  if (value === 'true') return true;
  if (value === 'false') return false;
  if (/^\d+$/.test(value)) return Number(value);
  const list = splitList(value);
  if (list.length === 0 || list.some((entry) => !/^[0-9a-fA-F.:/]+$/.test(entry))) {
    throw new ConfigError(`Invalid configuration:\n  TRUST_PROXY=${JSON.stringify(value)}: must be true, false, a hop count or a comma list of addresses/CIDRs`);
  }
  return list;
}
