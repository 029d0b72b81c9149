import { Sandbox } from "e2b";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ConnectedHost, startConnectedHost } from "./lib/connected-host.js";

/** The official e2b SDK, unmodified, pointed at fluid through its self-hosting settings. */
describe("the official e2b SDK against a real server, daemon and tiny VM", () => {
  let host: ConnectedHost;
  let opts: { apiKey: string; apiUrl: string; sandboxUrl: string };
  let sandbox: Sandbox;

  beforeAll(async () => {
    host = await startConnectedHost();
    const { key, server } = host;
    opts = { apiKey: key, apiUrl: `${server.url}/e2b`, sandboxUrl: `${server.url}/e2b/envd` };
    sandbox = await Sandbox.create("tiny", { ...opts, timeoutMs: 600_000, requestTimeoutMs: 300_000 });
  });

  afterAll(async () => {
    await sandbox?.kill().catch(() => undefined);
    await host?.dispose();
  });

  it("Sandbox.create answers a running sandbox that Sandbox.list shows", async () => {
    const listed = await Sandbox.list(opts).nextItems();
    expect(listed.map((s) => [s.sandboxId, s.templateId, s.state])).toContainEqual([
      sandbox.sandboxId,
      "tiny",
      "running",
    ]);
  });

  it("commands.run hands output to onStdout and answers the exit code", async () => {
    const seen: string[] = [];
    const result = await sandbox.commands.run("echo one; echo two; echo oops >&2", {
      onStdout: (data) => {
        seen.push(data);
      },
    });
    expect(result.exitCode).toBe(0);
    expect(seen.join("")).toBe("one\ntwo\n");
    expect(result.stderr).toBe("oops\n");
  });

  it("commands.run honours cwd and envs", async () => {
    const result = await sandbox.commands.run('pwd; echo "$GREETING"', { cwd: "/tmp", envs: { GREETING: "hello" } });
    expect(result.stdout).toBe("/tmp\nhello\n");
  });

  it("commands.run reports a non-zero exit as the SDK's CommandExitError", async () => {
    await expect(sandbox.commands.run("exit 3")).rejects.toMatchObject({ exitCode: 3 });
  });

  it("files.write, read, list, exists, rename, makeDir, getInfo and remove work on the guest", async () => {
    await sandbox.files.write("/tmp/e2b/hello.txt", "hi from e2b\n");
    expect(await sandbox.files.read("/tmp/e2b/hello.txt")).toBe("hi from e2b\n");
    expect((await sandbox.files.list("/tmp/e2b")).map((e) => [e.name, e.type])).toEqual([["hello.txt", "file"]]);
    expect(await sandbox.files.makeDir("/tmp/e2b/sub")).toBe(true);
    expect(await sandbox.files.makeDir("/tmp/e2b/sub")).toBe(false);
    const moved = await sandbox.files.rename("/tmp/e2b/hello.txt", "/tmp/e2b/sub/moved.txt");
    expect(moved.path).toBe("/tmp/e2b/sub/moved.txt");
    const info = await sandbox.files.getInfo("/tmp/e2b/sub/moved.txt");
    expect([info.type, info.size]).toEqual(["file", 12]);
    await sandbox.files.remove("/tmp/e2b/sub");
    expect(await sandbox.files.exists("/tmp/e2b/sub/moved.txt")).toBe(false);
  });

  it("Sandbox.connect and setTimeout reach the same sandbox and move its end", async () => {
    const same = await Sandbox.connect(sandbox.sandboxId, opts);
    await same.setTimeout(1_200_000);
    const info = await same.getInfo();
    expect(info.endAt.getTime()).toBeGreaterThan(Date.now() + 1_100_000);
  });

  it("pty answers a clear not-supported error", async () => {
    await expect(sandbox.pty.create({ cols: 80, rows: 24, onData: () => undefined })).rejects.toThrow(
      /pty is not supported by fluid's E2B-compatible API/,
    );
  });

  it("kill ends the sandbox, after which the SDK reports it gone", async () => {
    expect(await sandbox.kill()).toBe(true);
    expect(await Sandbox.kill(sandbox.sandboxId, opts)).toBe(false);
  });
});
