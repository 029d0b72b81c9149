import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { lstat, readdir, readlink } from "node:fs/promises";
import { join } from "node:path";
import type { NoisePolicy } from "./noise.js";

/** The trees whose contents make a system what it is: configuration, local programs, homes, units. */
export const FILE_TREES = [
  "/etc",
  "/usr/local",
  "/opt",
  "/srv",
  "/root",
  "/home",
  "/var/www",
  "/var/spool/cron",
  "/usr/lib/systemd/system",
] as const;

export interface FileEntry {
  path: string;
  type: "file" | "dir" | "symlink" | "other";
  /** Permission bits, including setuid/setgid/sticky. */
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** Regular files only. */
  sha256?: string;
  /** Symlinks only. */
  target?: string;
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/**
 * Every file, directory and symlink under FILE_TREES in a mounted root, keyed by its path in the
 * guest. Symlinks are recorded, never followed (a tree that is itself a symlink, like /lib on a
 * merged-/usr system, is recorded as that link). What the noise policy ignores is not even read.
 */
export async function collectFiles(root: string, noise: NoisePolicy): Promise<Map<string, FileEntry>> {
  const entries = new Map<string, FileEntry>();
  const visit = async (path: string): Promise<void> => {
    if (entries.has(path) || noise.ignores("file", path)) return;
    const stat = await lstat(join(root, path)).catch(() => undefined);
    if (!stat) return;
    const type = stat.isFile() ? "file" : stat.isDirectory() ? "dir" : stat.isSymbolicLink() ? "symlink" : "other";
    const entry: FileEntry = { path, type, mode: stat.mode & 0o7777, uid: stat.uid, gid: stat.gid, size: 0 };
    if (type === "file") {
      entry.size = stat.size;
      entry.sha256 = await sha256File(join(root, path));
    } else if (type === "symlink") {
      entry.target = await readlink(join(root, path));
    }
    entries.set(path, entry);
    if (type !== "dir") return;
    const names = await readdir(join(root, path));
    for (const name of names.sort()) await visit(path === "/" ? `/${name}` : `${path}/${name}`);
  };
  for (const tree of FILE_TREES) {
    if (await isUnderSymlink(root, tree)) continue;
    await visit(tree);
  }
  return entries;
}

/** True if a parent of `path` is a symlink inside the root (so the tree is not where it seems). */
async function isUnderSymlink(root: string, path: string): Promise<boolean> {
  const parts = path.split("/").filter(Boolean);
  for (let i = 1; i < parts.length; i++) {
    const stat = await lstat(join(root, ...parts.slice(0, i))).catch(() => undefined);
    if (stat?.isSymbolicLink()) return true;
  }
  return false;
}
