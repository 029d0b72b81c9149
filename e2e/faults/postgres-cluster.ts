import { spawnSync } from "node:child_process";
import { chmodSync, chownSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../lib/processes.js";

export interface PrivateCluster {
  url: string;
  stop(): void;
  start(): void;
  dispose(): void;
}

/** The newest installed PostgreSQL's bin directory (as scripts/lib.sh picks it). */
function binDir(): string {
  const versions = readdirSync("/usr/lib/postgresql").sort((a, b) => Number(a) - Number(b));
  const newest = versions.at(-1);
  if (!newest) throw new Error("no PostgreSQL under /usr/lib/postgresql");
  return join("/usr/lib/postgresql", newest, "bin");
}

/**
 * A PostgreSQL cluster of the test's own (initdb + pg_ctl in a temporary directory on a free port),
 * so it can be stopped and started without touching the cluster other tests share.
 */
export async function startPrivateCluster(): Promise<PrivateCluster> {
  const bin = binDir();
  const dir = mkdtempSync(join(tmpdir(), "fluid-faults-pg-"));
  chmodSync(dir, 0o755);
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    const uid = Number(spawnSync("id", ["-u", "postgres"]).stdout.toString().trim());
    const gid = Number(spawnSync("id", ["-g", "postgres"]).stdout.toString().trim());
    chownSync(dir, uid, gid);
  }
  // PostgreSQL refuses to run as root: as root, run its tools as the postgres user.
  const run = (program: string, args: string[]) => {
    const argv = [...(asRoot ? ["runuser", "-u", "postgres", "--"] : []), join(bin, program), ...args];
    const result = spawnSync(argv[0] as string, argv.slice(1), { stdio: ["ignore", "pipe", "pipe"] });
    if (result.status !== 0) throw new Error(`${program} failed: ${result.stderr.toString()}`);
  };
  const port = await freePort();
  const data = join(dir, "data");
  run("initdb", ["-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8"]);
  const start = () =>
    run("pg_ctl", [
      "-D",
      data,
      "-l",
      join(dir, "pg.log"),
      "-w",
      "-o",
      `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`,
      "start",
    ]);
  const stop = () => run("pg_ctl", ["-D", data, "-m", "fast", "-w", "stop"]);
  start();
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    start,
    stop,
    dispose() {
      try {
        stop();
      } catch {
        // already stopped
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
