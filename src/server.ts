import closeWithGrace from 'close-with-grace';
import { buildApp } from './app.js';
import { ConfigError, loadConfig } from './config.js';
import { DatabaseInUseError } from './db/data-dir-lock.js';
import { startupSummary } from './startup-summary.js';

/**
 * Process entry: config -> app -> listen. On SIGTERM/SIGINT (or a fatal error) the app stops accepting
 * connections, closes sockets with 1001, drains in-flight requests and closes the database and Redis,
 * within SHUTDOWN_TIMEOUT_MS; past that the process exits anyway. Errors the user can fix (bad
 * configuration, the embedded database held by another process, a port in use) print one message
 * naming what to change, without a stack.
 */
function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(1);
}

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) fail(error.message);
    throw error;
  }

  let app;
  try {
    app = await buildApp(config);
  } catch (error) {
    if (error instanceof DatabaseInUseError) fail(error.message);
    throw error;
  }
  const running = app;
  closeWithGrace({ delay: config.shutdownTimeoutMs }, async ({ signal, err }) => {
    if (err) running.log.error({ err }, 'fatal error, shutting down');
    else running.log.info({ signal }, 'shutting down');
    await running.close();
  });
  try {
    const address = await app.listen({ host: config.host, port: config.port });
    app.log.info(startupSummary(config, address), `chat backend ready at ${address} (API docs at /docs)`);
  } catch (error) {
    await app.close().catch(() => {});
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') fail(`Port ${config.port} on ${config.host} is already in use: set PORT to a free port (or stop the process using it).`);
    if (code === 'EADDRNOTAVAIL') fail(`HOST ${config.host} is not an address of this machine: set HOST (0.0.0.0 for every interface).`);
    throw error;
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
