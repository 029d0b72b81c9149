import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { defaultHandlers, startTestServer, TestDaemon, type TestServer } from "@fluid/testkit";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { runFluid } from "../testing.js";

describe("fluid sandbox", () => {
  let t: TestServer;
  let key: string;
  let emptyOrgKey: string;
  let daemon: TestDaemon;
  let dir: string;

  const env = (apiKey: string) => ({
    FLUID_CONFIG: join(dir, "config.json"),
    FLUID_SERVER: t.restUrl,
    FLUID_API_KEY: apiKey,
  });
  const fluid = (...args: string[]) => runFluid(args, { env: env(key) });
  const fluidJson = async (...args: string[]) => {
    const result = await fluid("--json", ...args);
    expect(result.stderr).toBe("");
    expect(result.code, result.stdout).toBe(0);
    return JSON.parse(result.stdout);
  };
  const create = async (name: string) => (await fluidJson("sandbox", "create", "tiny", "--name", name)).id as string;

  beforeAll(async () => {
    t = await startTestServer("pglite");
    const owner = await t.user("owner@example.com");
    await t.org(owner, "acme");
    key = (await t.apiKey(owner, "acme", "admin")).key;
    const token = await t.hostToken(owner, "acme");
    daemon = await TestDaemon.connect(t.grpcUrl, { token: token.token, keepAlive: true });
    await t.org(owner, "empty");
    emptyOrgKey = (await t.apiKey(owner, "empty", "member")).key;
  });

  afterAll(async () => {
    daemon.abort();
    await t.close();
  });

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "fluid-cli-sandbox-"));
    daemon.handlers = { ...defaultHandlers };
  });

  afterEach(() => rm(dir, { recursive: true, force: true }));

  it("create waits under a spinner, prints the sandbox, and passes every option to the host", async () => {
    const result = await fluid(
      "sandbox",
      "create",
      "tiny",
      "--name",
      "box-1",
      "--vcpus",
      "2",
      "--memory",
      "256",
      "--ttl",
      "30m",
    );
    expect(result.code).toBe(0);
    expect(result.stderr).toContain("Creating sandbox box-1 from tiny");
    expect(result.stderr).toContain("Sandbox box-1 is RUNNING");
    const id = /^id +([0-9a-f-]{36})$/m.exec(result.stdout)?.[1];
    expect(result.stdout).toMatch(/^name +box-1$/m);
    expect(result.stdout).toMatch(/^state +RUNNING$/m);
    expect(result.stdout).toMatch(/^memory +256 MB$/m);
    expect(result.stdout).toMatch(/^lease ends +\S+ \(in 30m\)$/m);
    expect(result.stdout).toContain(`Run a command: fluid sandbox exec ${id} -- uname -a\n`);
    const sent = daemon.commands("createSandbox").at(-1)?.payload.value as Record<string, unknown>;
    expect(sent).toMatchObject({
      sandboxId: id,
      name: "box-1",
      baseImage: "tiny",
      vcpus: 2,
      memoryMb: 256,
      allowEgress: false,
    });
    expect(sent.ttlSeconds).toBeGreaterThan(1790);
    expect(sent.ttlSeconds).toBeLessThanOrEqual(1800);
  });

  it("create --json prints only the sandbox; --no-wait returns it CREATING", async () => {
    const sandbox = await fluidJson("sandbox", "create", "tiny", "--egress", "--ttl", "2h");
    expect(sandbox).toMatchObject({ state: "RUNNING", source_vm: "tiny", allow_egress: true, end_reason: null });
    expect(Math.abs(Date.parse(sandbox.expires_at) - Date.now() - 7_200_000)).toBeLessThan(60_000);

    daemon.handlers.createSandbox = () => "hold";
    const pending = await fluidJson("sandbox", "create", "tiny", "--no-wait");
    expect(pending.state).toBe("CREATING");
  });

  it("create rejects bad options with exit 2 before calling the server", async () => {
    const ttl = await fluid("sandbox", "create", "tiny", "--ttl", "5x");
    expect(ttl.code).toBe(2);
    expect(ttl.stderr).toContain(
      "option '--ttl <duration>' argument '5x' is invalid. must be a duration like 90s, 30m",
    );
    expect((await fluid("sandbox", "create", "tiny", "--memory", "lots")).code).toBe(2);
    const json = await fluid("--json", "sandbox", "create", "tiny", "--vcpus", "0");
    expect(json.code).toBe(2);
    expect(JSON.parse(json.stdout).error).toMatchObject({ code: "usage", message: expect.stringContaining("--vcpus") });
  });

  it("create explains what to do when no host can take the sandbox", async () => {
    const noHost = await runFluid(["sandbox", "create", "tiny"], { env: env(emptyOrgKey) });
    expect(noHost).toMatchObject({
      code: 1,
      stderr:
        "fluid: no sandbox host is connected to empty: create a host token with `fluid token create NAME`, " +
        "then start a host with `fluid-daemon run --server HOST:9090 --token flh_…`\n",
    });
    const noImage = await fluid("--json", "sandbox", "create", "centos-7");
    expect(noImage.code).toBe(1);
    expect(JSON.parse(noImage.stdout)).toEqual({
      error: {
        code: "no_capacity",
        message:
          'no connected host has the image or source VM "centos-7" (connected hosts have: debian-12, tiny; ' +
          "fluid-daemon image build NAME adds one)",
      },
    });
  });

  it("ls and get show sandboxes by id or name; unknown ones exit 4", async () => {
    const id = await create("lister");
    const table = await fluid("sandbox", "ls");
    expect(table.code).toBe(0);
    expect(table.stdout.split("\n")[0]).toMatch(/^ID +NAME +STATE +IMAGE +IP +CPUS +MEMORY +LEASE$/);
    expect(table.stdout).toMatch(
      new RegExp(`^${id} +lister +RUNNING +tiny +10\\.0\\.0\\.\\d+ +1 +512 MB +ends in 24h$`, "m"),
    );

    const listed = await fluidJson("sandbox", "ls");
    expect(listed.count).toBe(listed.sandboxes.length);
    expect(listed.sandboxes).toContainEqual(expect.objectContaining({ id, name: "lister" }));
    expect(await fluidJson("sandbox", "get", "lister")).toMatchObject({ id, state: "RUNNING" });
    expect((await fluid("sandbox", "get", id)).stdout).toMatch(/^name +lister$/m);

    const unknownName = await fluid("sandbox", "get", "no-such-box");
    expect(unknownName).toMatchObject({
      code: 4,
      stderr: 'fluid: no live sandbox is named "no-such-box" (see fluid sandbox ls)\n',
    });
    const unknownId = await fluid("--json", "sandbox", "get", "00000000-0000-4000-8000-000000000000");
    expect(unknownId.code).toBe(4);
    expect(JSON.parse(unknownId.stdout)).toEqual({ error: { code: "not_found", message: "sandbox not found" } });
  });

  it("exec prints the command's streams where they belong and exits with its status", async () => {
    const id = await create("runner");
    daemon.handlers.runCommand = () => ({
      case: "commandResult",
      value: { stdout: "out line\n", stderr: "err line\n", exitCode: 3, durationMs: 5n },
    });
    const result = await fluid(
      "sandbox",
      "exec",
      "runner",
      "--timeout",
      "2m",
      "-e",
      "A=1",
      "--env",
      "B=x=y",
      "--",
      "echo",
      "hello",
      "world",
      "--json",
    );
    expect(result).toMatchObject({ code: 3, stdout: "out line\n", stderr: "err line\n" });
    const sent = daemon.commands("runCommand").at(-1)?.payload.value as Record<string, unknown>;
    expect(sent).toMatchObject({
      sandboxId: id,
      command: "echo hello world --json",
      timeoutSeconds: 120,
      env: { A: "1", B: "x=y" },
    });

    const json = await fluid("--json", "sandbox", "exec", id, "--", "false");
    expect(json.code).toBe(3);
    expect(JSON.parse(json.stdout)).toMatchObject({
      command: "false",
      status: "completed",
      exit_code: 3,
      stdout: "out line\n",
    });

    daemon.handlers.runCommand = () => ({
      case: "commandResult",
      value: { exitCode: 0, timedOut: true, durationMs: 1000n },
    });
    const timedOut = await fluid("sandbox", "exec", id, "--", "sleep", "100");
    expect(timedOut).toMatchObject({ code: 124, stderr: "fluid: the command timed out and was killed\n" });

    daemon.handlers.runCommand = defaultHandlers.runCommand;
    const ok = await fluid("sandbox", "exec", id, "--", "true");
    expect(ok).toMatchObject({ code: 0, stdout: "ran: true\n", stderr: "" });
    const bad = await fluid("sandbox", "exec", id, "--env", "NOEQUALS", "--", "true");
    expect(bad.code).toBe(2);
  });

  it("stop, start, snapshot, restore, extend, commands and rm", async () => {
    const id = await create("lifecycle");
    await fluid("sandbox", "exec", id, "--", "touch", "/root/marker");

    expect(await fluidJson("sandbox", "stop", "lifecycle", "--force")).toMatchObject({ id, state: "STOPPED" });
    expect(daemon.commands("stopSandbox").at(-1)?.payload.value).toMatchObject({ sandboxId: id, force: true });
    const refused = await fluid("sandbox", "exec", id, "--", "true");
    expect(refused).toMatchObject({ code: 2, stderr: "fluid: cannot run a command in a sandbox that is STOPPED\n" });
    const started = await fluid("sandbox", "start", id);
    expect(started.code).toBe(0);
    expect(started.stderr).toContain("Sandbox lifecycle is RUNNING");

    const snapshot = await fluidJson("sandbox", "snapshot", id, "before", "--memory");
    expect(snapshot).toMatchObject({ sandbox_id: id, name: "before", has_memory: true, size_bytes: 1024 });
    const human = await fluid("sandbox", "snapshot", id, "after");
    expect(human.stderr).toContain("Snapshot after taken (1.0 KiB)");
    const snapshots = await fluid("sandbox", "snapshots", "lifecycle");
    expect(snapshots.stdout).toMatch(/^ID +NAME +MEMORY +SIZE +CREATED\n/);
    expect(snapshots.stdout).toMatch(new RegExp(`^${snapshot.id} +before +yes +1\\.0 KiB +\\d+s ago$`, "m"));

    expect(await fluidJson("sandbox", "restore", id, "before")).toMatchObject({ id, state: "RUNNING" });
    expect(daemon.commands("restoreSnapshot").at(-1)?.payload.value).toMatchObject({
      sandboxId: id,
      snapshotId: "snap-before",
    });
    expect((await fluid("sandbox", "restore", id, "nope")).code).toBe(4);
    const deleted = await fluid("sandbox", "delete-snapshot", id, "after");
    expect(deleted).toMatchObject({ code: 0, stdout: "Snapshot after deleted\n" });
    expect(daemon.commands("deleteSnapshot").at(-1)?.payload.value).toMatchObject({ snapshotId: "snap-after" });
    expect((await fluid("sandbox", "delete-snapshot", id, "after")).code).toBe(4);

    const extended = await fluidJson("sandbox", "extend", id, "--ttl", "1d");
    expect(Math.abs(Date.parse(extended.expires_at) - Date.now() - 86_400_000)).toBeLessThan(60_000);
    expect((await fluid("sandbox", "extend", id)).code).toBe(2);

    const history = await fluid("sandbox", "commands", id);
    expect(history.stdout).toMatch(
      /^STARTED +STATUS +EXIT +DURATION +COMMAND\n\S+ +completed +0 +7 ms +touch \/root\/marker\n$/,
    );
    expect(await fluidJson("sandbox", "commands", id)).toMatchObject({
      count: 1,
      commands: [{ command: "touch /root/marker" }],
    });

    const removed = await fluid("sandbox", "rm", "lifecycle");
    expect(removed).toMatchObject({ code: 0, stdout: `${id}\n` });
    expect(await fluidJson("sandbox", "get", id)).toMatchObject({ state: "DESTROYED", end_reason: "user_request" });
    expect((await fluid("sandbox", "ls")).stdout).not.toContain(id);
    expect((await fluid("sandbox", "ls", "--all")).stdout).toMatch(
      new RegExp(`^${id} +lifecycle +DESTROYED .*ended \\(user_request\\)$`, "m"),
    );
    expect((await fluid("sandbox", "rm", id)).code).toBe(0); // destroying is idempotent
  }, 180_000); // about 25 CLI processes, each a Node start-up: slow on a loaded 2-core machine
});
