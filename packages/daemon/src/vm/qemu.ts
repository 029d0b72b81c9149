import { readFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { run } from "../system/run.js";
import type { Accel } from "./accel.js";

export const QGA_PORT_NAME = "org.qemu.guest_agent.0";

/** Everything needed to start one VM; the same spec relaunches it after a stop or a daemon restart. */
export interface VmSpec {
  /** Per-VM directory holding sockets, pidfile and logs; also marks the process as ours. */
  dir: string;
  kernel: string;
  initrd?: string | undefined;
  disk: string;
  memoryMb: number;
  vcpus: number;
  accel: Accel;
  machine: "microvm" | "q35";
  /** Kernel command line (the runner adds nothing). */
  cmdline: string;
  /** QEMU -netdev/-device arguments from the network manager. */
  netArgs: string[];
  /** Restore guest RAM from this file (QEMU `-incoming`); the VM then starts paused. */
  incomingFile?: string | undefined;
}

export const vmPaths = (dir: string) => ({
  qmp: join(dir, "qmp.sock"),
  agent: join(dir, "agent.sock"),
  pidfile: join(dir, "qemu.pid"),
  serial: join(dir, "serial.log"),
});

/** The QEMU argument vector for a spec (microvm: virtio-mmio devices, no firmware, direct kernel boot). */
export function qemuArgs(spec: VmSpec, binary = "qemu-system-x86_64"): string[] {
  const paths = vmPaths(spec.dir);
  const microvm = spec.machine === "microvm";
  const device = (kind: "blk" | "serial") => (microvm ? `virtio-${kind}-device` : `virtio-${kind}-pci`);
  return [
    binary,
    "-name",
    `fluid-${basename(spec.dir)}`,
    "-machine",
    microvm ? "microvm" : "q35",
    "-accel",
    spec.accel === "tcg" ? "tcg,tb-size=64" : "kvm",
    ...(spec.accel === "kvm" ? ["-cpu", "host"] : []),
    "-m",
    String(spec.memoryMb),
    "-smp",
    String(spec.vcpus),
    "-nodefaults",
    "-no-user-config",
    "-display",
    "none",
    "-no-reboot",
    "-kernel",
    spec.kernel,
    ...(spec.initrd ? ["-initrd", spec.initrd] : []),
    "-append",
    spec.cmdline,
    "-drive",
    `file=${spec.disk},format=qcow2,if=none,id=root,cache=unsafe,discard=unmap`,
    "-device",
    `${device("blk")},drive=root`,
    "-device",
    device("serial"),
    "-chardev",
    `socket,id=agent,path=${paths.agent},server=on,wait=off`,
    "-device",
    `virtserialport,chardev=agent,name=${QGA_PORT_NAME}`,
    "-qmp",
    `unix:${paths.qmp},server=on,wait=off`,
    "-serial",
    `file:${paths.serial}`,
    ...spec.netArgs,
    ...(spec.incomingFile ? ["-incoming", `exec:cat ${spec.incomingFile}`] : []),
    "-pidfile",
    paths.pidfile,
    "-daemonize",
  ];
}

/**
 * Starts QEMU daemonized (the VM outlives daemon restarts) and returns its pid. QEMU only returns
 * once the VM is set up, so a bad argument or missing file fails here with QEMU's own message.
 */
export async function launchVm(spec: VmSpec, binary?: string): Promise<number> {
  for (const path of [spec.kernel, spec.disk, spec.dir, ...(spec.initrd ? [spec.initrd] : [])]) {
    if (!path.startsWith("/")) throw new Error(`VM paths must be absolute: ${path}`);
  }
  const argv = qemuArgs(spec, binary);
  const result = await run(argv, { timeoutMs: 60_000 });
  if (result.code !== 0) {
    const reason = result.stderr.trim().split("\n").slice(-3).join(" | ") || `exit ${result.code ?? result.signal}`;
    throw new Error(`qemu failed to start: ${reason}`);
  }
  const pid = await readPid(vmPaths(spec.dir).pidfile);
  if (!pid) throw new Error("qemu started but wrote no pidfile");
  return pid;
}

export async function readPid(pidfile: string): Promise<number | undefined> {
  try {
    const pid = Number((await readFile(pidfile, "utf8")).trim());
    return Number.isInteger(pid) && pid > 1 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * True when `pid` is a live QEMU started for this VM directory. Checking the command line guards
 * against PID reuse: a recycled pid belonging to another program is never treated (or killed) as ours.
 */
export async function isOurVm(pid: number, dir: string): Promise<boolean> {
  try {
    const cmdline = (await readFile(`/proc/${pid}/cmdline`, "utf8")).split("\0");
    const stat = await readFile(`/proc/${pid}/stat`, "utf8");
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return (
      state !== "Z" && cmdline.some((arg) => arg.includes("qemu-system")) && cmdline.includes(vmPaths(dir).pidfile)
    );
  } catch {
    return false;
  }
}

/** Waits for a process to disappear; true if it did within the timeout. */
export async function waitForExit(pid: number, dir: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!(await isOurVm(pid, dir))) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return !(await isOurVm(pid, dir));
}

/** Kills the VM's process (verified as ours first) and waits for it to go. */
export async function killVm(pid: number, dir: string): Promise<void> {
  if (!(await isOurVm(pid, dir))) return;
  try {
    process.kill(pid, "SIGKILL");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ESRCH") throw err;
  }
  if (!(await waitForExit(pid, dir, 10_000))) throw new Error(`qemu process ${pid} did not exit after SIGKILL`);
}
