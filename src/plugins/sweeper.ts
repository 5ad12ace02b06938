import fp from 'fastify-plugin';

/**
 * Periodic clean-up: deletes disappearing messages once they expire (reads already hide them the
 * moment they expire; this reclaims the rows), and uploads never attached to anything within
 * MEDIA_ORPHAN_TTL_SECONDS (row and stored bytes), and expired status updates with the media
 * only they used. Every instance runs it; the deletes are
 * idempotent. The timer is unref'd and stopped on close; a failed sweep is logged and retried next
 * interval, and one failing job does not stop the other.
 */
export const sweeperPlugin = fp<{ intervalSeconds: number }>(
  async (app, { intervalSeconds }) => {
    const jobs = [
      { name: 'expired messages', run: () => app.services.messages.sweepExpired() },
      { name: 'expired statuses', run: () => app.services.status.sweepExpired() },
      { name: 'orphan media', run: () => app.services.media.sweepOrphans() },
    ];
    let running: Promise<unknown> | undefined;
    const sweep = () => {
      if (running) return;
      running = Promise.all(
        jobs.map((job) =>
          job
            .run()
            .then((removed) => {
              if (removed > 0) app.log.info({ removed }, `${job.name} removed`);
            })
            .catch((error: unknown) => app.log.error({ err: error }, `sweeping ${job.name} failed`)),
        ),
      ).finally(() => {
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
