import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { defaultHandlers, startTestServer, TestDaemon, type TestServer } from "@fluid/testkit";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { runFluid } from "../testing.js";

/** Every byte value, twice, with a NUL and invalid UTF-8 early on: what a text path would mangle. */
const binary = Buffer.concat([
  Buffer.from([0, 0xff, 0xfe, 0x80, 0x0a, 0x0d]),
  Buffer.from(Array.from({ length: 512 }, (_, i) => i % 256)),
]);

describe("fluid sandbox cp and files", () => {
  let t: TestServer;
  let daemon: TestDaemon;
  let sandboxId: string;
  let key: string;
  let dir: string;

  const fluid = (args: string[], input?: Buffer) =>
    runFluid(args, {
      env: { FLUID_CONFIG: join(dir, "config.json"), FLUID_SERVER: t.restUrl, FLUID_API_KEY: key },
      ...(input ? { input } : {}),
    });
  const written = () => {
    const value = daemon.commands("writeFile").at(-1)?.payload.value as {
      path: string;
      content: Uint8Array;
      mode: number;
    };
    return { path: value.path, content: Buffer.from(value.content), mode: value.mode };
  };
  const serve = (content: Buffer, truncated = false) => {
    daemon.handlers.readFile = (m) => ({
      case: "fileContent",
      value: { path: m.payload.case === "readFile" ? m.payload.value.path : "", content, truncated },
    });
  };

  beforeAll(async () => {
    t = await startTestServer("pglite");
    const owner = await t.user("owner@example.com");
    await t.org(owner, "acme");
    key = (await t.apiKey(owner, "acme", "admin")).key;
    daemon = await TestDaemon.connect(t.grpcUrl, { token: (await t.hostToken(owner, "acme")).token, keepAlive: true });
    const created = await t.call("POST", "/v1/orgs/acme/sandboxes", {
      as: { key },
      body: { source_vm: "tiny", name: "files" },
    });
    sandboxId = created.body.id;
  });

  afterAll(async () => {
    daemon.abort();
    await t.close();
  });

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "fluid-cli-files-"));
    daemon.handlers = { ...defaultHandlers };
  });

  afterEach(() => rm(dir, { recursive: true, force: true }));

  it("uploads binary-safe, with --mode or the local file's mode, and into a directory by name", async () => {
    const local = join(dir, "tool.bin");
    await writeFile(local, binary);
    await chmod(local, 0o640);

    const explicit = await fluid(["sandbox", "cp", local, `${sandboxId}:/usr/local/bin/tool`, "--mode", "0755"]);
    expect(explicit).toMatchObject({ code: 0, stdout: `Copied 518 B to ${sandboxId}:/usr/local/bin/tool\n` });
    expect(written()).toEqual({ path: "/usr/local/bin/tool", content: binary, mode: 0o755 });

    const byName = await fluid(["--json", "sandbox", "cp", local, "files:/root/"]);
    expect(byName.code).toBe(0);
    expect(JSON.parse(byName.stdout)).toEqual({
      direction: "upload",
      sandbox_id: sandboxId,
      path: "/root/tool.bin",
      local,
      size: binary.length,
    });
    expect(written()).toEqual({ path: "/root/tool.bin", content: binary, mode: 0o640 });
  });

  it("uploads stdin with -", async () => {
    const result = await fluid(["sandbox", "cp", "-", "files:/tmp/from-stdin"], binary);
    expect(result.code).toBe(0);
    expect(written()).toEqual({ path: "/tmp/from-stdin", content: binary, mode: 0 });
  });

  it("downloads binary-safe to a file, into a directory, or to stdout", async () => {
    serve(binary);
    const target = join(dir, "copy.bin");
    const toFile = await fluid(["sandbox", "cp", "files:/var/lib/blob", target, "--mode", "0600"]);
    expect(toFile).toMatchObject({ code: 0, stdout: `Copied 518 B from files:/var/lib/blob to ${target}\n` });
    expect((await readFile(target)).equals(binary)).toBe(true);
    expect((await stat(target)).mode & 0o777).toBe(0o600);
    expect(daemon.commands("readFile").at(-1)?.payload.value).toMatchObject({ sandboxId, path: "/var/lib/blob" });

    await mkdir(join(dir, "out"));
    const intoDir = await fluid(["--json", "sandbox", "cp", `${sandboxId}:/etc/blob.dat`, join(dir, "out")]);
    expect(JSON.parse(intoDir.stdout)).toEqual({
      direction: "download",
      sandbox_id: sandboxId,
      path: "/etc/blob.dat",
      local: join(dir, "out", "blob.dat"),
      size: binary.length,
    });
    expect((await readFile(join(dir, "out", "blob.dat"))).equals(binary)).toBe(true);

    const toStdout = await fluid(["sandbox", "cp", "files:/etc/blob.dat", "-"]);
    expect(toStdout.code).toBe(0);
    expect(toStdout.stdoutBytes.equals(binary)).toBe(true);
  });

  it("refuses to write a truncated download", async () => {
    serve(binary.subarray(0, 10), true);
    const target = join(dir, "partial");
    const result = await fluid(["sandbox", "cp", "files:/var/log/huge", target]);
    expect(result).toMatchObject({
      code: 1,
      stderr: "fluid: files:/var/log/huge is larger than the server's file limit; nothing was written\n",
    });
    await expect(stat(target)).rejects.toMatchObject({ code: "ENOENT" });
  });

  it("explains bad copies: no sandbox side, two sandbox sides, relative guest path, missing local file", async () => {
    const cases: Array<[string[], number, string]> = [
      [["a", "b"], 2, "fluid: one side must be inside a sandbox: SANDBOX:/absolute/path\n"],
      [["files:/a", "files:/b"], 2, "fluid: copy between two sandboxes through a local file; one side must be local\n"],
      [
        ["files:etc/hosts", "x"],
        2,
        'fluid: the path inside the sandbox must be absolute: files:/…, got "files:etc/hosts" (./files:etc/hosts for a local file)\n',
      ],
      [[join(dir, "missing"), "files:/tmp/x"], 4, `fluid: ${join(dir, "missing")}: no such file or directory\n`],
      [[dir, "files:/tmp/x"], 2, `fluid: ${dir} is a directory; cp copies single files (tar a directory first)\n`],
      [["files:/etc/hosts", "-", "--json"], 2, ""],
      [["-", "files:/tmp/"], 2, "fluid: name the file to create when copying from stdin: SANDBOX:/dir/name\n"],
      [["x", "files:/tmp/x", "--mode", "rwx"], 2, ""],
    ];
    for (const [args, code, stderr] of cases) {
      const result = await fluid(["sandbox", "cp", ...args]);
      expect(result.code, args.join(" ")).toBe(code);
      if (stderr) expect(result.stderr).toBe(stderr);
    }
  });

  it("files lists a directory as a table or JSON", async () => {
    const listing = await fluid(["sandbox", "files", "files", "/etc"]);
    expect(listing).toMatchObject({
      code: 0,
      stdout: "NAME   TYPE  SIZE  MODIFIED\nhosts  file  42    2023-11-14T22:13:20.000Z\n",
    });
    expect(daemon.commands("listFiles").at(-1)?.payload.value).toMatchObject({ sandboxId, path: "/etc" });
    const json = JSON.parse((await fluid(["--json", "sandbox", "files", sandboxId])).stdout);
    expect(json).toEqual({
      path: "/",
      entries: [{ name: "hosts", type: "file", size: 42, modified_at: "2023-11-14T22:13:20.000Z" }],
    });
    expect((await fluid(["sandbox", "files", sandboxId, "etc"])).code).toBe(2);
  });
});
