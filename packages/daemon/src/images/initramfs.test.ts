import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runChecked } from "../system/run.js";
import { cpioFileList, listTree, writeCpio } from "./initramfs.js";

describe("initramfs cpio", () => {
  let dir: string;
  let tree: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "fluid-cpio-"));
    tree = join(dir, "tree");
    await mkdir(join(tree, "modules"), { recursive: true });
    await mkdir(join(tree, "bin"));
    await mkdir(join(tree, "proc"));
    await writeFile(join(tree, "init"), "#!/bin/busybox sh\n", { mode: 0o755 });
    await writeFile(join(tree, "bin/busybox"), "binary");
    await symlink("busybox", join(tree, "bin/sh"));
    await writeFile(join(tree, "modules/virtio.ko"), "module");
    await writeFile(join(tree, "modules/order"), "virtio.ko\n");
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("lists every directory before its contents, in a stable order", async () => {
    expect(await listTree(tree)).toEqual([
      "bin",
      "bin/busybox",
      "bin/sh",
      "init",
      "modules",
      "modules/order",
      "modules/virtio.ko",
      "proc",
    ]);
  });

  it("feeds cpio one relative path per line and refuses paths it cannot represent", () => {
    expect(cpioFileList(["bin", "bin/busybox"])).toBe("bin\nbin/busybox\n");
    expect(() => cpioFileList(["a\nb"])).toThrow(/cannot archive/);
    expect(() => cpioFileList(["/etc/passwd"])).toThrow(/cannot archive/);
  });

  it("writes a newc archive that cpio reads back with the same entries", async () => {
    const archive = join(dir, "initramfs.cpio");
    await writeCpio(tree, archive);
    const listing = await runChecked(["cpio", "--list", "--quiet", "--force-local", `--file=${archive}`]);
    expect(listing.stdout.trim().split("\n")).toEqual(await listTree(tree));
    const verbose = await runChecked(["cpio", "--list", "--verbose", "--quiet", "--force-local", `--file=${archive}`]);
    expect(verbose.stdout).toMatch(/^-rwxr-xr-x\s+1 root\s+root .* init$/m);
    expect(verbose.stdout).toMatch(/^lrwxrwxrwx .* bin\/sh -> busybox$/m);
  });
});
