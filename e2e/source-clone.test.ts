import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { SourceImages } from "../packages/daemon/dist/clone/source-images.js";
// The daemon as built (dist), the same code the fluid-daemon binary runs.
import { ImageStore } from "../packages/daemon/dist/images/store.js";
import { startDaemon, type TestDaemonProcess } from "./lib/daemon.js";
import { buildImage } from "./lib/global-setup.js";

const missing = ["/usr/sbin/debugfs", "/bin/busybox"].filter((path) => !existsSync(path));

/**
 * A production VM has its own init system and none of fluid's guest files, and may not have the QEMU
 * guest agent either. Its pulled disk gets them written in (nothing else changes) and boots as a
 * sandbox under its own systemd. The "production disk" here is debian-12 with /fluid, fluid's
 * inittab, its generator link and qemu-ga taken out, and /sbin/init linked to systemd as
 * systemd-sysv has it on a Debian server.
 */
describe.skipIf(missing.length > 0)(
  `a pulled disk without fluid's guest boots as a sandbox${missing.length > 0 ? ` (skipped: needs ${missing.join(", ")})` : ""}`,
  () => {
    let dir: string;
    let store: ImageStore;
    let daemon: TestDaemonProcess | undefined;
    let image: string | undefined;

    beforeAll(async () => {
      const imageDir = inject("imageDir");
      buildImage("debian-12", imageDir);
      store = new ImageStore(imageDir);
      dir = await mkdtemp(join(tmpdir(), "fluid-e2e-clone-"));
    });

    afterAll(async () => {
      await daemon?.dispose();
      if (image) await store.remove(image).catch(() => undefined);
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    it("gets the guest scripts, fluid's units and qemu-ga written in, boots its own systemd, and runs commands", async () => {
      const base = await store.get("debian-12");
      const raw = join(dir, "plain.raw");
      execFileSync("qemu-img", ["convert", "-f", "qcow2", "-O", "raw", base.disk, raw]);
      const strip = [
        ...["agent", "boot", "busybox", "dhcp", "halt", "init", "shutdown", "sshd", "machine-id", "start-systemd"],
        ...["generator", "fluid-boot.service", "fluid-agent.service", "fluid-sshd.service"].map((f) => `systemd/${f}`),
      ].map((f) => `rm /fluid/${f}`);
      const production = [
        "rmdir /fluid/systemd",
        "rmdir /fluid",
        "rm /etc/inittab",
        "rm /usr/sbin/qemu-ga",
        "rm /etc/systemd/system-generators/fluid",
        "rmdir /etc/systemd/system-generators",
        "symlink /usr/sbin/init /lib/systemd/systemd",
      ];
      await writeFile(join(dir, "strip.cmds"), `${[...strip, ...production].join("\n")}\n`);
      execFileSync("debugfs", ["-w", "-f", join(dir, "strip.cmds"), raw], { stdio: "ignore" });
      const plain = join(dir, "plain.qcow2");
      execFileSync("qemu-img", ["convert", "-f", "raw", "-O", "qcow2", raw, plain]);
      await rm(raw);

      const pulled = await new SourceImages(store, { fallbackImage: "debian-12" }).pull({
        hostId: "e2e-clone",
        vm: `plain-${process.pid}`,
        fresh: true,
        copy: async () => ({
          layers: [{ path: plain, format: "qcow2" }],
          disk: { type: "file", device: "disk", target: "vda", source: "/var/lib/libvirt/images/plain.qcow2" },
          remoteLayers: [],
          bytesCopied: (await stat(plain)).size,
          capturedAt: new Date().toISOString(),
        }),
      });
      image = pulled.image;
      expect(pulled).toMatchObject({ fluidGuest: true, kernelFrom: "image:debian-12" });
      expect(pulled.injected).toEqual(
        expect.arrayContaining([
          "/fluid/init",
          "/fluid/boot",
          "/etc/inittab",
          "/fluid/qga/qemu-ga",
          "/fluid/start-systemd",
          "/etc/systemd/system-generators/fluid",
        ]),
      );
      expect((await store.manifest(image))?.boot).toBe("systemd");

      daemon = await startDaemon();
      const created = await daemon.api.create({ image, memory_mb: 512 });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      const run = await daemon.api.run(
        created.body.id,
        "readlink /proc/1/exe; cat /etc/os-release | grep ^ID=; test -e /usr/sbin/qemu-ga || echo no-own-agent; systemctl is-active fluid-agent",
      );
      expect(run.body).toMatchObject({
        exit_code: 0,
        stdout: "/usr/lib/systemd/systemd\nID=debian\nno-own-agent\nactive\n",
      });
    });
  },
);
