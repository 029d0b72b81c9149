import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from "node:fs";
import { join } from "node:path";

/** The file in a PGlite data directory that names the one process using it. */
export const LOCK_FILE = "fluid-server.lock";

export class DataDirLockedError extends Error {
  constructor(
    readonly dataDir: string,
    readonly holderPid: number,
  ) {
    super(
      `the PGlite data directory ${dataDir} is in use by another fluid-server (pid ${holderPid}); ` +
        "PGlite serves one replica only — stop that process, or run several replicas on PostgreSQL (DATABASE_URL)",
    );
  }
}

export interface DataDirLock {
  release(): void;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else; it still holds the directory.
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

function readHolder(path: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(path, "utf8").trim(), 10);
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}

/**
 * Claims a PGlite data directory for this process: PGlite is an in-process database, so a second
 * server on the same files would corrupt them. The claim is a file created exclusively (O_EXCL)
 * holding our pid; a file left by a process that died is taken over.
 */
export function lockDataDir(dataDir: string): DataDirLock {
  const path = join(dataDir, LOCK_FILE);
  for (let attempt = 0; attempt < 3; attempt++) {
    let fd: number;
    try {
      fd = openSync(path, "wx", 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      const holder = readHolder(path);
      // An unreadable or half-written file is treated as stale only once its writer is gone, which
      // we cannot tell without a pid: refuse rather than risk two writers.
      if (holder === undefined) {
        throw new Error(
          `the PGlite data directory ${dataDir} has an unreadable lock file ${path}; remove it if no fluid-server uses the directory`,
        );
      }
      if (isAlive(holder)) throw new DataDirLockedError(dataDir, holder);
      unlinkSync(path);
      continue;
    }
    try {
      writeSync(fd, `${process.pid}\n`);
    } finally {
      closeSync(fd);
    }
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        if (readHolder(path) === process.pid) unlinkSync(path);
      },
    };
  }
  throw new Error(`could not claim the PGlite data directory ${dataDir}: its lock file keeps changing`);
}
