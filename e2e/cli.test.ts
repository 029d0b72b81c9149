import { execFile } from "node:child_process";
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDaemon, type TestDaemonProcess } from "./lib/daemon.js";
import { repoRoot } from "./lib/global-setup.js";
import { startServer, type TestServerProcess } from "./lib/server.js";

interface Run {
  code: number;
  stdout: Buffer;
  stderr: string;
}

describe("the built fluid CLI against a real server, daemon and VM", () => {
  let server: TestServerProcess;
  let daemon: TestDaemonProcess | undefined;
  let dir: string;
  let key: string;

  /** The built binary, as installed: `npm run build` first. */
  const fluid = (...args: string[]) =>
    new Promise<Run>((resolve, reject) => {
      execFile(
        process.execPath,
        [join(repoRoot, "packages/cli/bin/fluid.js"), ...args],
        {
          env: { PATH: process.env.PATH ?? "", HOME: dir, FLUID_CONFIG: join(dir, "config.json") },
          encoding: "buffer",
        },
        (err, stdout, stderr) => {
          const code = err ? (err as { code?: unknown }).code : 0;
          if (typeof code !== "number") reject(err);
          else resolve({ code, stdout, stderr: stderr.toString() });
        },
      );
    });
  const json = async (...args: string[]) => {
    const result = await fluid("--json", ...args);
    expect(result.stderr, args.join(" ")).toBe("");
    expect(result.code, args.join(" ")).toBe(0);
    return JSON.parse(result.stdout.toString());
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "fluid-e2e-cli-"));
    server = await startServer();
    ({ key } = await server.bootstrap("acme"));
  });

  afterAll(async () => {
    await daemon?.dispose();
    await server?.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  it("login → token → host → sandbox create → exec → cp both ways → snapshot → rm", async () => {
    const login = await fluid("login", "--server", server.url, "--api-key", key);
    expect(login.code).toBe(0);
    expect(login.stdout.toString()).toContain("Logged in to");
    expect((await stat(join(dir, "config.json"))).mode & 0o777).toBe(0o600);

    const token = await json("token", "create", "e2e-host");
    daemon = await startDaemon({ extraArgs: ["--server", server.grpc, "--insecure", "--token", token.token] });
    const deadline = Date.now() + 30_000;
    while ((await json("host", "ls")).hosts[0]?.status !== "ONLINE") {
      if (Date.now() > deadline) throw new Error("the daemon did not come online");
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect((await fluid("host", "ls")).stdout.toString()).toMatch(/ONLINE .*tiny/);

    const created = await fluid("sandbox", "create", "tiny", "--memory", "256", "--ttl", "10m");
    expect(created.code, created.stderr).toBe(0);
    const id = /^id +([0-9a-f-]{36})$/m.exec(created.stdout.toString())?.[1] ?? "";
    const sandbox = await json("sandbox", "get", id);
    expect(sandbox).toMatchObject({ state: "RUNNING", source_vm: "tiny", memory_mb: 256 });
    expect((await daemon.api.call("GET", `/v1/sandboxes/${id}`)).body.state).toBe("RUNNING");

    const exec = await fluid("sandbox", "exec", sandbox.name, "--", "echo hi from $(hostname); echo oops >&2; exit 3");
    expect(exec).toMatchObject({ code: 3, stderr: "oops\n" });
    expect(exec.stdout.toString()).toBe(`hi from ${sandbox.name}\n`);

    const script = join(dir, "hello.sh");
    await writeFile(script, '#!/bin/sh\necho "hello $1"\n');
    await chmod(script, 0o755);
    expect((await fluid("sandbox", "cp", script, `${id}:/root/`)).code).toBe(0);
    const ran = await fluid("sandbox", "exec", id, "--", "/root/hello.sh", "guest");
    expect({ code: ran.code, stdout: ran.stdout.toString() }).toEqual({ code: 0, stdout: "hello guest\n" });

    const blob = Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 7919) % 256));
    await writeFile(join(dir, "blob.bin"), blob);
    expect((await fluid("sandbox", "cp", join(dir, "blob.bin"), `${id}:/root/blob.bin`)).code).toBe(0);
    expect((await fluid("sandbox", "exec", id, "--", "wc -c < /root/blob.bin")).stdout.toString().trim()).toBe("70000");
    await fluid("sandbox", "exec", id, "--", "cp /root/blob.bin /root/copy.bin && echo tail >> /root/copy.bin");
    expect((await fluid("sandbox", "cp", `${id}:/root/copy.bin`, join(dir, "back.bin"))).code).toBe(0);
    expect((await readFile(join(dir, "back.bin"))).equals(Buffer.concat([blob, Buffer.from("tail\n")]))).toBe(true);
    const toStdout = await fluid("sandbox", "cp", `${id}:/root/hello.sh`, "-");
    expect(toStdout.stdout.toString()).toBe('#!/bin/sh\necho "hello $1"\n');

    const snapshot = await json("sandbox", "snapshot", id, "with-files");
    expect(snapshot).toMatchObject({ sandbox_id: id, name: "with-files", has_memory: false });
    expect(snapshot.size_bytes).toBeGreaterThan(0);
    expect((await fluid("sandbox", "snapshots", id)).stdout.toString()).toMatch(/with-files +no/);

    const history = await json("sandbox", "commands", id);
    expect(history.commands.map((c: { command: string }) => c.command)).toContain("/root/hello.sh guest");

    const removed = await fluid("sandbox", "rm", id);
    expect(removed.code).toBe(0);
    expect(await json("sandbox", "get", id)).toMatchObject({ state: "DESTROYED", end_reason: "user_request" });
    expect((await daemon.api.call("GET", `/v1/sandboxes/${id}`)).body.state).toBe("DESTROYED");
    expect(await fluid("sandbox", "exec", id, "--", "true")).toMatchObject({ code: 2 });
  });
});
