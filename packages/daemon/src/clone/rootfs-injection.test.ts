import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { guestDir } from "../images/recipes.js";
import { runChecked } from "../system/run.js";
import { makeGuestDisk } from "../testing/fake-guest-disk.js";
import { ExtFilesystem } from "./ext-filesystem.js";
import { prepareClone } from "./hygiene.js";

describe("fluid's guest written into a pulled production disk", () => {
  let dir: string;
  let busybox: string;
  let n = 0;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "fluid-inject-test-"));
    busybox = join(dir, "busybox");
    await writeFile(busybox, "a static busybox\n", { mode: 0o755 });
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  const disk = async (files: Record<string, string>, links: Record<string, string> = {}) => {
    n++;
    const qcow = join(dir, `disk-${n}.qcow2`);
    const raw = join(dir, `disk-${n}.raw`);
    await makeGuestDisk(join(dir, `work-${n}`), qcow, { files, links });
    await runChecked(["qemu-img", "convert", "-f", "qcow2", "-O", "raw", qcow, raw]);
    return { fs: new ExtFilesystem(raw, 0), raw };
  };

  it("adds busybox init, the guest scripts and fluid's inittab, keeping the VM's own inittab beside it", async () => {
    const sysvInittab = "id:2:initdefault:\nsi::sysinit:/etc/init.d/rcS\n";
    const { fs, raw } = await disk({ "/usr/sbin/qemu-ga": "qemu-ga", "/etc/inittab": sysvInittab });
    const changes = await prepareClone(fs, { inject: { busybox } });
    expect(changes.warnings).toEqual([]);
    expect(changes.injected).toEqual([
      "/fluid/busybox",
      "/fluid/init",
      "/fluid/boot",
      "/fluid/agent",
      "/fluid/sshd",
      "/fluid/halt",
      "/fluid/dhcp",
      "/fluid/shutdown",
      "/fluid/machine-id",
      "/etc/inittab.before-fluid",
      "/etc/inittab",
    ]);
    const entries = new Map(((await fs.list("/fluid")) ?? []).map((e) => [e.name, e]));
    expect([...entries.keys()].sort()).toEqual([
      "agent",
      "boot",
      "busybox",
      "dhcp",
      "halt",
      "init",
      "machine-id",
      "shutdown",
      "sshd",
    ]);
    expect(entries.get("busybox")).toMatchObject({ mode: 0o100755 });
    expect(entries.get("init")?.mode).toBe(0o120777);
    const out = join(dir, "out");
    await fs.dump(
      [
        ["/etc/inittab", join(out, "inittab")],
        ["/etc/inittab.before-fluid", join(out, "saved")],
        ["/fluid/boot", join(out, "boot")],
      ],
      dir,
    );
    expect(await readFile(join(out, "inittab"), "utf8")).toBe(
      await readFile(join(guestDir, "rootfs/etc/inittab"), "utf8"),
    );
    expect(await readFile(join(out, "saved"), "utf8")).toBe(sysvInittab);
    expect(await readFile(join(out, "boot"), "utf8")).toBe(await readFile(join(guestDir, "rootfs/fluid/boot"), "utf8"));
    await runChecked(["e2fsck", "-fn", raw]);
    // Once it has the guest, a disk is left as it is.
    expect((await prepareClone(fs, { inject: { busybox } })).injected).toEqual([]);
  });

  it("gives a systemd VM fluid's units and the generator that adds them, and no unit of its own changes", async () => {
    const { fs, raw } = await disk(
      {
        "/usr/sbin/qemu-ga": "qemu-ga",
        "/usr/lib/systemd/systemd": "systemd",
        "/etc/systemd/system/multi-user.target.wants/.keep": "",
      },
      {
        "/sbin/init": "/lib/systemd/systemd",
        "/etc/systemd/system/multi-user.target.wants/nginx.service": "/lib/systemd/system/nginx.service",
      },
    );
    const changes = await prepareClone(fs, { inject: { busybox } });
    expect(changes.warnings).toEqual([]);
    expect(changes.injected).toEqual(
      expect.arrayContaining([
        "/fluid/start-systemd",
        "/fluid/systemd/generator",
        "/fluid/systemd/fluid-agent.service",
        "/etc/systemd/system-generators/fluid",
      ]),
    );
    expect(await fs.readlink("/etc/systemd/system-generators/fluid")).toBe("/fluid/systemd/generator");
    const units = new Map(((await fs.list("/fluid/systemd")) ?? []).map((e) => [e.name, e.mode]));
    expect(units).toEqual(
      new Map([
        ["generator", 0o100755],
        ["fluid-boot.service", 0o100644],
        ["fluid-agent.service", 0o100644],
        ["fluid-sshd.service", 0o100644],
      ]),
    );
    expect((await fs.list("/etc/systemd/system/multi-user.target.wants"))?.map((e) => e.name).sort()).toEqual([
      ".keep",
      "nginx.service",
    ]);
    await runChecked(["e2fsck", "-fn", raw]);
  });

  it("gives a sysvinit VM no systemd units", async () => {
    const { fs } = await disk({ "/usr/sbin/qemu-ga": "qemu-ga", "/sbin/init": "a sysvinit program" });
    const changes = await prepareClone(fs, { inject: { busybox } });
    expect(changes.injected).not.toContain("/fluid/start-systemd");
    expect(await fs.list("/fluid/systemd")).toBeUndefined();
    expect(await fs.list("/etc/systemd")).toBeUndefined();
  });

  it("leaves a disk without the QEMU guest agent alone, saying what to install", async () => {
    const { fs } = await disk({ "/etc/hostname": "db-1\n" });
    const changes = await prepareClone(fs, { inject: { busybox } });
    expect(changes.injected).toEqual([]);
    expect(changes.warnings).toEqual([expect.stringContaining("install qemu-guest-agent")]);
    expect(await fs.list("/fluid")).toBeUndefined();
  });

  it("gives a disk without qemu-ga fluid's copy with its libraries and loader under /fluid/qga", async () => {
    const bundleDir = join(dir, "bundle");
    await runChecked(["mkdir", "-p", join(bundleDir, "lib")]);
    const files = { binary: join(bundleDir, "qemu-ga"), glib: join(bundleDir, "lib", "libglib-2.0.so.0") };
    const loader = join(bundleDir, "lib", "ld-linux-x86-64.so.2");
    for (const file of [files.binary, files.glib, loader]) await writeFile(file, `fake ${file}\n`);
    const { fs } = await disk({ "/etc/hostname": "db-1\n" });
    const changes = await prepareClone(fs, {
      inject: { busybox, guestAgent: async () => ({ binary: files.binary, libraries: [files.glib, loader] }) },
    });
    expect(changes.warnings).toEqual([]);
    expect(changes.injected).toEqual(
      expect.arrayContaining(["/fluid/qga/qemu-ga", "/fluid/qga/libglib-2.0.so.0", "/fluid/qga/ld-linux-x86-64.so.2"]),
    );
    const qga = new Map(((await fs.list("/fluid/qga")) ?? []).map((e) => [e.name, e.mode]));
    expect(qga).toEqual(
      new Map([
        ["qemu-ga", 0o100755],
        ["libglib-2.0.so.0", 0o100755],
        ["ld-linux-x86-64.so.2", 0o100755],
      ]),
    );
  });

  it("says why when fluid's own qemu-ga cannot be had either", async () => {
    const { fs } = await disk({ "/etc/hostname": "db-1\n" });
    const changes = await prepareClone(fs, {
      inject: {
        busybox,
        guestAgent: async () => {
          throw new Error("apt-get download failed");
        },
      },
    });
    expect(changes.injected).toEqual([]);
    expect(changes.warnings).toEqual([expect.stringMatching(/install qemu-guest-agent.*apt-get download failed/)]);
  });

  it("does not touch a /fluid directory that is not fluid's", async () => {
    const { fs } = await disk({ "/usr/sbin/qemu-ga": "qemu-ga", "/fluid/notes.txt": "mine\n" });
    const changes = await prepareClone(fs, { inject: { busybox } });
    expect(changes.injected).toEqual([]);
    expect(changes.warnings).toEqual([expect.stringContaining("not fluid's")]);
    expect((await fs.list("/fluid"))?.map((e) => e.name)).toEqual(["notes.txt"]);
  });
});
