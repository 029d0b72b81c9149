import { lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { installFile, installSymlink, removeGuestFiles } from "./guest-files.js";

describe("guest files", () => {
  let dir: string;
  let root: string;
  let outside: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "fluid-guest-files-"));
    root = join(dir, "root");
    outside = join(dir, "host");
    await mkdir(join(root, "usr/sbin"), { recursive: true });
    await mkdir(outside);
    await symlink("usr/sbin", join(root, "sbin"));
    await writeFile(join(dir, "source"), "content");
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("installs files with their mode through relative links inside the image", async () => {
    await installFile(root, join(dir, "source"), "/sbin/tool", 0o750);
    expect(await readFile(join(root, "usr/sbin/tool"), "utf8")).toBe("content");
    expect((await lstat(join(root, "usr/sbin/tool"))).mode & 0o777).toBe(0o750);
    await installSymlink(root, "/fluid/busybox", "/sbin/tool");
    expect(await readlink(join(root, "usr/sbin/tool"))).toBe("/fluid/busybox");
  });

  it("never writes through an absolute symlink to the host", async () => {
    await symlink(outside, join(root, "etc"));
    await expect(installFile(root, join(dir, "source"), "/etc/hostname", 0o644)).rejects.toThrow(
      /resolves outside the image/,
    );
    await writeFile(join(outside, "machine-id"), "host");
    await expect(removeGuestFiles(root, "/etc/machine-id")).rejects.toThrow(/resolves outside the image/);
    expect(await readdir(outside)).toEqual(["machine-id"]);
  });

  it("replaces an existing symlink instead of writing through it", async () => {
    await mkdir(join(root, "etc"));
    await symlink(join(outside, "resolv.conf"), join(root, "etc/resolv.conf"));
    await installFile(root, join(dir, "source"), "/etc/resolv.conf", 0o644);
    expect((await lstat(join(root, "etc/resolv.conf"))).isFile()).toBe(true);
    expect(await readdir(outside)).toEqual([]);
  });

  it("removes files by name or by prefix, and tolerates missing directories", async () => {
    await mkdir(join(root, "etc/ssh"), { recursive: true });
    for (const file of ["ssh_host_rsa_key", "ssh_host_rsa_key.pub", "ssh_host_ed25519_key", "sshd_config"]) {
      await writeFile(join(root, "etc/ssh", file), "");
    }
    await removeGuestFiles(root, "/etc/ssh/ssh_host_*");
    expect(await readdir(join(root, "etc/ssh"))).toEqual(["sshd_config"]);
    await removeGuestFiles(root, "/var/lib/dbus/machine-id");
    await expect(installFile(root, join(dir, "source"), "relative/path", 0o644)).rejects.toThrow(/must be absolute/);
    await expect(installFile(root, join(dir, "source"), "/etc/../x", 0o644)).rejects.toThrow(/normalised/);
  });
});
