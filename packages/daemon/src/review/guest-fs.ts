import { lstat, open, readdir, readlink } from "node:fs/promises";
import { join, posix } from "node:path";

const MAX_LINKS = 40;

/**
 * A guest path resolved to a host path inside the mounted root, following the guest's symlinks as
 * the guest would (absolute targets start at the guest's root, `..` stops there). A mounted guest
 * is untrusted: the host's own resolver would follow `/etc -> /` out of the mount.
 * Undefined if the path does not exist.
 */
export async function resolveInRoot(root: string, guestPath: string): Promise<string | undefined> {
  const pending = guestPath.split("/").filter(Boolean);
  const resolved: string[] = [];
  let links = 0;
  while (pending.length > 0) {
    const part = pending.shift() as string;
    if (part === ".") continue;
    if (part === "..") {
      resolved.pop();
      continue;
    }
    const host = join(root, ...resolved, part);
    const stat = await lstat(host).catch(() => undefined);
    if (!stat) return undefined;
    if (!stat.isSymbolicLink()) {
      resolved.push(part);
      continue;
    }
    if (++links > MAX_LINKS) return undefined;
    const target = await readlink(host);
    if (target.startsWith("/")) resolved.length = 0;
    pending.unshift(...target.split("/").filter(Boolean));
  }
  return join(root, ...resolved);
}

/** A guest file's text (at most `maxBytes`), or undefined if it is missing or not a regular file. */
export async function readGuestText(root: string, guestPath: string, maxBytes = 8 * 1024 * 1024) {
  const host = await resolveInRoot(root, guestPath);
  if (!host) return undefined;
  const handle = await open(host, "r").catch(() => undefined);
  if (!handle) return undefined;
  try {
    if (!(await handle.stat()).isFile()) return undefined;
    const buffer = Buffer.alloc(maxBytes);
    const { bytesRead } = await handle.read(buffer, 0, maxBytes, 0);
    return buffer.subarray(0, bytesRead).toString("utf8");
  } finally {
    await handle.close();
  }
}

/** The names in a guest directory, sorted; empty if it is missing. */
export async function listGuestDir(root: string, guestPath: string): Promise<string[]> {
  const host = await resolveInRoot(root, guestPath);
  if (!host) return [];
  const names = await readdir(host).catch(() => []);
  return names.sort();
}

/** The guest path a symlink points to, resolved against its directory; undefined if not a link. */
export async function guestLinkTarget(root: string, guestPath: string): Promise<string | undefined> {
  const dir = await resolveInRoot(root, posix.dirname(guestPath));
  if (!dir) return undefined;
  const host = join(dir, posix.basename(guestPath));
  const stat = await lstat(host).catch(() => undefined);
  if (!stat?.isSymbolicLink()) return undefined;
  const target = await readlink(host);
  return target.startsWith("/") ? posix.normalize(target) : posix.join(posix.dirname(guestPath), target);
}
