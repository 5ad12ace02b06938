import fp from 'fastify-plugin';

/**
 * Periodic work: deletes disappearing messages once they expire (reads already hide them the moment
 * they expire; this reclaims the rows), and pushes scheduled announcements once they start. Every
 * instance runs it; the deletes are idempotent and each announcement is claimed by one instance.
 * The timer is unref'd and stopped on close; a failed sweep is logged and retried next interval.
 */
export const sweeperPlugin = fp<{ intervalSeconds: number }>(
  async (app, { intervalSeconds }) => {
    let running: Promise<unknown> | undefined;
    const sweep = () => {
      if (running) return;
      const expired = app.services.messages
        .sweepExpired()
        .then((removed) => {
          if (removed > 0) app.log.info({ removed }, 'expired messages removed');
        })
        .catch((error: unknown) => app.log.error({ err: error }, 'sweeping expired messages failed'));
      const announced = app.services.announcements.announceDue().catch((error: unknown) => app.log.error({ err: error }, 'announcing scheduled announcements failed'));
      running = Promise.all([expired, announced]).finally(() => {
        running = undefined;
      });
    };
    const timer = setInterval(sweep, intervalSeconds * 1000);
    timer.unref();
    app.addHook('onClose', async () => {
      clearInterval(timer);
      await running;
    });
  },
  { name: 'sweeper', dependencies: ['services'] },
);
