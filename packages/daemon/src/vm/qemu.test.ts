import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  DEFAULT_TCG_CACHE_MB,
  isOurVm,
  killVm,
  launchVm,
  QGA_PORT_NAME,
  qemuArgs,
  TERMINAL_PORTS,
  type VmSpec,
} from "./qemu.js";

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

  it("exposes the guest agent port and QMP under the VM's directory, with a pidfile", () => {
    const args = qemuArgs(spec);
    expect(args).toContain(`virtserialport,chardev=agent,name=${QGA_PORT_NAME}`);
    expect(after(args, "-qmp")).toBe(`unix:${spec.dir}/qmp.sock,server=on,wait=off`);
    expect(after(args, "-pidfile")).toBe(`${spec.dir}/qemu.pid`);
  });

  it("gives every VM an unused first console (the guest's hvc0) and its terminal console ports on unix sockets", () => {
    const args = qemuArgs(spec);
    const consoles = args.filter((arg) => arg.startsWith("virtconsole,"));
    expect(consoles).toHaveLength(TERMINAL_PORTS + 1);
    expect(consoles[0]).toBe("virtconsole,chardev=console0,name=fluid.console");
    expect(args).toContain(`socket,id=term1,path=${spec.dir}/term1.sock,server=on,wait=off`);
    expect(args).toContain(
      `socket,id=term${TERMINAL_PORTS},path=${spec.dir}/term${TERMINAL_PORTS}.sock,server=on,wait=off`,
    );
    expect(args.indexOf(consoles[0] ?? "")).toBeGreaterThan(
      args.indexOf(`virtserialport,chardev=agent,name=${QGA_PORT_NAME}`),
    );
  });

  it("uses PCI devices on q35 and the host CPU under KVM", () => {
    const args = qemuArgs({ ...spec, machine: "q35", accel: "kvm" });
    expect(args).toContain("virtio-blk-pci,drive=root");
    expect(after(args, "-cpu")).toBe("host");
  });

  it("sizes TCG's translation cache from the spec, with a default when the spec leaves it out", () => {
    expect(after(qemuArgs({ ...spec, tcgCacheMb: 16 }), "-accel")).toBe("tcg,tb-size=16");
    expect(after(qemuArgs(spec), "-accel")).toBe(`tcg,tb-size=${DEFAULT_TCG_CACHE_MB}`);
    expect(after(qemuArgs({ ...spec, accel: "kvm", tcgCacheMb: 16 }), "-accel")).toBe("kvm");
  });

  it("restores RAM from a file when asked", () => {
    expect(after(qemuArgs({ ...spec, incomingFile: "/s/memory.state" }), "-incoming")).toBe("exec:cat /s/memory.state");
  });

  it("passes the network manager's arguments through unchanged", () => {
    const args = qemuArgs(spec);
    expect(after(args, "-netdev")).toBe("user,id=net0,restrict=on");
  });
});

/**
 * A stand-in for qemu-system: writes its pidfile, greets on the QMP socket and answers commands;
 * with -daemonize it double-forks as QEMU does, leaving the VM to whoever reaps orphans.
 */
const FAKE_QEMU = `
const { spawn } = require("node:child_process");
const { existsSync, writeFileSync } = require("node:fs");
const { createServer } = require("node:net");
const args = process.argv.slice(2);
const after = (flag) => args[args.indexOf(flag) + 1];
if (!existsSync(after("-kernel"))) {
  console.error("qemu: could not load kernel '" + after("-kernel") + "'");
  process.exit(1);
}
if (args.includes("-daemonize")) {
  spawn(process.execPath, [__filename, ...args.filter((a) => a !== "-daemonize")], { detached: true, stdio: "ignore" }).unref();
  const poll = setInterval(() => existsSync(after("-pidfile")) && process.exit(0), 10);
} else {
  const qmp = after("-qmp").replace(/^unix:/, "").split(",")[0];
  createServer((socket) => {
    socket.write(JSON.stringify({ QMP: { version: {}, capabilities: [] } }) + "\\n");
    let buffer = "";
    socket.on("data", (chunk) => {
      buffer += chunk;
      for (let nl = buffer.indexOf("\\n"); nl !== -1; nl = buffer.indexOf("\\n")) {
        const { id } = JSON.parse(buffer.slice(0, nl));
        buffer = buffer.slice(nl + 1);
        socket.write(JSON.stringify({ return: {}, id }) + "\\n");
      }
    });
  }).listen(qmp, () => writeFileSync(after("-pidfile"), String(process.pid)));
}
`;

describe("launchVm and killVm", () => {
  let scratch: string;
  let binary: string;

  beforeEach(() => {
    scratch = mkdtempSync(join(tmpdir(), "fluid-qemu-"));
    binary = join(scratch, "fake-qemu-system");
    writeFileSync(binary, `#!${process.execPath}\n${FAKE_QEMU}`, { mode: 0o755 });
    writeFileSync(join(scratch, "vmlinux"), "");
    writeFileSync(join(scratch, "disk.qcow2"), "");
  });

  afterEach(() => {
    rmSync(scratch, { recursive: true, force: true });
  });

  const fakeSpec = (): VmSpec => ({
    ...spec,
    dir: scratch,
    kernel: join(scratch, "vmlinux"),
    initrd: undefined,
    disk: join(scratch, "disk.qcow2"),
  });

  it("a destroyed VM's QEMU is reaped, not left <defunct>", async () => {
    const pid = await launchVm(fakeSpec(), binary);
    expect(await isOurVm(pid, scratch)).toBe(true);
    await killVm(pid, scratch);
    expect(existsSync(`/proc/${pid}`)).toBe(false);
  });

  it("a QEMU that exits during start-up fails the launch with its own message", async () => {
    const broken = { ...fakeSpec(), kernel: join(scratch, "missing-vmlinux") };
    await expect(launchVm(broken, binary)).rejects.toThrow(/qemu failed to start: qemu: could not load kernel/);
  });
});
