import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyInstance, type FastifyBaseLogger, type RawServerDefault } from 'fastify';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Redis } from 'ioredis';
import type { DestinationStream } from 'pino';
import type { Bus } from './bus/bus.js';
import { createMemoryBus } from './bus/memory-bus.js';
import { createRedisBus } from './bus/redis-bus.js';
import type { Config } from './config.js';
import { type DatabaseHandle, createDatabase, pgliteDirFor } from './db/client.js';
import { lazySerializers } from './lib/lazy-serializers.js';
import { createRedis } from './lib/redis.js';
import { createMailSender, createSmsSender, createStorage } from './providers/providers.js';
import type { ObjectStorage } from './providers/storage/object-storage.js';
import type { MailSender } from './providers/mail/mail-sender.js';
import type { SmsSender } from './providers/sms/sms-sender.js';
import { authPlugin } from './plugins/auth.js';
import { servicesPlugin } from './plugins/services.js';
import { genReqId, loggerOptions } from './logging.js';
import { apiRoutes } from './modules/api.routes.js';
import { healthRoutes } from './modules/health/health.routes.js';
import { errorHandlerPlugin, frameworkErrors, notFoundHandler } from './plugins/error-handler.js';
import { finiteNumbersPlugin } from './plugins/finite-numbers.js';
import { infrastructurePlugin } from './plugins/infrastructure.js';
import { metricsPlugin } from './plugins/metrics.js';
import { securityPlugin } from './plugins/security.js';
import { swaggerPlugin } from './plugins/swagger.js';
import { sweeperPlugin } from './plugins/sweeper.js';
import { pushWorkerPlugin } from './plugins/push-worker.js';
import { gatewayPlugin } from './realtime/gateway.js';
import { websocketPlugin } from './plugins/websocket.js';

export type App = FastifyInstance<RawServerDefault, IncomingMessage, ServerResponse, FastifyBaseLogger, TypeBoxTypeProvider>;

declare module 'fastify' {
  interface FastifyInstance {
    config: Config;
    /** Compiles every response serializer now (they are built on first use); tests call it to catch a broken schema. */
    compileAllSerializers(): void;
  }
}

/**
 * Infrastructure a caller may supply instead of having the app build it from config. The app closes
 * only what it built itself.
 */
export interface AppOverrides {
  database?: DatabaseHandle;
  /** A Redis command connection; `null` forces the no-Redis setup even when REDIS_URL is set. */
  redis?: Redis | null;
  bus?: Bus;
  /** Text-message and mail senders (default: from config; tests point the real ones at local servers). */
  sms?: SmsSender;
  mail?: MailSender;
  /** Where media bytes live (default: S3 when S3_BUCKET is set, else DATA_DIR/media). */
  storage?: ObjectStorage;
  /** Where logs go (default stdout); tests pass a stream to assert on what is logged. */
  logStream?: DestinationStream;
  /**
   * argon2id cost instead of config's ARGON2_* (which cannot go below OWASP's floor). For tests only:
   * a hash at the floor costs ~50 ms of CPU, which thousands of test sign-ins cannot afford.
   */
  argon2?: { memoryCost: number; timeCost: number };
}

/** Trust the nearest `hops` proxies (what fastify does for a numeric trustProxy). */
function trustHops(hops: number) {
  return (_address: string, hop: number) => hop < hops;
}

export async function buildApp(config: Config, overrides: AppOverrides = {}): Promise<App> {
  const serializers = lazySerializers();
  const app = Fastify({
    logger: loggerOptions(config.logLevel, overrides.logStream),
    genReqId,
    requestIdHeader: false,
    trustProxy: typeof config.trustProxy === 'number' ? trustHops(config.trustProxy) : config.trustProxy,
    bodyLimit: config.bodyLimitBytes,
    routerOptions: { ignoreTrailingSlash: true },
    // Errors fastify answers before routing (bad URL, path parameter too long) are problem+json too.
    frameworkErrors,
    // Unknown body fields are refused (400), not silently dropped: fastify's default removes them.
    // strictNumbers: a JSON 1e400 parses to Infinity, which is not a number any schema means.
    ajv: { customOptions: { allErrors: true, removeAdditional: false, strictNumbers: true } },
    // Boot waits for the migrations however long they take: another instance's under the advisory lock,
    // or a first start on a slow host. Fastify's 10 s default failed such boots ("Plugin did not start in time").
    pluginTimeout: 0,
    schemaController: { compilersFactory: { buildSerializer: serializers.factory } },
  }).withTypeProvider<TypeBoxTypeProvider>() as App;

  app.decorate('config', config);
  app.decorate('compileAllSerializers', serializers.compileAll);
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });

  const database = overrides.database ?? createDatabase({ url: config.database.url, poolMax: config.database.poolMax, pgliteDir: pgliteDirFor(config.dataDir) });
  const redis = overrides.redis !== undefined ? overrides.redis : config.redis.url ? createRedis(config.redis.url) : null;
  const onHandlerError = (error: unknown, channel: string) => app.log.error({ err: error, channel }, 'bus handler failed');
  const bus = overrides.bus ?? (redis ? createRedisBus({ redis, prefix: config.redis.keyPrefix, onHandlerError }) : createMemoryBus(onHandlerError));

  try {
    await app.register(errorHandlerPlugin);
    await app.register(finiteNumbersPlugin);
    await app.register(infrastructurePlugin, {
      database,
      redis,
      bus,
      migrateOnStart: config.database.migrateOnStart,
      owns: { database: !overrides.database, redis: overrides.redis === undefined && redis !== null, bus: !overrides.bus },
    });
    await app.register(metricsPlugin, { token: config.metricsToken });
    await app.register(securityPlugin, { config });
    app.setNotFoundHandler({ preHandler: app.rateLimit() }, notFoundHandler);
    await app.register(swaggerPlugin, { publicUrl: config.publicUrl });
    await app.register(websocketPlugin, { maxPayloadBytes: config.ws.maxPayloadBytes });
    await app.register(authPlugin, { config: config.auth });
    await app.register(servicesPlugin, {
      config,
      argon2: overrides.argon2 ?? config.auth.argon2,
      sms: overrides.sms ?? createSmsSender(config, app.log),
      mail: overrides.mail ?? createMailSender(config, app.log),
      ownsMail: !overrides.mail,
      storage: overrides.storage ?? (await createStorage(config)),
      ownsStorage: !overrides.storage,
    });
    await app.register(sweeperPlugin, { intervalSeconds: config.chat.sweepIntervalSeconds });
    await app.register(pushWorkerPlugin);
    await app.register(gatewayPlugin, { config });
    await app.register(healthRoutes);
    await app.register(apiRoutes, { prefix: '/api/v1', authRateLimitMax: config.auth.rateLimitMax });
  } catch (error) {
    await app.close().catch(() => {});
    throw error;
  }
  return app;
}
