import { open, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { runChecked } from "../system/run.js";
import { aptCandidate, fetchDeb } from "./debs.js";
import { isElf64 } from "./elf.js";
import type { Recipe } from "./recipes.js";

/** The start of an .xz stream: the Debian bzImage carries the kernel as one (CONFIG_KERNEL_XZ). */
export const XZ_MAGIC = Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]);

export function xzStreamOffset(image: Buffer): number {
  const offset = image.indexOf(XZ_MAGIC);
  if (offset < 0) throw new Error("the kernel image contains no xz stream (not an xz-compressed bzImage)");
  return offset;
}

async function readHead(path: string, bytes: number): Promise<Buffer> {
  const file = await open(path, "r");
  try {
    const { buffer, bytesRead } = await file.read(Buffer.alloc(bytes), 0, bytes, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await file.close();
  }
}

/**
 * Extracts the uncompressed ELF kernel from a bzImage. QEMU boots that ELF directly through its PVH
 * note, which spares the guest the xz decompression (seconds under TCG). run() captures output as
 * text, so xz works file to file; --single-stream makes it ignore the rest of the bzImage after the
 * stream.
 */
export async function extractVmlinux(vmlinuz: string, output: string): Promise<void> {
  const image = await readFile(vmlinuz);
  const offset = xzStreamOffset(image);
  const compressed = `${output}.xz`;
  await writeFile(compressed, image.subarray(offset));
  try {
    await runChecked(["xz", "--decompress", "--single-stream", "--threads=1", "--force", "--quiet", compressed]);
  } finally {
    await rm(compressed, { force: true });
  }
  if (!isElf64(await readHead(output, 64))) {
    await rm(output, { force: true });
    throw new Error(`${vmlinuz}: the xz stream at offset ${offset} does not hold an ELF kernel`);
  }
}

/** The kernel's name for a module file: "kernel/fs/ext4/ext4.ko" → "ext4", dashes as underscores. */
export function moduleName(path: string): string {
  return basename(path)
    .replace(/\.ko(\..*)?$/, "")
    .replaceAll("-", "_");
}

export interface ModuleEntry {
  /** Relative to /lib/modules/<version>. */
  path: string;
  /** Every module it needs, directly or not, in modules.dep order (load them last to first). */
  deps: string[];
}

export function parseModulesDep(text: string): Map<string, ModuleEntry> {
  const modules = new Map<string, ModuleEntry>();
  for (const line of text.split("\n")) {
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    const path = line.slice(0, colon).trim();
    const deps = line
      .slice(colon + 1)
      .trim()
      .split(/\s+/)
      .filter(Boolean);
    modules.set(moduleName(path), { path, deps });
  }
  return modules;
}

/** Module files in an order insmod can load them: each after everything it depends on. */
export function moduleLoadOrder(
  modules: Map<string, ModuleEntry>,
  wanted: readonly string[],
  builtin: ReadonlySet<string>,
): string[] {
  const order = new Set<string>();
  for (const name of wanted) {
    if (builtin.has(name)) continue;
    const entry = modules.get(name);
    if (!entry) throw new Error(`the kernel has no module ${name}, neither loadable nor built in`);
    for (const dep of [...entry.deps].reverse()) order.add(dep);
    order.add(entry.path);
  }
  const files = [...order];
  const compressed = files.find((file) => !file.endsWith(".ko"));
  if (compressed) throw new Error(`module ${compressed} is compressed; busybox insmod needs plain .ko files`);
  return files;
}

/** The versioned image package a meta package such as linux-image-amd64 depends on. */
export function versionedKernelPackage(depends: string): string {
  for (const alternative of depends.split(/[,|]/)) {
    const name = alternative.trim().split(/\s/)[0] ?? "";
    if (/^linux-image-\d[a-z0-9.+-]*$/.test(name)) return name;
  }
  throw new Error(`no versioned linux-image package among the dependencies "${depends}"`);
}

export interface KernelFiles {
  /** `uname -r` in the guest, e.g. 6.1.0-56-amd64. */
  version: string;
  vmlinux: string;
  /** Absolute paths of the initramfs modules, in load order. */
  modules: string[];
}

/**
 * Downloads (or takes from the cache) the recipe's Debian kernel, unpacks it under `workDir`,
 * extracts vmlinux and works out the initramfs modules with their dependencies. The package ships
 * no modules.dep (its postinst runs depmod), so depmod runs on the unpacked tree.
 */
export async function prepareKernel(recipe: Recipe, cacheDir: string, workDir: string): Promise<KernelFiles> {
  const meta = await aptCandidate(recipe.kernelPackage);
  const deb = await fetchDeb(versionedKernelPackage(meta.depends), cacheDir);
  const root = join(workDir, "kernel");
  await runChecked(["dpkg-deb", "--extract", deb, root]);
  const versions = await readdir(join(root, "lib/modules"));
  const version = versions[0];
  if (versions.length !== 1 || !version || !/^\d[A-Za-z0-9.+_-]*$/.test(version)) {
    throw new Error(`${basename(deb)} should hold exactly one lib/modules/<version>, found: ${versions.join(", ")}`);
  }
  const vmlinux = join(workDir, "vmlinux");
  await extractVmlinux(join(root, "boot", `vmlinuz-${version}`), vmlinux);

  await runChecked(["depmod", "--basedir", root, version]);
  const modulesDir = join(root, "lib/modules", version);
  const dep = await readFile(join(modulesDir, "modules.dep"), "utf8");
  const builtin = await readFile(join(modulesDir, "modules.builtin"), "utf8").catch(() => "");
  const builtinNames = new Set(builtin.split("\n").filter(Boolean).map(moduleName));
  const order = moduleLoadOrder(parseModulesDep(dep), recipe.initramfsModules, builtinNames);
  return { version, vmlinux, modules: order.map((path) => join(modulesDir, path)) };
}
