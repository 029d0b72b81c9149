import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { runChecked } from "../system/run.js";

/** Mount points at or below `dir`, deepest first, from /proc/self/mounts (octal escapes decoded). */
export function mountsUnder(mountsTable: string, dir: string): string[] {
  const root = resolve(dir);
  return mountsTable
    .split("\n")
    .map((line) => line.split(" ")[1])
    .filter((field): field is string => Boolean(field))
    .map((field) =>
      field.replace(/\\([0-7]{3})/g, (_match, octal: string) => String.fromCharCode(Number.parseInt(octal, 8))),
    )
    .filter((mountPoint) => mountPoint === root || mountPoint.startsWith(`${root}/`))
    .sort((a, b) => b.length - a.length);
}

/**
 * Deletes a build tree. debootstrap mounts /proc and /sys (and in some environments binds /dev)
 * inside its target and can leave them behind when it fails; a plain recursive delete would then
 * walk into the host's filesystems. So: unmount whatever is below `dir`, then delete without
 * crossing into any other filesystem.
 */
export async function removeTree(dir: string): Promise<void> {
  for (const mountPoint of mountsUnder(await readFile("/proc/self/mounts", "utf8"), dir)) {
    await runChecked(["umount", "--lazy", mountPoint]);
  }
  await runChecked(["rm", "-rf", "--one-file-system", "--", resolve(dir)]);
}
