import { copyFile, open, readFile, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { hostBusybox } from "../images/host-tools.js";
import { buildInitramfs } from "../images/initramfs.js";
import { extractVmlinux, moduleLoadOrder, moduleName, parseModulesDep } from "../images/kernel.js";
import { getRecipe, guestDir } from "../images/recipes.js";
import type { ImageStore } from "../images/store.js";
import { SourceError } from "../remote/source-error.js";
import type { BootMode } from "../vm/boot-mode.js";
import { type DirEntry, ExtFilesystem, initIsSystemd } from "./ext-filesystem.js";
import type { CloneChanges } from "./hygiene.js";
import { hasExtFilesystem, readPartitionTable } from "./partitions.js";
import { convertImage } from "./qemu-img.js";

/** The recipe whose initramfs (busybox /init, module list) pulled images get: all recipes share it. */
const INITRAMFS_RECIPE = "debian-12";

const isDir = (entry: DirEntry) => (entry.mode & 0o170000) === 0o040000;

/** Orders kernel versions: 6.1.0-9 < 6.1.0-56 < 6.10.2 (numbers compared as numbers). */
export function compareKernelVersions(a: string, b: string): number {
  const parts = (value: string) => value.split(/(\d+)/).filter(Boolean);
  const left = parts(a);
  const right = parts(b);
  for (let i = 0; i < Math.max(left.length, right.length); i++) {
    const x = left[i];
    const y = right[i];
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    const nx = Number(x);
    const ny = Number(y);
    const diff = Number.isNaN(nx) || Number.isNaN(ny) ? (x < y ? -1 : x > y ? 1 : 0) : nx - ny;
    if (diff !== 0) return diff;
  }
  return 0;
}

const plainName = /^[A-Za-z0-9][A-Za-z0-9._+~-]*$/;
const modulePath = /^[A-Za-z0-9_][A-Za-z0-9._/+-]*$/;

export interface BootFiles {
  /** Uncompressed kernel (ELF, booted through its PVH note). */
  kernel: string;
  initrd: string;
  kernelVersion: string;
  /** The root filesystem's device in a sandbox: /dev/vda, or /dev/vda<N> on a partitioned disk. */
  rootDevice: string;
  /** The disk has OpenSSH's sshd. */
  sshd: boolean;
  /** The disk has fluid's guest files (/fluid/init): it boots as a sandbox as it is. */
  fluidGuest: boolean;
  /** systemd when the VM's init is systemd and the disk has fluid's units for it, else fast (busybox init). */
  boot: BootMode;
  /** "disk", or "image:<name>" when the kernel came from a local image. */
  kernelFrom: string;
  /** "disk" (an initramfs built from the disk's modules) or "image:<name>". */
  initrdFrom: string;
  warnings: string[];
  /** What clone hygiene removed from the disk, written back to it. */
  scrubbed: string[];
  /** fluid's guest files written into the disk. */
  injected: string[];
}

export interface ExtractBootFilesOptions {
  /** The pulled disk (qcow2). */
  disk: string;
  /** Scratch space (a raw copy of the disk goes here); the caller removes it. */
  workDir: string;
  /** Where vmlinux and initramfs.cpio are written. */
  outDir: string;
  images: ImageStore;
  /** A local image whose kernel and initramfs are used when the disk has no kernel fluid can boot. */
  fallbackImage?: string | undefined;
  /**
   * Changes the root filesystem of the raw copy before it is discarded (prepareClone); when it
   * reports changes, the disk is rewritten from the raw copy.
   */
  prepare?: ((root: ExtFilesystem) => Promise<CloneChanges>) | undefined;
  /** How far the disk conversions have got, 0..1. */
  onProgress?: ((fraction: number) => void) | undefined;
}

interface Located {
  root: ExtFilesystem;
  rootNumber: number;
  kernelFs: ExtFilesystem | undefined;
  kernelDir: string;
  kernels: DirEntry[];
}

/** Finds the root filesystem (it has /etc/os-release or /etc/fstab) and the kernels in /boot or on a /boot partition. */
async function locate(raw: string): Promise<Located> {
  const file = await open(raw, "r");
  let candidates: Array<{ number: number; start: number }>;
  let lvm = false;
  try {
    const table = await readPartitionTable(file);
    lvm = table.partitions.some((partition) => partition.lvm);
    const all = table.scheme === "none" ? [{ number: 0, start: 0 }] : table.partitions;
    candidates = [];
    for (const candidate of all) if (await hasExtFilesystem(file, candidate.start)) candidates.push(candidate);
  } finally {
    await file.close();
  }
  let root: { fs: ExtFilesystem; number: number } | undefined;
  const others: ExtFilesystem[] = [];
  for (const candidate of candidates) {
    const fs = new ExtFilesystem(raw, candidate.start);
    const etc = await fs.list("/etc");
    if (!root && etc?.some((entry) => entry.name === "os-release" || entry.name === "fstab")) {
      root = { fs, number: candidate.number };
    } else {
      others.push(fs);
    }
  }
  if (!root) {
    throw new SourceError(
      "unsupported",
      lvm
        ? "the disk's root filesystem is on LVM, which fluid cannot read"
        : "no ext2/3/4 root filesystem found on the disk (fluid reads ext filesystems only)",
    );
  }
  const kernelsIn = (entries: DirEntry[] | undefined) =>
    (entries ?? []).filter((entry) => !isDir(entry) && /^vmlinuz-./.test(entry.name) && plainName.test(entry.name));
  const inBoot = kernelsIn(await root.fs.list("/boot"));
  if (inBoot.length > 0)
    return { root: root.fs, rootNumber: root.number, kernelFs: root.fs, kernelDir: "/boot", kernels: inBoot };
  for (const fs of others) {
    const kernels = kernelsIn(await fs.list("/"));
    if (kernels.length > 0) return { root: root.fs, rootNumber: root.number, kernelFs: fs, kernelDir: "", kernels };
  }
  return { root: root.fs, rootNumber: root.number, kernelFs: undefined, kernelDir: "", kernels: [] };
}

/** An initramfs with the disk's own modules for `version`, or undefined if the disk has none. */
async function initramfsFromDisk(
  root: ExtFilesystem,
  version: string,
  workDir: string,
  output: string,
): Promise<boolean> {
  const dir = `/lib/modules/${version}`;
  const listing = await root.list(dir);
  if (!listing?.some((entry) => entry.name === "modules.dep")) return false;
  const local = join(workDir, "modules", version);
  const wanted: Array<[string, string]> = [[`${dir}/modules.dep`, join(local, "modules.dep")]];
  if (listing.some((entry) => entry.name === "modules.builtin")) {
    wanted.push([`${dir}/modules.builtin`, join(local, "modules.builtin")]);
  }
  await root.dump(wanted, workDir);
  const dep = await readFile(join(local, "modules.dep"), "utf8");
  const builtin = await readFile(join(local, "modules.builtin"), "utf8").catch(() => "");
  const recipe = getRecipe(INITRAMFS_RECIPE);
  const order = moduleLoadOrder(
    parseModulesDep(dep),
    recipe.initramfsModules,
    new Set(builtin.split("\n").filter(Boolean).map(moduleName)),
  );
  const bad = order.find((path) => !modulePath.test(path) || path.split("/").includes(".."));
  if (bad) throw new SourceError("unsupported", `unexpected module path ${JSON.stringify(bad)} in modules.dep`);
  await root.dump(
    order.map((path) => [`${dir}/${path}`, join(local, path)] as const),
    workDir,
  );
  await buildInitramfs({
    stagingDir: join(workDir, "initramfs"),
    busybox: hostBusybox,
    modules: order.map((path) => join(local, path)),
    files: recipe.initramfsFiles,
    sourceDir: guestDir,
    output,
  });
  return true;
}

/**
 * The kernel and initramfs a pulled disk boots with in a sandbox. The disk is converted to a raw
 * file (sparse) so debugfs can read its ext filesystem without mounting anything (this machine has
 * no nbd); the partition table is parsed here. Kernel: the newest /boot/vmlinuz-* (or on a /boot
 * partition), made an uncompressed vmlinux by the image builder's extractVmlinux. Initramfs: fluid's
 * own, with that kernel's modules from the disk's /lib/modules, or the initramfs of a local image
 * with the same kernel version. `fallbackImage` covers disks without a usable kernel.
 */
export async function extractBootFiles(options: ExtractBootFilesOptions): Promise<BootFiles> {
  const raw = join(options.workDir, "disk.raw");
  const warnings: string[] = [];
  // Two conversions when the clone is changed (there and back): each reports half the way.
  const progress = options.onProgress;
  await convertImage(
    { path: options.disk, format: "qcow2" },
    { path: raw, format: "raw" },
    {
      onFraction: progress && ((f) => progress(f / 2)),
    },
  );
  try {
    const located = await locate(raw);
    const {
      scrubbed,
      injected,
      warnings: prepareWarnings,
    } = options.prepare ? await options.prepare(located.root) : { scrubbed: [], injected: [], warnings: [] };
    warnings.push(...prepareWarnings);
    if (scrubbed.length > 0 || injected.length > 0) {
      const rewritten = `${options.disk}.scrubbed`;
      await convertImage(
        { path: raw, format: "raw" },
        { path: rewritten, format: "qcow2" },
        {
          onFraction: progress && ((f) => progress(0.5 + f / 2)),
        },
      );
      await rename(rewritten, options.disk);
    }
    const rootDevice = located.rootNumber === 0 ? "/dev/vda" : `/dev/vda${located.rootNumber}`;
    const sshd = (await located.root.list("/usr/sbin"))?.some((entry) => entry.name === "sshd") ?? false;
    const fluid = (await located.root.list("/fluid")) ?? [];
    const fluidGuest = fluid.some((entry) => entry.name === "init");
    const boot: BootMode =
      fluid.some((entry) => entry.name === "start-systemd") && (await initIsSystemd(located.root)) ? "systemd" : "fast";
    const kernel = join(options.outDir, "vmlinux");
    const initrd = join(options.outDir, "initramfs.cpio");
    const common = { kernel, initrd, rootDevice, sshd, fluidGuest, boot, warnings, scrubbed, injected };

    const newest = [...located.kernels].sort((a, b) => compareKernelVersions(b.name, a.name))[0];
    if (newest && located.kernelFs) {
      const version = newest.name.slice("vmlinuz-".length);
      const vmlinuz = join(options.workDir, newest.name);
      await located.kernelFs.dump([[`${located.kernelDir}/${newest.name}`, vmlinuz]], options.workDir);
      let usable = true;
      try {
        await extractVmlinux(vmlinuz, kernel);
      } catch (err) {
        usable = false;
        warnings.push(`cannot use the disk's kernel ${newest.name}: ${(err as Error).message}`);
      }
      if (usable) {
        try {
          if (await initramfsFromDisk(located.root, version, options.workDir, initrd)) {
            return { ...common, kernelVersion: version, kernelFrom: "disk", initrdFrom: "disk" };
          }
        } catch (err) {
          warnings.push(`cannot build an initramfs from the disk's modules: ${(err as Error).message}`);
        }
        const twin = (await options.images.list()).find((image) => image.kernelVersion === version);
        if (twin) {
          await copyFile((await options.images.get(twin.name)).initrd, initrd);
          return { ...common, kernelVersion: version, kernelFrom: "disk", initrdFrom: `image:${twin.name}` };
        }
        warnings.push(
          `no initramfs for kernel ${version}: not from the disk's modules, and no local image has that kernel`,
        );
      }
    } else {
      warnings.push("the disk has no /boot/vmlinuz-*");
    }
    if (!options.fallbackImage) throw new SourceError("unsupported", `no bootable kernel: ${warnings.join("; ")}`);
    const fallback = await options.images.get(options.fallbackImage);
    await copyFile(fallback.kernel, kernel);
    await copyFile(fallback.initrd, initrd);
    const from = `image:${fallback.name}`;
    return { ...common, kernelVersion: fallback.manifest.kernelVersion, kernelFrom: from, initrdFrom: from };
  } finally {
    await rm(raw, { force: true });
  }
}
