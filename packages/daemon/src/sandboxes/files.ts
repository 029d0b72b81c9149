import { SandboxError } from "../errors.js";
import type { SandboxContext } from "./context.js";
import { sandboxLimits } from "./defaults.js";

export interface FileEntry {
  name: string;
  type: string;
  size: number;
  modifiedUnix: number;
}

export async function readFile(
  ctx: SandboxContext,
  id: string,
  path: string,
  maxBytes: number,
): Promise<{ data: Buffer; truncated: boolean }> {
  assertGuestPath(path);
  await ctx.store.running(id);
  return (await ctx.agents.get(id)).readFile(path, maxBytes);
}

/**
 * Writes a file through the guest agent. qemu-ga creates files world-writable (0666, whatever the
 * umask), so a new file gets `mode` or 0644; an existing file keeps its mode unless one is given.
 */
export async function writeFile(
  ctx: SandboxContext,
  id: string,
  path: string,
  data: Buffer,
  mode?: number,
): Promise<void> {
  assertGuestPath(path);
  if (mode !== undefined && (!Number.isInteger(mode) || mode < 0 || mode > 0o7777)) {
    throw new SandboxError("invalid_request", "mode must be permission bits between 0 and 07777");
  }
  await ctx.store.running(id);
  const agent = await ctx.agents.get(id);
  const existed = await agent.exists(path);
  await agent.writeFile(path, data);
  const wanted = mode ?? (existed ? undefined : 0o644);
  if (wanted === undefined) return;
  const result = await agent.execArgv(["chmod", wanted.toString(8), path], {
    timeoutMs: 30_000,
    maxOutputBytes: 4096,
  });
  if (result.exitCode !== 0)
    throw new SandboxError("host_error", `chmod failed: ${result.stderr.toString("utf8").trim()}`);
}

/** One directory's entries: name, type, size and modification time (no shell involved in the guest). */
export async function listFiles(ctx: SandboxContext, id: string, path: string): Promise<FileEntry[]> {
  assertGuestPath(path);
  await ctx.store.running(id);
  const agent = await ctx.agents.get(id);
  const result = await agent.execArgv(
    [
      "find",
      path,
      "-mindepth",
      "1",
      "-maxdepth",
      "1",
      "-exec",
      "/fluid/busybox",
      "stat",
      "-c",
      "%F|%s|%Y|%n",
      "{}",
      "+",
    ],
    { timeoutMs: 60_000, maxOutputBytes: 4 * 1024 * 1024 },
  );
  if (result.exitCode !== 0) {
    throw new SandboxError("not_found", `cannot list ${path}: ${result.stderr.toString("utf8").trim().slice(0, 300)}`);
  }
  return parseStatLines(result.stdout.toString("utf8"), path);
}

const fileTypes: Record<string, string> = {
  "regular file": "file",
  "regular empty file": "file",
  directory: "directory",
  "symbolic link": "symlink",
};

/** Parses `stat -c '%F|%s|%Y|%n'` lines; names may contain '|', so the name is everything after the third. */
export function parseStatLines(output: string, dir: string): FileEntry[] {
  const prefix = dir.endsWith("/") ? dir : `${dir}/`;
  return output
    .split("\n")
    .filter(Boolean)
    .map((line) => {
      const [type = "", size = "0", mtime = "0", ...rest] = line.split("|");
      const full = rest.join("|");
      return {
        name: full.startsWith(prefix) ? full.slice(prefix.length) : full,
        type: fileTypes[type] ?? "other",
        size: Number(size),
        modifiedUnix: Number(mtime),
      };
    })
    .sort((a, b) => a.name.localeCompare(b.name));
}

function assertGuestPath(path: string): void {
  if (!path.startsWith("/") || path.includes("\0") || Buffer.byteLength(path) > sandboxLimits.maxGuestPathBytes) {
    throw new SandboxError(
      "invalid_request",
      `path must be absolute, without NUL, at most ${sandboxLimits.maxGuestPathBytes} bytes`,
    );
  }
}
