import { describe, expect, it } from "vitest";
import { QGA_PORT_NAME, qemuArgs, type VmSpec } from "./qemu.js";

const spec: VmSpec = {
  dir: "/var/lib/fluid/daemon/sandboxes/abc",
  kernel: "/img/tiny/vmlinux",
  initrd: "/img/tiny/initramfs.cpio",
  disk: "/var/lib/fluid/daemon/sandboxes/abc/disk.qcow2",
  memoryMb: 256,
  vcpus: 1,
  accel: "tcg",
  machine: "microvm",
  cmdline: "console=ttyS0 root=/dev/vda",
  netArgs: ["-netdev", "user,id=net0,restrict=on", "-device", "virtio-net-device,netdev=net0"],
};

const after = (args: string[], flag: string) => args[args.indexOf(flag) + 1];

describe("qemuArgs", () => {
  it("boots the kernel directly on microvm with TCG, virtio-mmio devices and no defaults", () => {
    const args = qemuArgs(spec);
    expect(after(args, "-machine")).toBe("microvm");
    expect(after(args, "-accel")).toMatch(/^tcg/);
    expect(args).toContain("-nodefaults");
    expect(after(args, "-kernel")).toBe(spec.kernel);
    expect(after(args, "-initrd")).toBe(spec.initrd);
    expect(args).toContain("virtio-blk-device,drive=root");
    expect(args).not.toContain("-cpu");
  });

  it("exposes the guest agent port and QMP under the VM's directory, daemonized with a pidfile", () => {
    const args = qemuArgs(spec);
    expect(args).toContain(`virtserialport,chardev=agent,name=${QGA_PORT_NAME}`);
    expect(after(args, "-qmp")).toBe(`unix:${spec.dir}/qmp.sock,server=on,wait=off`);
    expect(after(args, "-pidfile")).toBe(`${spec.dir}/qemu.pid`);
    expect(args.at(-1)).toBe("-daemonize");
  });

  it("uses PCI devices on q35 and the host CPU under KVM", () => {
    const args = qemuArgs({ ...spec, machine: "q35", accel: "kvm" });
    expect(args).toContain("virtio-blk-pci,drive=root");
    expect(after(args, "-cpu")).toBe("host");
  });

  it("restores RAM from a file when asked", () => {
    expect(after(qemuArgs({ ...spec, incomingFile: "/s/memory.state" }), "-incoming")).toBe("exec:cat /s/memory.state");
  });

  it("passes the network manager's arguments through unchanged", () => {
    const args = qemuArgs(spec);
    expect(after(args, "-netdev")).toBe("user,id=net0,restrict=on");
  });
});
