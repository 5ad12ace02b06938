import fp from 'fastify-plugin';

/**
 * Runs the push worker (PushService.start: plan new messages, send due pushes, every PUSH_POLL_MS)
 * on every instance once the app is ready, and stops it (waiting for the round in progress) on close.
 * Instances share the work through the database (the cursor and leased deliveries), so any number of
 * them may run it.
 */
export const pushWorkerPlugin = fp(
  async (app) => {
    app.addHook('onReady', async () => app.services.push.start());
    app.addHook('onClose', async () => app.services.push.stop());
  },
  { name: 'push-worker', dependencies: ['services'] },
);
