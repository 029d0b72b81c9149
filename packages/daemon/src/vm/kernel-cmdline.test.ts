import { describe, expect, it } from "vitest";
import { kernelCmdline } from "./kernel-cmdline.js";

const base = { rootDevice: "/dev/vda", identity: ["fluid.hostname=web-1", "fluid.net=dhcp"] };

describe("kernelCmdline", () => {
  it("a fast image gets busybox init's line, unchanged from before boot modes", () => {
    expect(kernelCmdline({ ...base, boot: "fast", tscKhz: 2_400_000 })).toBe(
      "console=ttyS0 panic=-1 quiet mitigations=off init_on_alloc=0 tsc_early_khz=2400000 root=/dev/vda rw rootfstype=ext4 fluid.hostname=web-1 fluid.net=dhcp",
    );
  });

  it("a systemd image asks the initramfs for systemd and keeps eth0's name", () => {
    expect(kernelCmdline({ ...base, rootDevice: "/dev/vda2", boot: "systemd" })).toBe(
      "console=ttyS0 panic=-1 quiet mitigations=off init_on_alloc=0 root=/dev/vda2 rw rootfstype=ext4 fluid.boot=systemd net.ifnames=0 fluid.hostname=web-1 fluid.net=dhcp",
    );
  });

  it("refuses a root device or a parameter that could smuggle in more parameters", () => {
    expect(() => kernelCmdline({ ...base, boot: "fast", rootDevice: "/dev/vda init=/bin/sh" })).toThrow(
      /invalid root device/,
    );
    expect(() => kernelCmdline({ ...base, boot: "fast", identity: ["fluid.hostname=a init=/bin/sh"] })).toThrow(
      /invalid kernel parameter "fluid.hostname=a init=\/bin\/sh"/,
    );
  });
});
