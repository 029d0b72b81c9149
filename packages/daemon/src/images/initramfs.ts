import { mkdir, readdir, writeFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { runChecked } from "../system/run.js";
import { installFile, installGuestFiles } from "./guest-files.js";
import type { GuestFile } from "./recipes.js";

/** Paths below `dir`, relative, sorted, each directory before its contents (the order cpio needs). */
export async function listTree(dir: string, prefix = ""): Promise<string[]> {
  const entries = (await readdir(join(dir, prefix), { withFileTypes: true })).sort((a, b) =>
    a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
  );
  const paths: string[] = [];
  for (const entry of entries) {
    const path = prefix ? `${prefix}/${entry.name}` : entry.name;
    paths.push(path);
    if (entry.isDirectory()) paths.push(...(await listTree(dir, path)));
  }
  return paths;
}

/** The newline-separated list `cpio -o` reads on stdin. */
export function cpioFileList(paths: readonly string[]): string {
  const bad = paths.find((path) => path.includes("\n") || path.startsWith("/") || path === "");
  if (bad !== undefined) throw new Error(`cannot archive path ${JSON.stringify(bad)}`);
  return paths.map((path) => `${path}\n`).join("");
}

/** An uncompressed newc archive of everything below `dir`, owned by root (what the kernel unpacks). */
export async function writeCpio(dir: string, output: string): Promise<void> {
  const input = cpioFileList(await listTree(dir));
  await runChecked(
    [
      "cpio",
      "--create",
      "--format=newc",
      "--owner=0:0",
      "--reproducible",
      "--quiet",
      "--force-local",
      `--file=${output}`,
    ],
    { cwd: dir, input },
  );
}

export interface InitramfsInput {
  stagingDir: string;
  busybox: string;
  /** Absolute module paths in load order. */
  modules: readonly string[];
  files: readonly GuestFile[];
  sourceDir: string;
  output: string;
}

/**
 * Static busybox at /bin/busybox, the modules flat in /modules with /modules/order listing them in
 * load order, and /init. /dev/console is not needed: the kernel's built-in initramfs has it.
 */
export async function buildInitramfs(input: InitramfsInput): Promise<void> {
  const root = input.stagingDir;
  for (const dir of ["dev", "proc", "sys", "newroot", "modules"]) await mkdir(join(root, dir), { recursive: true });
  await installFile(root, input.busybox, "/bin/busybox", 0o755);
  const names = input.modules.map((path) => basename(path));
  const duplicate = names.find((name, index) => names.indexOf(name) !== index);
  if (duplicate) throw new Error(`two initramfs modules share the file name ${duplicate}`);
  for (const module of input.modules) await installFile(root, module, `/modules/${basename(module)}`, 0o644);
  await writeFile(join(root, "modules/order"), names.map((name) => `${name}\n`).join(""));
  await installGuestFiles(root, input.files, input.sourceDir);
  await writeCpio(root, input.output);
}
