import { Sandbox } from "e2b";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ConnectedHost, startConnectedHost } from "./lib/connected-host.js";
import { until } from "./lib/wait.js";

/** The official e2b SDK, unmodified, pointed at fluid through its self-hosting settings. */
const runTag = `run-${process.pid}`;

describe("the official e2b SDK against a real server, daemon and tiny VM", () => {
  let host: ConnectedHost;
  let opts: { apiKey: string; apiUrl: string; sandboxUrl: string };
  let sandbox: Sandbox;

  beforeAll(async () => {
    host = await startConnectedHost();
    const { key, server } = host;
    opts = { apiKey: key, apiUrl: `${server.url}/e2b`, sandboxUrl: `${server.url}/e2b/envd` };
    sandbox = await Sandbox.create("tiny", {
      ...opts,
      timeoutMs: 600_000,
      requestTimeoutMs: 300_000,
      metadata: { suite: "e2b-compat", run: runTag },
      envs: { FLUID_E2B_WIDE: "sandbox", FLUID_E2B_OVERRIDE: "sandbox" },
    });
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

  it("a background command answers a handle at once, whose wait gives its output and exit code", async () => {
    const handle = await sandbox.commands.run("sleep 1; echo done", { background: true });
    expect(handle.pid).toBeGreaterThan(1);
    expect(handle.exitCode).toBeUndefined();
    const result = await handle.wait();
    expect([result.stdout, result.exitCode]).toEqual(["done\n", 0]);
  });

  it("commands.list shows a running command by guest pid, connect follows it, and kill ends it", async () => {
    const handle = await sandbox.commands.run("echo started; sleep 300", { background: true });
    const listed = await sandbox.commands.list();
    expect(listed.find((p) => p.pid === handle.pid)).toMatchObject({
      cmd: "/bin/bash",
      args: ["-l", "-c", "echo started; sleep 300"],
    });
    await handle.disconnect();
    const seen: string[] = [];
    const connected = await sandbox.commands.connect(handle.pid, { onStdout: (data) => void seen.push(data) });
    expect(await sandbox.commands.kill(handle.pid)).toBe(true);
    await expect(connected.wait()).rejects.toMatchObject({ exitCode: -1 });
    expect(seen.join("")).toBe("started\n");
    expect((await sandbox.commands.list()).map((p) => p.pid)).not.toContain(handle.pid);
    expect(await sandbox.commands.kill(handle.pid)).toBe(false);
  });

  it("sendStdin feeds a command started with stdin, and closeStdin gives it end of input", async () => {
    const handle = await sandbox.commands.run("cat; echo eof", { background: true, stdin: true });
    await sandbox.commands.sendStdin(handle.pid, "hello\n");
    await handle.closeStdin();
    const result = await handle.wait();
    expect(result.stdout).toBe("hello\neof\n");
  });

  it("a command started without stdin reads end of input at once", async () => {
    expect((await sandbox.commands.run("cat; echo after")).stdout).toBe("after\n");
  });

  it("the sandbox's envVars reach every command, and a command's own envs win", async () => {
    const result = await sandbox.commands.run('echo "$FLUID_E2B_WIDE $FLUID_E2B_OVERRIDE"', {
      envs: { FLUID_E2B_OVERRIDE: "command" },
    });
    expect(result.stdout).toBe("sandbox command\n");
  });

  it("metadata is shown by getInfo and list, and list filters on it", async () => {
    expect((await sandbox.getInfo()).metadata).toEqual({ suite: "e2b-compat", run: runTag });
    const matching = await Sandbox.list({ ...opts, query: { metadata: { run: runTag } } }).nextItems();
    expect(matching.map((s) => s.sandboxId)).toEqual([sandbox.sandboxId]);
    const other = await Sandbox.list({ ...opts, query: { metadata: { run: `${runTag}-other` } } }).nextItems();
    expect(other).toEqual([]);
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

  it("pty.create gets a shell whose stty size follows pty.resize; pty.kill ends it", async () => {
    let text = "";
    const decoder = new TextDecoder();
    const pty = await sandbox.pty.create({
      cols: 100,
      rows: 30,
      onData: (data) => {
        text += decoder.decode(data, { stream: true });
      },
      timeoutMs: 0,
    });
    const input = (line: string) => sandbox.pty.sendInput(pty.pid, new TextEncoder().encode(line));
    await input('echo "S:$(stty size)"\r');
    await until(async () => text.includes("S:30 100"), 60_000, 100);
    await sandbox.pty.resize(pty.pid, { cols: 132, rows: 50 });
    await input('echo "S:$(stty size)"\r');
    await until(async () => text.includes("S:50 132"), 60_000, 100);
    expect(await sandbox.pty.kill(pty.pid)).toBe(true);
    await expect(pty.wait()).resolves.toBeDefined();
  });

  it("kill ends the sandbox, after which the SDK reports it gone", async () => {
    expect(await sandbox.kill()).toBe(true);
    expect(await Sandbox.kill(sandbox.sandboxId, opts)).toBe(false);
  });
});
