import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';

/** The embedded database is open in another process; the message names it and says what to do. */
export class DatabaseInUseError extends Error {
  override name = 'DatabaseInUseError';
}

interface Holder {
  pid: number;
  command: string;
  since: string;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readHolder(file: string): Holder | null {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Holder;
  } catch {
    return null;
  }
}

/**
 * PGlite is one process's database: two processes on one data directory lose each other's writes.
 * `<dir>.lock` is created exclusively (O_EXCL) and holds the owner's pid; a lock whose process is
 * gone (killed) is taken over. Returns the release function (also run at process exit).
 */
export function lockDataDir(dir: string): () => void {
  const file = `${dir}.lock`;
  const me: Holder = { pid: process.pid, command: process.argv.slice(1).join(' ').slice(0, 200), since: new Date().toISOString() };
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = openSync(file, 'wx', 0o600);
      writeSync(fd, JSON.stringify(me));
      closeSync(fd);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = readHolder(file);
      if (holder && holder.pid !== process.pid && alive(holder.pid)) {
        throw new DatabaseInUseError(
          `The embedded database ${dir} is in use by process ${holder.pid} (${holder.command}, since ${holder.since}). ` +
            'Only one process may open it: stop that process first (for an admin account you can also set ADMIN_USERNAME and ' +
            'ADMIN_PASSWORD when starting the server), or set DATABASE_URL to share a PostgreSQL database between processes.',
        );
      }
      if (attempt > 0 && holder) throw new DatabaseInUseError(`Could not take the lock ${file} of the embedded database; remove it if no process uses ${dir}.`);
      try {
        unlinkSync(file); // a stale lock (its process died) or one being written: try again
      } catch {}
    }
  }
  let held = true;
  const release = () => {
    if (!held) return;
    held = false;
    process.off('exit', release);
    if (readHolder(file)?.pid === process.pid) unlinkSync(file);
  };
  process.on('exit', release);
  return release;
}
