import { describe, expect, it } from "vitest";
import type { SandboxRow } from "../state/schema.js";
import { userNet } from "../testing/fake-sandbox-host.js";
import { vmSpec } from "./boot.js";

const row = { name: "web-1", dir: "/state/sandboxes/s1", memory_mb: 512, vcpus: 2 } as SandboxRow;
const image = { kernel: "/images/vmlinuz", initrd: undefined, rootDevice: "/dev/vda2", boot: "systemd" as const };

describe("vmSpec", () => {
  it("boots the sandbox's shape on its disk, with its hostname and root device on the kernel command line", () => {
    const spec = vmSpec(
      { accel: "kvm", tscKhz: 2_000_000, tcgCacheMb: 32, machine: "q35" },
      row,
      "/d.qcow2",
      image,
      userNet,
    );
    expect(spec).toMatchObject({ dir: row.dir, disk: "/d.qcow2", memoryMb: 512, vcpus: 2, machine: "q35" });
    expect(spec.cmdline).toContain("root=/dev/vda2");
    expect(spec.cmdline).toContain("fluid.hostname=web-1");
    expect(spec.cmdline).not.toContain("tsc_early_khz");
    expect(spec.incomingFile).toBeUndefined();
  });

  it("pins the TSC frequency only under TCG, and resumes RAM from a file when given one", () => {
    const spec = vmSpec(
      { accel: "tcg", tscKhz: 2_000_000, tcgCacheMb: 32, machine: "microvm" },
      row,
      "/d",
      image,
      userNet,
      "/m",
    );
    expect(spec.cmdline).toContain("tsc_early_khz=2000000");
    expect(spec.incomingFile).toBe("/m");
  });
});
