import { constants } from "node:fs";
import { access, readFile } from "node:fs/promises";
import { delimiter, join } from "node:path";
import { isStaticElf } from "./elf.js";
import type { Recipe } from "./recipes.js";

/** The static busybox from Debian's busybox-static, copied into the initramfs and every image. */
export const hostBusybox = "/bin/busybox";

/** Every program the builder runs, with the Debian package that provides it. */
const toolPackages: Record<string, string> = {
  "apt-cache": "apt",
  "apt-get": "apt",
  "dpkg-deb": "dpkg",
  xz: "xz-utils",
  depmod: "kmod",
  cpio: "cpio",
  "mkfs.ext4": "e2fsprogs",
  "qemu-img": "qemu-utils",
  umount: "mount",
  rm: "coreutils",
  ldd: "libc-bin",
  debootstrap: "debootstrap",
  busybox: "busybox-static",
};

export function toolsFor(recipe: Recipe): string[] {
  const common = ["apt-cache", "apt-get", "dpkg-deb", "xz", "depmod", "cpio", "mkfs.ext4", "qemu-img", "umount", "rm"];
  return [...common, ...(recipe.base.kind === "busybox" ? ["ldd"] : ["debootstrap"])];
}

async function isExecutable(path: string): Promise<boolean> {
  return access(path, constants.X_OK).then(
    () => true,
    () => false,
  );
}

/** Looks a program up in PATH plus the sbin directories (which a non-root PATH often lacks). */
export async function findTool(name: string, path = process.env.PATH ?? ""): Promise<string | undefined> {
  const dirs = [...path.split(delimiter).filter(Boolean), "/usr/local/sbin", "/usr/sbin", "/sbin"];
  for (const dir of dirs) {
    if (await isExecutable(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

/**
 * Fails before any work when a host program is missing, naming the Debian packages to install.
 * Also insists on a *static* /bin/busybox: Debian's dynamic `busybox` package installs the same path
 * and would not run in the initramfs.
 */
export async function checkHostTools(recipe: Recipe, path = process.env.PATH ?? ""): Promise<void> {
  const missing: string[] = [];
  for (const tool of toolsFor(recipe)) {
    if (!(await findTool(tool, path))) missing.push(tool);
  }
  const busybox = await readFile(hostBusybox).catch(() => undefined);
  if (!busybox) missing.push("busybox");
  else if (!isStaticElf(busybox)) {
    throw new Error(`${hostBusybox} is not statically linked; install Debian's busybox-static instead of busybox`);
  }
  if (missing.length === 0) return;
  const packages = [...new Set(missing.map((tool) => toolPackages[tool]))];
  throw new Error(
    `building the ${recipe.name} image needs ${missing.join(", ")}; install them with: ` +
      `apt-get install --no-install-recommends ${packages.join(" ")}`,
  );
}
