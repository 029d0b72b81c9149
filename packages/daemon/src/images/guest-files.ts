import { chmod, copyFile, mkdir, readdir, realpath, rm, symlink } from "node:fs/promises";
import { dirname, join, normalize, sep } from "node:path";
import type { GuestFile } from "./recipes.js";

/**
 * The host path of an absolute guest path under `root`. Its parent directory must resolve inside
 * `root`: a rootfs can hold absolute symlinks, and following one would touch the host, not the image.
 */
async function hostPath(root: string, target: string): Promise<string> {
  if (!target.startsWith("/") || normalize(target) !== target || target.endsWith("/")) {
    throw new Error(`guest path must be absolute and normalised: ${target}`);
  }
  const path = join(root, target);
  const realRoot = await realpath(root);
  const realParent = await realpath(dirname(path));
  if (realParent !== realRoot && !realParent.startsWith(realRoot + sep)) {
    throw new Error(`${target} resolves outside the image (${realParent})`);
  }
  return path;
}

/** The host path for a guest path, ready to be created: parents made, any existing entry removed. */
async function freshPath(root: string, target: string): Promise<string> {
  await mkdir(dirname(join(root, target)), { recursive: true });
  const path = await hostPath(root, target);
  await rm(path, { force: true });
  return path;
}

/** Removes guest files; `target` may end in a `*` to remove every entry of its directory with that prefix. */
export async function removeGuestFiles(root: string, target: string): Promise<void> {
  const parent = dirname(target);
  const path = await hostPath(root, target).catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return undefined;
    throw err;
  });
  if (!path) return;
  if (!target.endsWith("*")) {
    await rm(path, { force: true });
    return;
  }
  const prefix = target.slice(parent.length + 1, -1);
  for (const entry of await readdir(dirname(path))) {
    if (entry.startsWith(prefix)) await rm(join(dirname(path), entry), { force: true });
  }
}

export async function installFile(root: string, source: string, target: string, mode: number): Promise<void> {
  const path = await freshPath(root, target);
  await copyFile(source, path);
  await chmod(path, mode);
}

export async function installSymlink(root: string, linkTarget: string, at: string): Promise<void> {
  await symlink(linkTarget, await freshPath(root, at));
}

export async function installGuestFiles(root: string, files: readonly GuestFile[], sourceDir: string): Promise<void> {
  for (const file of files) await installFile(root, join(sourceDir, file.source), file.target, file.mode);
}
