import { type ChildProcess, spawn } from "node:child_process";
import { open, readFile } from "node:fs/promises";
import { basename, join } from "node:path";
import type { Accel } from "./accel.js";
import { QmpClient } from "./qmp.js";

export const QGA_PORT_NAME = "org.qemu.guest_agent.0";

/** Console ports for terminals (the sandbox's concurrent terminal limit): /dev/hvc1.. in the guest. */
export const TERMINAL_PORTS = 4;

/**
 * Names the virtual device set every VM gets. QEMU restores a memory snapshot only into the same
 * devices, so whatever keys saved guest memory (the warm pool's template) includes this string.
 */
export function deviceLayout(): string {
  return `blk+agent+console+terminal*${TERMINAL_PORTS}`;
}

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
  /** TCG's translation cache in MiB (ignored under KVM): resident host memory once filled. */
  tcgCacheMb?: number | undefined;
  machine: "microvm" | "q35";
  /** Kernel command line (the runner adds nothing). */
  cmdline: string;
  /** QEMU -netdev/-device arguments from the network manager. */
  netArgs: string[];
  /** Restore guest RAM from this file (QEMU `-incoming`); the VM then starts paused. */
  incomingFile?: string | undefined;
}

/**
 * Half of what QEMU used to be given: 32 MB less resident per sandbox for ~15-30 % longer cold
 * boots; 16 MiB saved more but made boots 1.5-2x slower (measurements in docs/benchmarks.md).
 */
export const DEFAULT_TCG_CACHE_MB = 32;

export const vmPaths = (dir: string) => ({
  qmp: join(dir, "qmp.sock"),
  agent: join(dir, "agent.sock"),
  pidfile: join(dir, "qemu.pid"),
  serial: join(dir, "serial.log"),
  /** QEMU's own stdout and stderr. */
  log: join(dir, "qemu.log"),
  /** Terminal console port `index` (1..TERMINAL_PORTS, the guest's /dev/hvcN), a unix socket QEMU listens on. */
  terminal: (index: number) => join(dir, `term${index}.sock`),
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
    spec.accel === "tcg" ? `tcg,tb-size=${spec.tcgCacheMb ?? DEFAULT_TCG_CACHE_MB}` : "kvm",
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
    ...consoleArgs(paths.terminal),
    "-qmp",
    `unix:${paths.qmp},server=on,wait=off`,
    "-serial",
    `file:${paths.serial}`,
    ...spec.netArgs,
    ...(spec.incomingFile ? ["-incoming", `exec:cat ${spec.incomingFile}`] : []),
    "-pidfile",
    paths.pidfile,
  ];
}

/**
 * The console ports, after the agent's port. The guest numbers its consoles in port order, so the
 * first is its hvc0, where Debian's systemd starts a getty on its own: that one is backed by nothing
 * and never used, and the terminals get hvc1..hvc4. `server=on,wait=off`: QEMU does not wait for
 * the daemon, which connects to a terminal's socket when it opens one.
 */
function consoleArgs(socketPath: (index: number) => string): string[] {
  const terminals = Array.from({ length: TERMINAL_PORTS }, (_, i) => i + 1).map((index) => [
    "-chardev",
    `socket,id=term${index},path=${socketPath(index)},server=on,wait=off`,
    "-device",
    `virtconsole,chardev=term${index},name=fluid.terminal.${index}`,
  ]);
  return [
    "-chardev",
    "null,id=console0",
    "-device",
    "virtconsole,chardev=console0,name=fluid.console",
    ...terminals.flat(),
  ];
}

/**
 * QEMUs this process started, until each has exited and been waited for. Node reaps its own
 * children, so a VM started here never lingers as a zombie once killed.
 */
const children = new Map<number, Promise<void>>();

/**
 * Starts QEMU in its own session, so the VM outlives daemon restarts, and returns its pid once QEMU
 * is set up (its QMP monitor answers). QEMU stays this process's child rather than daemonizing
 * itself: a double-forked QEMU belongs to whichever process reaps orphans, and under a daemon that
 * is PID 1 or a subreaper nobody waits for it, leaving a <defunct> process after every destroy.
 * A bad argument or missing file fails here with QEMU's own message (from qemu.log).
 */
export async function launchVm(spec: VmSpec, binary?: string): Promise<number> {
  for (const path of [spec.kernel, spec.disk, spec.dir, ...(spec.initrd ? [spec.initrd] : [])]) {
    if (!path.startsWith("/")) throw new Error(`VM paths must be absolute: ${path}`);
  }
  const [file, ...args] = qemuArgs(spec, binary);
  if (!file) throw new Error("qemu: empty argv");
  const paths = vmPaths(spec.dir);
  const log = await open(paths.log, "w", 0o600);
  let child: ChildProcess;
  try {
    child = spawn(file, args, { detached: true, cwd: "/", stdio: ["ignore", log.fd, log.fd] });
  } finally {
    await log.close();
  }
  child.unref();
  const exited = new Promise<string>((resolve) => {
    child.once("error", (err) => resolve(err.message));
    child.once("exit", (code, signal) => resolve(`exit ${code ?? signal}`));
  });
  const { pid } = child;
  if (pid !== undefined) {
    children.set(
      pid,
      exited.then(() => {
        children.delete(pid);
      }),
    );
  }
  const outcome = await Promise.race([
    waitForQmp(paths.qmp, 60_000).then(
      () => "ready" as const,
      (err: Error) => ({ status: err.message }),
    ),
    exited.then((status) => ({ status })),
  ]);
  if (outcome !== "ready" || pid === undefined) {
    if (pid !== undefined) await killVm(pid, spec.dir).catch(() => undefined);
    const output = await readFile(paths.log, "utf8").catch(() => "");
    const status = outcome === "ready" ? "no pid" : outcome.status;
    throw new Error(`qemu failed to start: ${output.trim().split("\n").slice(-3).join(" | ") || status}`);
  }
  return pid;
}

/** Resolves once QEMU's monitor greets us, which it does only after set-up is complete. */
async function waitForQmp(path: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      (await QmpClient.connect(path, Math.max(1, deadline - Date.now()))).close();
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
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

/**
 * Waits for the VM's process to exit and be reaped; true if it did within the timeout. A QEMU
 * started here is waited for by this process. One adopted after a daemon restart is no child of
 * ours: its parent (init, or a subreaper) reaps it, which is given a moment to happen.
 */
export async function waitForExit(pid: number, dir: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  const own = children.get(pid);
  if (own) {
    return Promise.race([
      own.then(() => true),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(false), timeoutMs)),
    ]);
  }
  while (await isOurVm(pid, dir)) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const reapDeadline = Date.now() + ADOPTED_REAP_GRACE_MS;
  while ((await processState(pid)) === "Z" && Date.now() < reapDeadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return true;
}

const ADOPTED_REAP_GRACE_MS = 5_000;

async function processState(pid: number): Promise<string | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
  } catch {
    return undefined;
  }
}

/** Kills the VM's process (verified as ours first) and waits for it to go. */
export async function killVm(pid: number, dir: string): Promise<void> {
  if (await isOurVm(pid, dir)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ESRCH") throw err;
    }
  }
  if (!(await waitForExit(pid, dir, 10_000))) throw new Error(`qemu process ${pid} did not exit after SIGKILL`);
}
