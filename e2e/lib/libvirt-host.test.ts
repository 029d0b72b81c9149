import { existsSync, readdirSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { missingForLibvirtHost, startLibvirtHost } from "./libvirt-host.js";

const missing = missingForLibvirtHost();

/**
 * Runs its arguments (after the scratch dir) in a mount namespace that looks like a machine where
 * only libvirt-daemon was installed, whatever this one has: no /var/lib/libvirt, /var/cache/libvirt
 * or /var/log/libvirt, and no account of libvirt-daemon-system's (libvirt-qemu, libvirt, …).
 */
const freshMachine = `set -e
fresh=$1
shift
for dir in /var/lib /var/cache /var/log; do mount -t tmpfs -o mode=755 fluid-e2e-fresh "$dir"; done
for db in passwd group; do
  grep -v '^libvirt' "/etc/$db" > "$fresh/$db"
  mount --bind "$fresh/$db" "/etc/$db"
done
exec "$@"
`;

const libvirtPaths = ["/etc/libvirt", "/var/lib/libvirt", "/var/cache/libvirt", "/var/log/libvirt", "/run/libvirt"];

/** What a test libvirt host must not change on this machine. */
function machineState() {
  return {
    paths: Object.fromEntries(libvirtPaths.map((path) => [path, existsSync(path) ? readdirSync(path).sort() : null])),
    passwd: readFileSync("/etc/passwd", "utf8"),
    group: readFileSync("/etc/group", "utf8"),
  };
}

describe.skipIf(missing.length > 0)(
  `test libvirt host${missing.length > 0 ? ` (skipped: needs ${missing.join(", ")})` : ""}`,
  () => {
    let dir: string;
    beforeEach(async () => {
      dir = await mkdtemp(join(tmpdir(), "fluid-e2e-libvirt-host-"));
    });
    afterEach(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it("libvirt host starts on a machine without libvirt-daemon-system's directories and users", async () => {
      const fresh = join(dir, "fresh");
      await mkdir(fresh);
      const within = ["/usr/bin/unshare", "--mount", "--propagation", "private", "--"];
      const host = await startLibvirtHost(dir, { within: [...within, "/bin/sh", "-c", freshMachine, "sh", fresh] });
      try {
        expect(host.virsh("version")).toMatch(/Running hypervisor: QEMU/);
      } finally {
        await host.stop();
      }
    });

    it("libvirt host leaves this machine's libvirt directories and accounts as it found them", async () => {
      const before = machineState();
      const host = await startLibvirtHost(dir);
      await host.stop();
      expect(machineState()).toEqual(before);
    });
  },
);
