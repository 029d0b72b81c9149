import { execFile } from "node:child_process";
import { chown, mkdtemp, readdir, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** A PostgreSQL cluster of one test's own, on a free loopback port, that the test may stop and start. */
export interface PrivatePostgres {
  /** Superuser URL of the `postgres` database. */
  url: string;
  port: number;
  /** Stops the server (fast shutdown: sessions are cut), keeping its data. */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops it and removes its directory. */
  destroy(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}

async function binDir(): Promise<string> {
  const versions = (await readdir("/usr/lib/postgresql")).sort((a, b) => Number(a) - Number(b));
  const newest = versions.at(-1);
  if (!newest) throw new Error("no PostgreSQL under /usr/lib/postgresql");
  return join("/usr/lib/postgresql", newest, "bin");
}

/**
 * initdb + pg_ctl in a temp dir (as the `postgres` user when running as root, which PostgreSQL
 * requires), trust auth, listening on 127.0.0.1 only; never the shared test cluster.
 */
export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const bin = await binDir();
  const dir = await mkdtemp(join(tmpdir(), "fluid-pg-"));
  const asPostgres = process.getuid?.() === 0;
  if (asPostgres) {
    const id = async (flag: string) => Number((await run("id", [flag, "postgres"])).stdout.trim());
    await chown(dir, await id("-u"), await id("-g"));
  }
  const exec = (program: string, args: string[]) =>
    asPostgres ? run("runuser", ["-u", "postgres", "--", join(bin, program), ...args]) : run(join(bin, program), args);
  const port = await freePort();
  const data = join(dir, "data");
  await exec("initdb", ["-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8"]);
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=off`;
  const start = async () => {
    await exec("pg_ctl", ["-D", data, "-l", join(dir, "pg.log"), "-w", "-o", options, "start"]);
  };
  const stop = async () => {
    await exec("pg_ctl", ["-D", data, "-m", "fast", "-w", "stop"]);
  };
  await start();
  let destroyed = false;
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    start,
    stop,
    destroy: async () => {
      if (destroyed) return;
      destroyed = true;
      await stop().catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
