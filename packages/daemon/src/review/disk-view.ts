import { type ChildProcess, spawn } from "node:child_process";
import { mkdir, mkdtemp, open, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { readPartitionTable } from "../clone/partitions.js";
import { runChecked } from "../system/run.js";

const READY_TIMEOUT_MS = 30_000;
const EXIT_TIMEOUT_MS = 10_000;

export interface DiskViewOptions {
  /** The root filesystem's device in the guest: /dev/vda (whole disk) or /dev/vdaN (partition N). */
  rootDevice?: string | undefined;
  /** Only for tests that prepare disks: the export and the mount accept writes. */
  writable?: boolean;
}

/**
 * Runs `fn` with the root filesystem of a qcow2 disk (its whole backing chain) mounted read-only at
 * a private temporary directory. Nothing writes to the disk: qemu-storage-daemon opens the chain
 * read-only (force-share, so a running VM may keep the image open for writing) as the backing of a
 * throwaway qcow2 layer in the temporary directory, and exports that as a FUSE file. The kernel
 * mounts it `ro`, which still replays the ext4 journal of a disk in use (metadata a running guest
 * committed but has not yet written in place): the replay lands in the throwaway layer.
 * The mount, the loop device, the storage daemon and the directory are removed whatever `fn` does.
 */
export function withReadOnlyRoot<T>(
  qcow2Path: string,
  fn: (root: string) => Promise<T>,
  options: Omit<DiskViewOptions, "writable"> = {},
): Promise<T> {
  return withRoot(qcow2Path, fn, { ...options, writable: false });
}

export async function withRoot<T>(
  qcow2Path: string,
  fn: (root: string) => Promise<T>,
  options: DiskViewOptions,
): Promise<T> {
  const scratch = await mkdtemp(join(tmpdir(), "fluid-diskview-"));
  const exportFile = join(scratch, "disk.raw");
  const root = join(scratch, "root");
  let daemon: ChildProcess | undefined;
  let loop: string | undefined;
  let mounted = false;
  let outcome: { value: T } | { error: unknown };
  try {
    await writeFile(exportFile, "", { mode: 0o600 });
    await mkdir(root, { mode: 0o700 });
    const top = options.writable ? { disk: qcow2Path } : await throwawayLayer(qcow2Path, scratch);
    daemon = await startExport(top, exportFile, scratch);
    const offset = await rootOffset(exportFile, options.rootDevice);
    // The loop device stays writable even for a read-only mount, or the kernel could not replay the journal.
    const attach = ["losetup", "--find", "--show", ...(offset > 0 ? ["--offset", String(offset)] : []), exportFile];
    loop = (await runChecked(attach, { timeoutMs: 30_000 })).stdout.trim();
    await runChecked(["mount", "-t", "ext4", "-o", options.writable ? "rw" : "ro", loop, root], { timeoutMs: 60_000 });
    mounted = true;
    outcome = { value: await fn(root) };
  } catch (error) {
    outcome = { error };
  }
  const problems: string[] = [];
  if (mounted) await runChecked(["umount", root]).catch((err: Error) => problems.push(err.message));
  if (loop) await runChecked(["losetup", "--detach", loop]).catch((err: Error) => problems.push(err.message));
  if (daemon) await stopDaemon(daemon).catch((err: Error) => problems.push(err.message));
  // A directory with something still mounted in it must not be deleted through: its files are the disk's.
  if (problems.length === 0) await rm(scratch, { recursive: true, force: true });
  if ("error" in outcome) throw outcome.error;
  if (problems.length > 0) throw new Error(`cleaning up the disk view in ${scratch} failed: ${problems.join("; ")}`);
  return outcome.value;
}

/**
 * An empty qcow2 file in `scratch` the size of `disk`, to stack on it. Its header names no backing
 * file: the storage daemon is given the chain below it, opened read-only, so a write can only land here.
 */
async function throwawayLayer(disk: string, scratch: string): Promise<{ disk: string; readOnlyBacking: string }> {
  const info = await runChecked(["qemu-img", "info", "--force-share", "--output=json", disk], { timeoutMs: 30_000 });
  const size = (JSON.parse(info.stdout) as { "virtual-size": number })["virtual-size"];
  const layer = join(scratch, "throwaway.qcow2");
  await runChecked(["qemu-img", "create", "-q", "-f", "qcow2", layer, String(size)], { timeoutMs: 30_000 });
  return { disk: layer, readOnlyBacking: disk };
}

/** Starts qemu-storage-daemon exporting `top.disk` at `exportFile`; resolves once the export exists. */
async function startExport(
  top: { disk: string; readOnlyBacking?: string },
  exportFile: string,
  scratch: string,
): Promise<ChildProcess> {
  const shared = { "read-only": true, "force-share": true };
  const backing = top.readOnlyBacking
    ? { backing: { driver: "qcow2", ...shared, file: { driver: "file", filename: top.readOnlyBacking, ...shared } } }
    : {};
  const blockdev = { driver: "qcow2", "node-name": "disk", file: { driver: "file", filename: top.disk }, ...backing };
  const exportSpec = {
    type: "fuse",
    id: "view",
    "node-name": "disk",
    mountpoint: exportFile,
    writable: true,
    "allow-other": "off",
  };
  const pidfile = join(scratch, "qsd.pid");
  const child = spawn(
    "qemu-storage-daemon",
    ["--blockdev", JSON.stringify(blockdev), "--export", JSON.stringify(exportSpec), "--pidfile", pidfile],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    if (stderr.length < 4096) stderr += chunk.toString("utf8");
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.once("error", () => undefined);
  // The pid file is written once every export is set up.
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) {
      await exited;
      throw new Error(`qemu-storage-daemon could not export ${top.disk}: ${stderr.trim() || "exited"}`);
    }
    const written = await readFile(pidfile, "utf8").catch(() => "");
    if (written.trim() === String(child.pid)) return child;
    await sleep(20);
  }
  await stopDaemon(child);
  throw new Error(`qemu-storage-daemon did not export ${top.disk} within ${READY_TIMEOUT_MS / 1000} s`);
}

/** Stops the storage daemon by its pid (it removes its FUSE mount on the way out) and waits for it. */
async function stopDaemon(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), EXIT_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
}

/** Where the root filesystem starts in the exported disk. */
async function rootOffset(exportFile: string, rootDevice: string | undefined): Promise<number> {
  if (rootDevice === undefined || rootDevice === "/dev/vda") return 0;
  const match = /^\/dev\/vda(\d+)$/.exec(rootDevice);
  if (!match) throw new Error(`unsupported root device ${rootDevice}`);
  const handle = await open(exportFile, "r");
  try {
    const table = await readPartitionTable(handle);
    const partition = table.partitions.find((p) => p.number === Number(match[1]));
    if (!partition) throw new Error(`the disk has no partition ${match[1]} for ${rootDevice}`);
    return partition.start;
  } finally {
    await handle.close();
  }
}
