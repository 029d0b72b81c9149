import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runChecked } from "../system/run.js";
import { makeGuestDisk } from "../testing/fake-guest-disk.js";
import { ExtFilesystem } from "./ext-filesystem.js";
import { prepareClone } from "./hygiene.js";

const identity = {
  "/etc/ssh/ssh_host_ed25519_key": "PRIVATE",
  "/etc/ssh/ssh_host_ed25519_key.pub": "ssh-ed25519 AAAA source",
  "/etc/ssh/ssh_host_rsa_key": "PRIVATE",
  "/etc/ssh/sshd_config": "PermitRootLogin no\n",
  "/etc/machine-id": "0123456789abcdef0123456789abcdef\n",
  "/var/lib/systemd/random-seed": "seed",
  "/etc/udev/rules.d/70-persistent-net.rules": 'SUBSYSTEM=="net", ATTR{address}=="52:54:00:aa:bb:cc", NAME="eth0"\n',
  "/etc/hostname": "web-1\n",
  "/etc/netplan/50-cloud-init.yaml":
    "network:\n  ethernets:\n    ens3:\n      match:\n        macaddress: 52:54:00:aa:bb:cc\n      set-name: ens3\n      dhcp4: true\n",
  "/etc/netplan/01-plain.yaml": "network:\n  ethernets:\n    eth0:\n      dhcp4: true\n",
  "/etc/systemd/network/10-uplink.link": "[Match]\nMACAddress=52:54:00:aa:bb:cc\n\n[Link]\nName=uplink\n",
};

describe("clone hygiene on a pulled disk", () => {
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "fluid-hygiene-test-"));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  for (const partitioned of [false, true]) {
    it(`removes host keys, the machine id, the random seed and MAC-pinned rules${partitioned ? " (partitioned disk)" : ""}`, async () => {
      const qcow = join(dir, `disk-${partitioned}.qcow2`);
      const raw = join(dir, `disk-${partitioned}.raw`);
      await makeGuestDisk(join(dir, `work-${partitioned}`), qcow, { files: identity, partitioned });
      await runChecked(["qemu-img", "convert", "-f", "qcow2", "-O", "raw", qcow, raw]);
      const fs = new ExtFilesystem(raw, partitioned ? 1024 * 1024 : 0);

      const { scrubbed: changed } = await prepareClone(fs, { inject: false });
      expect(changed.sort()).toEqual(
        [
          "/etc/machine-id",
          "/etc/ssh/ssh_host_ed25519_key",
          "/etc/ssh/ssh_host_ed25519_key.pub",
          "/etc/ssh/ssh_host_rsa_key",
          "/etc/udev/rules.d/70-persistent-net.rules",
          "/var/lib/systemd/random-seed",
          "/etc/netplan/50-cloud-init.yaml",
          "/etc/systemd/network/10-uplink.link",
        ].sort(),
      );
      // MAC-pinned network configuration is set aside under a name nothing reads; the rest stays.
      expect((await fs.list("/etc/netplan"))?.map((e) => e.name).sort()).toEqual([
        "01-plain.yaml",
        "50-cloud-init.yaml.fluid-mac-pinned",
      ]);
      expect((await fs.list("/etc/systemd/network"))?.map((e) => e.name)).toEqual(["10-uplink.link.fluid-mac-pinned"]);
      expect((await fs.list("/etc/ssh"))?.map((e) => e.name)).toEqual(["sshd_config"]);
      expect((await fs.list("/var/lib/systemd"))?.map((e) => e.name)).toEqual([]);
      const out = join(dir, `out-${partitioned}`);
      await fs.dump(
        [
          ["/etc/machine-id", join(out, "machine-id")],
          ["/etc/hostname", join(out, "hostname")],
        ],
        dir,
      );
      expect((await stat(join(out, "machine-id"))).size).toBe(0);
      expect(await readFile(join(out, "hostname"), "utf8")).toBe("web-1\n");
      // The filesystem is still consistent (e2fsck reads a partition only as a file of its own).
      let filesystem = raw;
      if (partitioned) {
        filesystem = join(dir, "part.raw");
        await runChecked(["dd", `if=${raw}`, `of=${filesystem}`, "bs=1M", "skip=1", "status=none"]);
      }
      await runChecked(["e2fsck", "-fn", filesystem]);
      expect((await prepareClone(fs, { inject: false })).scrubbed).toEqual(["/etc/machine-id"]);
    });
  }
});
