import fp from 'fastify-plugin';
import type { Redis } from 'ioredis';
import type { Bus } from '../bus/bus.js';
import type { Database, DatabaseHandle } from '../db/client.js';
import { migrate } from '../db/migrate.js';
import { closeRedis, logRedisState } from '../lib/redis.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** Drizzle query API; the same on Postgres and PGlite. */
    db: Database;
    /** The database with its health check and driver name. */
    database: DatabaseHandle;
    /** The command connection, or null when REDIS_URL is unset. */
    redis: Redis | null;
    bus: Bus;
  }
}

export interface InfrastructureOptions {
  database: DatabaseHandle;
  redis: Redis | null;
  bus: Bus;
  migrateOnStart: boolean;
  /** Which of the above this app created and so must close; injected ones belong to the caller. */
  owns: { database: boolean; redis: boolean; bus: boolean };
}

/**
 * Decorates the app with its infrastructure and closes what it owns on app.close(), bus first
 * (it may hold a Redis connection), then Redis, then the database.
 */
export const infrastructurePlugin = fp<InfrastructureOptions>(
  async (app, { database, redis, bus, migrateOnStart, owns }) => {
    if (migrateOnStart) await migrate(database);
    app.decorate('database', database);
    app.decorate('db', database.db);
    app.decorate('redis', redis);
    app.decorate('bus', bus);
    if (redis) logRedisState(redis, app.log);
    app.addHook('onClose', async () => {
      if (owns.bus) await bus.close();
      if (owns.redis && redis) await closeRedis(redis);
      if (owns.database) await database.close();
    });
  },
  { name: 'infrastructure' },
);
