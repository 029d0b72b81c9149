import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type PrivatePostgres, startPrivatePostgres } from "@fluid/testkit";
import { afterAll, describe, expect, it } from "vitest";
import { repoRoot } from "./lib/global-setup.js";
import { freePort, type Started, startUntilReady } from "./lib/processes.js";

const serverBin = join(repoRoot, "packages/server/bin/fluid-server.js");

async function serverArgs(extra: string[]): Promise<string[]> {
  return [
    process.execPath,
    serverBin,
    "--listen",
    `127.0.0.1:${await freePort()}`,
    "--grpc-listen",
    `127.0.0.1:${await freePort()}`,
    "--insecure",
    "--migrate",
    ...extra,
  ];
}

async function until(what: string, probe: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

describe("fluid-server guards (real processes)", () => {
  const started: Started[] = [];
  const dirs: string[] = [];
  let postgres: PrivatePostgres | undefined;
  afterAll(async () => {
    for (const server of started) await server.stop();
    await postgres?.destroy();
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  it("a second server on one PGlite data dir refuses to start, naming the dir and the holder's pid", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "fluid-e2e-pglite-"));
    dirs.push(dataDir);
    const env = { DATABASE_URL: "", FLUID_LOG_LEVEL: "warn" };
    const first = await startUntilReady(await serverArgs(["--data-dir", dataDir]), { env });
    started.push(first);
    const second = spawnSync(process.execPath, (await serverArgs(["--data-dir", dataDir])).slice(1), {
      env: { ...process.env, ...env },
      encoding: "utf8",
      timeout: 60_000,
    });
    expect(second.status).toBe(1);
    expect(second.stderr).toContain(`${dataDir} is in use by another fluid-server (pid ${first.child.pid})`);

    // A crash leaves the lock behind; the next server takes it over.
    await first.crash();
    expect(existsSync(join(dataDir, "fluid-server.lock"))).toBe(true);
    const next = await startUntilReady(await serverArgs(["--data-dir", dataDir]), { env });
    started.push(next);
    await next.stop();
    expect(existsSync(join(dataDir, "fluid-server.lock"))).toBe(false);
  });

  it("a replica whose PostgreSQL stops is not ready until it is back, with no restart", async () => {
    postgres = await startPrivatePostgres();
    const args = await serverArgs([]);
    const rest = `http://${args[3]}`;
    const server = await startUntilReady(args, { env: { DATABASE_URL: postgres.url, FLUID_LOG_LEVEL: "warn" } });
    started.push(server);
    const status = async (path: string) => (await fetch(`${rest}${path}`)).status;
    expect(await status("/readyz")).toBe(200);

    const stoppedAt = Date.now();
    await postgres.stop();
    await until("/readyz 503", async () => (await status("/readyz")) === 503);
    const detectMs = Date.now() - stoppedAt;
    expect(await status("/livez")).toBe(200);
    const login = await fetch(`${rest}/v1/auth/me`);
    expect(login.status).toBe(503);
    expect(((await login.json()) as { error: { code: string } }).error.code).toBe("service_unavailable");

    const restartedAt = Date.now();
    await postgres.start();
    await until("/readyz 200", async () => (await status("/readyz")) === 200);
    const recoverMs = Date.now() - restartedAt;
    // An unauthenticated call to an authenticated route now reaches the database again: 401, not 503.
    expect((await fetch(`${rest}/v1/auth/me`)).status).toBe(401);
    expect(server.child.exitCode).toBeNull();
    console.log(`PostgreSQL stop detected in ${detectMs} ms; ready again ${recoverMs} ms after it started`);
  });
});
