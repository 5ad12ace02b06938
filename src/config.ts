import { Type, type Static } from 'typebox';
import { Value } from 'typebox/value';

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
  DATA_DIR: Type.String({ default: './data', minLength: 1, description: 'Directory for embedded data (PGlite database, later media and generated secrets).' }),
  MIGRATE_ON_START: Type.Boolean({ default: true, description: 'Apply pending migrations at boot.' }),
  REDIS_URL: Type.Optional(Type.String({ pattern: '^rediss?://', secret: true, description: 'Redis URL for the bus, rate limits and presence; unset uses in-process equivalents (single instance only).' })),
  REDIS_KEY_PREFIX: Type.String({ default: 'chat:', pattern: '^[A-Za-z0-9:_.-]{1,64}$', description: 'Prefix for every Redis key and pub/sub channel.' }),
  METRICS_TOKEN: Type.Optional(Type.String({ minLength: 16, secret: true, description: 'When set, GET /metrics requires "Authorization: Bearer <token>".' })),
  SHUTDOWN_TIMEOUT_MS: Type.Integer({ default: 10_000, minimum: 100, description: 'Grace period for draining on SIGTERM/SIGINT before a forced exit.' }),
  WS_MAX_PAYLOAD_BYTES: Type.Integer({ default: 65_536, minimum: 1024, description: 'Largest WebSocket frame accepted (larger closes with 1009).' }),
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
  readonly ws: { readonly maxPayloadBytes: number };
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
  return toConfig(converted as Env);
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
    ws: { maxPayloadBytes: env.WS_MAX_PAYLOAD_BYTES },
  });
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
