import { closeSync, linkSync, openSync, readFileSync, renameSync, rmSync, writeSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { UsageError } from "../errors.js";

export const LOCK_FILE = "run.lock";

/** Who holds a run folder: written into its lock file by the process that runs it. */
interface LockOwner {
  pid: number;
  host: string;
  startedAt: string;
}

/** Whether a process of this host with this id is alive (EPERM: alive, owned by someone else). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

function readOwner(path: string): LockOwner | undefined {
  try {
    const owner = JSON.parse(readFileSync(path, "utf8")) as LockOwner;
    return Number.isInteger(owner.pid) && typeof owner.host === "string" ? owner : undefined;
  } catch {
    return undefined;
  }
}

/**
 * An exclusive claim on a run folder for one process: two runs appending to the same `samples.jsonl` would
 * duplicate records. Created with O_EXCL; a lock whose process has died on this host (SIGKILL, a crash) is taken
 * over and said so; one held by a live process, or by another host, is refused in one line.
 */
export class RunLock {
  private released = false;

  private constructor(private readonly path: string) {}

  static acquire(folder: string, notify: (line: string) => void = (line) => process.stderr.write(`${line}\n`)): RunLock {
    const path = join(folder, LOCK_FILE);
    const me: LockOwner = { pid: process.pid, host: hostname(), startedAt: new Date().toISOString() };
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const fd = openSync(path, "wx");
        try {
          writeSync(fd, `${JSON.stringify(me)}\n`);
        } finally {
          closeSync(fd);
        }
        return new RunLock(path);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw new UsageError(`cannot lock run folder ${folder}: ${(error as Error).message}`);
      }
      const owner = readOwner(path);
      if (owner && owner.host !== me.host)
        throw new UsageError(`${folder} is locked by process ${owner.pid} on host ${owner.host} since ${owner.startedAt}; if no such run is going on, delete ${path}`);
      if (owner && alive(owner.pid)) throw new UsageError(`${folder} is in use by process ${owner.pid} (since ${owner.startedAt}); wait for it to finish or stop it, then resume`);
      // Dead or unreadable: move it aside under a name of our own (one rename wins a race), then claim again.
      const aside = `${path}.stale-${process.pid}`;
      try {
        renameSync(path, aside);
        // Another process may have taken the dead lock over between our read and the rename: give its lock back.
        const moved = readOwner(aside);
        if (moved && moved.pid !== owner?.pid && alive(moved.pid)) {
          linkSync(aside, path);
          rmSync(aside, { force: true });
          throw new UsageError(`${folder} is in use by process ${moved.pid} (since ${moved.startedAt}); wait for it to finish or stop it, then resume`);
        }
        rmSync(aside, { force: true });
        notify(`note: ${owner ? `process ${owner.pid}, which held ${folder} since ${owner.startedAt}, is gone` : `${path} was unreadable`}; taking the run over`);
      } catch (error) {
        if (error instanceof UsageError) throw error;
        if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw new UsageError(`cannot take over the stale lock ${path}: ${(error as Error).message}`);
      }
    }
    throw new UsageError(`${folder}: could not lock it (another process keeps claiming it); try again`);
  }

  /** Gives the folder back; only the lock this process wrote is removed. */
  release(): void {
    if (this.released) return;
    this.released = true;
    if (readOwner(this.path)?.pid === process.pid) rmSync(this.path, { force: true });
  }
}
