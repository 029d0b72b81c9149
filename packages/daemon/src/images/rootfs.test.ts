import { lstat, mkdir, mkdtemp, readlink, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { guestDir, systemdFiles } from "./recipes.js";
import { installFluid, parseLdd } from "./rootfs.js";

describe("parseLdd", () => {
  it("collects resolved libraries and the loader, skipping the vDSO", () => {
    const output = [
      "\tlinux-vdso.so.1 (0x00007ffd1a7f4000)",
      "\tlibglib-2.0.so.0 => /lib/x86_64-linux-gnu/libglib-2.0.so.0 (0x00007f0e8e564000)",
      "\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f0e8e29a000)",
      "\t/lib64/ld-linux-x86-64.so.2 (0x00007f0e8e7e9000)",
      "\tlibpcre2-8.so.0 => /lib/x86_64-linux-gnu/libpcre2-8.so.0 (0x00007f0e8e200000)",
      "\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f0e8e29a000)",
      "",
    ].join("\n");
    expect(parseLdd(output)).toEqual({
      libraries: [
        "/lib/x86_64-linux-gnu/libglib-2.0.so.0",
        "/lib/x86_64-linux-gnu/libc.so.6",
        "/lib64/ld-linux-x86-64.so.2",
        "/lib/x86_64-linux-gnu/libpcre2-8.so.0",
      ],
      missing: [],
    });
  });

  it("reports libraries that are not found", () => {
    const output =
      "\tliburing.so.2 => not found\n\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f0e8e29a000)\n";
    expect(parseLdd(output)).toEqual({ libraries: ["/lib/x86_64-linux-gnu/libc.so.6"], missing: ["liburing.so.2"] });
  });

  it("yields nothing for a static binary", () => {
    expect(parseLdd("\tnot a dynamic executable\n")).toEqual({ libraries: [], missing: [] });
    expect(parseLdd("\tstatically linked\n")).toEqual({ libraries: [], missing: [] });
  });
});

describe("installFluid", () => {
  const withRoot = async (test: (root: string, busybox: string) => Promise<void>) => {
    const dir = await mkdtemp(join(tmpdir(), "fluid-install-"));
    try {
      await writeFile(join(dir, "busybox"), "busybox");
      const root = join(dir, "root");
      await mkdir(join(root, "usr/sbin"), { recursive: true });
      await symlink("usr/sbin", join(root, "sbin"));
      await test(root, join(dir, "busybox"));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  };

  it("links the systemd generator when the recipe carries fluid's units", () =>
    withRoot(async (root, busybox) => {
      await installFluid(root, busybox, systemdFiles, guestDir);
      expect(await readlink(join(root, "etc/systemd/system-generators/fluid"))).toBe("/fluid/systemd/generator");
      expect((await lstat(join(root, "fluid/systemd/fluid-agent.service"))).mode & 0o777).toBe(0o644);
    }));

  it("adds no generator without the units", () =>
    withRoot(async (root, busybox) => {
      await installFluid(root, busybox, [], guestDir);
      await expect(lstat(join(root, "etc/systemd"))).rejects.toThrow(/ENOENT/);
    }));

  it("points missing shutdown commands at /fluid/shutdown, which works under either init, and keeps the image's own", () =>
    withRoot(async (root, busybox) => {
      await writeFile(join(root, "usr/sbin/reboot"), "the image's reboot");
      await installFluid(root, busybox, [], guestDir);
      for (const command of ["shutdown", "poweroff", "halt"]) {
        expect(await readlink(join(root, "usr/sbin", command))).toBe("/fluid/shutdown");
      }
      expect((await lstat(join(root, "usr/sbin/reboot"))).isFile()).toBe(true);
    }));
});
