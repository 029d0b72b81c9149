import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { defaultHandlers, startTestServer, TestDaemon, type TestServer } from "@fluid/testkit";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { runFluid } from "../testing.js";

describe("fluid sandbox fork", () => {
  let t: TestServer;
  let key: string;
  let daemon: TestDaemon;
  let dir: string;

  const fluid = (...args: string[]) =>
    runFluid(args, { env: { FLUID_CONFIG: join(dir, "config.json"), FLUID_SERVER: t.restUrl, FLUID_API_KEY: key } });
  const fluidJson = async (...args: string[]) => {
    const result = await fluid("--json", ...args);
    expect(result.stderr).toBe("");
    expect(result.code, result.stdout).toBe(0);
    return JSON.parse(result.stdout);
  };

  beforeAll(async () => {
    t = await startTestServer("pglite");
    const owner = await t.user("owner@example.com");
    await t.org(owner, "acme");
    key = (await t.apiKey(owner, "acme", "admin")).key;
    const token = await t.hostToken(owner, "acme");
    daemon = await TestDaemon.connect(t.grpcUrl, { token: token.token, keepAlive: true });
  });

  afterAll(async () => {
    daemon.abort();
    await t.close();
  });

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "fluid-cli-fork-"));
    daemon.handlers = { ...defaultHandlers };
  });

  afterEach(() => rm(dir, { recursive: true, force: true }));

  it("forks a sandbox by name --count times and prints the forks as a table", async () => {
    const parent = (await fluidJson("sandbox", "create", "tiny", "--name", "web")).id as string;
    const result = await fluid("sandbox", "fork", "web", "--count", "3");
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain("3 forks of web running");
    expect(result.stdout).toMatch(/^ID +NAME +STATE +IP\n/);
    for (const n of [1, 2, 3])
      expect(result.stdout).toMatch(new RegExp(`^\\S{36} +web-fork-${n} +RUNNING +10\\.`, "m"));
    const sent = daemon.commands("forkSandbox").at(-1);
    expect(sent?.payload.case === "forkSandbox" && sent.payload.value.parentSandboxId).toBe(parent);
  });

  it("forks from a named snapshot under the names given, and --json prints {sandboxes}", async () => {
    const parent = (await fluidJson("sandbox", "create", "tiny", "--name", "db")).id as string;
    const snapshot = await fluidJson("sandbox", "snapshot", parent, "seeded");
    const forked = await fluidJson("sandbox", "fork", "db", "--snapshot", "seeded", "--name", "db-a", "--name", "db-b");
    expect(forked.sandboxes.map((s: { name: string }) => s.name)).toEqual(["db-a", "db-b"]);
    expect(forked.sandboxes[0]).toMatchObject({ forked_from: parent, fork_snapshot_id: snapshot.id });
  });

  it("asks for a shared network with --shared-network and for none without it", async () => {
    await fluidJson("sandbox", "create", "tiny", "--name", "lab");
    await fluidJson("sandbox", "fork", "lab", "--shared-network");
    const shared = daemon.commands("forkSandbox").at(-1);
    expect(shared?.payload.case === "forkSandbox" && shared.payload.value.sharedNetwork).toBe(true);
    await fluidJson("sandbox", "fork", "lab");
    const isolated = daemon.commands("forkSandbox").at(-1);
    expect(isolated?.payload.case === "forkSandbox" && isolated.payload.value.sharedNetwork).toBe(false);
  });

  it("exits non-zero with the server's message when it refuses", async () => {
    await fluidJson("sandbox", "create", "tiny", "--name", "app");
    const result = await fluid("sandbox", "fork", "app", "--count", "2", "--name", "only-one");
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/names/);
    const bad = await fluid("sandbox", "fork", "app", "--count", "0");
    expect(bad.code).toBe(2);
  });
});
