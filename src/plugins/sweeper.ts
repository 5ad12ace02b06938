import fp from 'fastify-plugin';

/**
 * Periodic work: deletes disappearing messages once they expire (reads already hide them the moment
 * they expire; this reclaims the rows), expired status updates with the media only they used, and
 * uploads never attached to anything within MEDIA_ORPHAN_TTL_SECONDS (row and stored bytes); and
 * pushes scheduled announcements once they start; and drops the user logs' tombstones (status.deleted,
 * user.unblocked) that every sync token still accepted already sees, and push deliveries settled a day ago. Every instance runs it: the deletes are idempotent
 * and each announcement is claimed by one instance. The timer is unref'd and stopped on close; a
 * failed job is logged and retried next interval, and does not stop the others.
 */
export const sweeperPlugin = fp<{ intervalSeconds: number }>(
  async (app, { intervalSeconds }) => {
    const jobs = [
      { name: 'expired messages', run: () => app.services.messages.sweepExpired(), done: 'removed' },
      { name: 'expired statuses', run: () => app.services.status.sweepExpired(), done: 'removed' },
      { name: 'orphan media', run: () => app.services.media.sweepOrphans(), done: 'removed' },
      { name: 'scheduled announcements', run: () => app.services.announcements.announceDue(), done: 'pushed' },
      { name: 'user log tombstones', run: () => app.services.sync.sweepTombstones(), done: 'removed' },
      { name: 'settled pushes', run: () => app.services.push.sweepSettled(), done: 'removed' },
    ];
    let running: Promise<unknown> | undefined;
    const sweep = () => {
      if (running) return;
      running = Promise.all(
        jobs.map((job) =>
          job
            .run()
            .then((count) => {
              if (count > 0) app.log.info({ count }, `${job.name} ${job.done}`);
            })
            .catch((error: unknown) => app.log.error({ err: error }, `${job.name} failed`)),
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
