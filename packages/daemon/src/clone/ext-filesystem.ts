import { mkdir, rm, stat, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { SourceError } from "../remote/source-error.js";
import { run } from "../system/run.js";

export interface DirEntry {
  name: string;
  mode: number;
  size: number;
}

/** debugfs's `ls -p` lines: /inode/mode(octal)/uid/gid/name/size/ */
export function parseDebugfsListing(text: string): DirEntry[] {
  const entries: DirEntry[] = [];
  for (const line of text.split("\n")) {
    const match = /^\/\d+\/([0-7]+)\/\d+\/\d+\/(.*)\/(\d*)\/$/.exec(line);
    if (!match) continue;
    const [, mode = "0", name = "", size = ""] = match;
    if (name === "." || name === "..") continue;
    entries.push({ name, mode: Number.parseInt(mode, 8), size: size === "" ? 0 : Number(size) });
  }
  return entries;
}

/** A path quoted for a debugfs command line (which has no escapes: quotes and newlines are refused). */
export function debugfsPath(path: string): string {
  if (/["\r\n\0]/.test(path)) throw new SourceError("unsupported", `cannot read ${JSON.stringify(path)} with debugfs`);
  return `"${path}"`;
}

/** Read access to an ext2/3/4 filesystem inside a raw image (at a byte offset) through debugfs, no mount. */
export class ExtFilesystem {
  constructor(
    readonly image: string,
    readonly offset: number,
  ) {}

  private get device(): string {
    return this.offset > 0 ? `${this.image}?offset=${this.offset}` : this.image;
  }

  /** The entries of a directory, or undefined if it does not exist. Intermediate symlinks are followed. */
  async list(dir: string): Promise<DirEntry[] | undefined> {
    const result = await run(["debugfs", "-c", "-R", `ls -p ${debugfsPath(dir)}`, this.device], {
      timeoutMs: 60_000,
    });
    if (result.code !== 0) throw new SourceError("host_error", `debugfs failed: ${result.stderr.trim().slice(-300)}`);
    if (/File not found|not a directory/i.test(result.stderr)) return undefined;
    return parseDebugfsListing(result.stdout);
  }

  /** Runs a debugfs command file with the filesystem opened for writing (the image must not be in use). */
  async modify(script: string): Promise<void> {
    const result = await run(["debugfs", "-w", "-f", script, this.device], { timeoutMs: 10 * 60_000 });
    // debugfs exits 0 even when a command fails; its complaints name the command on stderr.
    const complaints = result.stderr
      .split("\n")
      .filter((line) => line.trim() !== "" && !/^debugfs [\d.]+ \(/.test(line));
    if (result.code !== 0 || complaints.length > 0) {
      throw new SourceError("host_error", `debugfs could not change the disk: ${complaints.join("; ").slice(-300)}`);
    }
  }

  /**
   * The target of a symlink, or undefined if `path` is missing or no symlink. Targets up to 60
   * bytes (debugfs's "fast links") are read, which covers init links; longer ones read as undefined.
   */
  async readlink(path: string): Promise<string | undefined> {
    const result = await run(["debugfs", "-c", "-R", `stat ${debugfsPath(path)}`, this.device], {
      timeoutMs: 60_000,
    });
    if (result.code !== 0) throw new SourceError("host_error", `debugfs failed: ${result.stderr.trim().slice(-300)}`);
    return /^Fast link dest: "(.*)"$/m.exec(result.stdout)?.[1];
  }

  /** Copies files out (`[path in the filesystem, local path]`); every one must arrive. */
  async dump(files: ReadonlyArray<readonly [string, string]>, scratch: string): Promise<void> {
    if (files.length === 0) return;
    for (const [, local] of files) await mkdir(dirname(local), { recursive: true });
    const script = join(scratch, `debugfs-${process.pid}-${Date.now()}.cmds`);
    await writeFile(script, files.map(([path, local]) => `dump ${debugfsPath(path)} ${debugfsPath(local)}\n`).join(""));
    try {
      const result = await run(["debugfs", "-c", "-f", script, this.device], { timeoutMs: 10 * 60_000 });
      if (result.code !== 0) throw new SourceError("host_error", `debugfs failed: ${result.stderr.trim().slice(-300)}`);
      for (const [path, local] of files) {
        if (!(await stat(local).catch(() => undefined))) {
          throw new SourceError(
            "host_error",
            `could not read ${path} from the disk: ${result.stderr.trim().slice(-300)}`,
          );
        }
      }
    } finally {
      await rm(script, { force: true });
    }
  }
}

/** The VM boots systemd: its /sbin/init is a link to systemd (a sysvinit system's is a program). */
export async function initIsSystemd(root: ExtFilesystem): Promise<boolean> {
  const target = await root.readlink("/sbin/init");
  return target !== undefined && /(^|\/)systemd$/.test(target);
}
