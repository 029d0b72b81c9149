import { afterEach, describe, expect, it } from "vitest";
import { exited, fakeSandboxHost } from "../testing/fake-sandbox-host.js";
import { listFiles, parseStatLines, readFile, writeFile } from "./files.js";

describe("parseStatLines", () => {
  it("turns busybox stat output into typed, sorted entries relative to the directory", () => {
    const output = [
      "regular file|12|1700000000|/etc/hostname",
      "directory|4096|1700000001|/etc/ssh",
      "symbolic link|7|1700000002|/etc/mtab",
      "regular empty file|0|1700000003|/etc/a|b",
      "fifo|0|1700000004|/etc/pipe",
    ].join("\n");
    expect(parseStatLines(output, "/etc")).toEqual([
      { name: "a|b", type: "file", size: 0, modifiedUnix: 1700000003 },
      { name: "hostname", type: "file", size: 12, modifiedUnix: 1700000000 },
      { name: "mtab", type: "symlink", size: 7, modifiedUnix: 1700000002 },
      { name: "pipe", type: "other", size: 0, modifiedUnix: 1700000004 },
      { name: "ssh", type: "directory", size: 4096, modifiedUnix: 1700000001 },
    ]);
  });
});

describe("guest files", () => {
  let host: Awaited<ReturnType<typeof fakeSandboxHost>>;
  afterEach(() => host.close());

  it("gives a new file 0644 (qemu-ga makes it 0666) and leaves an existing file's mode alone", async () => {
    host = await fakeSandboxHost();
    await host.insert({ id: "s1" });
    await writeFile(host.ctx, "s1", "/etc/motd", Buffer.from("hi"));
    await writeFile(host.ctx, "s1", "/etc/motd", Buffer.from("again"));
    await writeFile(host.ctx, "s1", "/usr/bin/tool", Buffer.from("#!"), 0o755);
    expect(host.guest.calls.filter((c) => c.startsWith("chmod"))).toEqual([
      "chmod 644 /etc/motd",
      "chmod 755 /usr/bin/tool",
    ]);
    expect(await readFile(host.ctx, "s1", "/etc/motd", 3)).toEqual({ data: Buffer.from("aga"), truncated: true });
  });

  it("refuses relative paths, bad modes and sandboxes that are not running", async () => {
    host = await fakeSandboxHost();
    await host.insert({ id: "s1" });
    await host.insert({ id: "off", state: "STOPPED" });
    await expect(writeFile(host.ctx, "s1", "etc/motd", Buffer.from(""))).rejects.toMatchObject({
      code: "invalid_request",
    });
    await expect(writeFile(host.ctx, "s1", "/f", Buffer.from(""), 0o10000)).rejects.toMatchObject({
      code: "invalid_request",
    });
    await expect(readFile(host.ctx, "off", "/f", 10)).rejects.toMatchObject({ code: "invalid_state" });
  });

  it("lists a directory through find and busybox stat, and names a failure not_found", async () => {
    host = await fakeSandboxHost();
    await host.insert({ id: "s1" });
    host.guest.answer = (argv) =>
      argv[1] === "/etc" ? exited(0, "directory|4096|1|/etc/ssh\n") : exited(1, "", "No such file or directory");
    expect(await listFiles(host.ctx, "s1", "/etc")).toEqual([
      { name: "ssh", type: "directory", size: 4096, modifiedUnix: 1 },
    ]);
    await expect(listFiles(host.ctx, "s1", "/nope")).rejects.toMatchObject({
      code: "not_found",
      message: "cannot list /nope: No such file or directory",
    });
  });
});
