import { posix } from "node:path";
import { AppError, invalid } from "../http/errors.js";
import type { OrgScope } from "../orgs/access.js";
import type { SandboxService } from "../sandboxes/service.js";

/** Where relative paths point: E2B resolves them against the user's home, and fluid runs commands as root. */
export const HOME = "/root";
const MAX_PATH_BYTES = 4096;
const OP_TIMEOUT_SECONDS = 60;

export function guestPath(path: string): string {
  if (typeof path !== "string" || path === "") throw invalid("path is required");
  if (Buffer.byteLength(path, "utf8") > MAX_PATH_BYTES) throw invalid(`path must be at most ${MAX_PATH_BYTES} bytes`);
  if (path.includes("\0")) throw invalid("path must not contain NUL");
  return posix.resolve(HOME, path);
}

/** EntryInfo of the envd filesystem service, in Connect's JSON form. */
export interface EntryInfo {
  name: string;
  type: "FILE_TYPE_FILE" | "FILE_TYPE_DIRECTORY" | "FILE_TYPE_SYMLINK" | "FILE_TYPE_UNSPECIFIED";
  path: string;
  size: string;
  mode: number;
  permissions: string;
  owner: string;
  group: string;
  modifiedTime: string;
}

const entryTypes: Record<string, EntryInfo["type"]> = {
  "regular file": "FILE_TYPE_FILE",
  "regular empty file": "FILE_TYPE_FILE",
  file: "FILE_TYPE_FILE",
  directory: "FILE_TYPE_DIRECTORY",
  "symbolic link": "FILE_TYPE_SYMLINK",
  symlink: "FILE_TYPE_SYMLINK",
};

export function entryType(kind: string): EntryInfo["type"] {
  return entryTypes[kind] ?? "FILE_TYPE_UNSPECIFIED";
}

/** `stat -c` format of one line; the name goes last because it may contain the separator. */
const STAT_FORMAT = "%F|%s|%f|%A|%U|%G|%Y|%n";

/** Parses one STAT_FORMAT line into an EntryInfo. */
export function parseStat(line: string): EntryInfo {
  const [kind = "", size = "0", rawMode = "0", permissions = "", owner = "", group = "", mtime = "0", ...rest] =
    line.split("|");
  const path = rest.join("|");
  return {
    name: posix.basename(path),
    type: entryType(kind),
    path,
    size: String(Number(size) || 0),
    mode: Number.parseInt(rawMode, 16) & 0o7777,
    permissions,
    owner,
    group,
    modifiedTime: new Date((Number(mtime) || 0) * 1000).toISOString(),
  };
}

/**
 * File operations envd has and fluid's host protocol lacks (stat, mkdir, move, remove) run through
 * the ordinary command path, so they are recorded and audited like any command. The scripts are
 * fixed text: paths reach them only as environment variables, never spliced into the shell.
 */
export class GuestFiles {
  constructor(
    private readonly sandboxes: SandboxService,
    private readonly scope: OrgScope,
    private readonly id: string,
  ) {}

  private async run(script: string, env: Record<string, string>) {
    const command = await this.sandboxes.run(this.scope, this.id, {
      command: script,
      timeoutSeconds: OP_TIMEOUT_SECONDS,
      env,
    });
    if (command.status === "timed_out") throw new AppError("timeout", "the file operation timed out");
    return { exitCode: command.exit_code ?? -1, stdout: command.stdout ?? "", stderr: (command.stderr ?? "").trim() };
  }

  async stat(path: string): Promise<EntryInfo> {
    const result = await this.run(`exec /fluid/busybox stat -c '${STAT_FORMAT}' -- "$E2B_PATH"`, { E2B_PATH: path });
    if (result.exitCode !== 0) throw new AppError("not_found", `${path}: no such file or directory`);
    return parseStat(result.stdout.replace(/\n$/, ""));
  }

  /** Creates a directory and its parents; false when something already exists there. */
  async makeDir(path: string): Promise<boolean> {
    const result = await this.run(
      `if [ -e "$E2B_PATH" ] || [ -L "$E2B_PATH" ]; then exit 17; fi; exec /fluid/busybox mkdir -p -- "$E2B_PATH"`,
      { E2B_PATH: path },
    );
    if (result.exitCode === 17) return false;
    if (result.exitCode !== 0) throw new AppError("invalid_request", `cannot create ${path}: ${result.stderr}`);
    return true;
  }

  async move(source: string, destination: string): Promise<void> {
    const result = await this.run(
      `[ -e "$E2B_SOURCE" ] || [ -L "$E2B_SOURCE" ] || exit 2; exec /fluid/busybox mv -- "$E2B_SOURCE" "$E2B_DESTINATION"`,
      { E2B_SOURCE: source, E2B_DESTINATION: destination },
    );
    if (result.exitCode === 2) throw new AppError("not_found", `${source}: no such file or directory`);
    if (result.exitCode !== 0) throw new AppError("invalid_request", `cannot move ${source}: ${result.stderr}`);
  }

  async remove(path: string): Promise<void> {
    const result = await this.run(
      `[ -e "$E2B_PATH" ] || [ -L "$E2B_PATH" ] || exit 2; exec /fluid/busybox rm -rf -- "$E2B_PATH"`,
      { E2B_PATH: path },
    );
    if (result.exitCode === 2) throw new AppError("not_found", `${path}: no such file or directory`);
    if (result.exitCode !== 0) throw new AppError("invalid_request", `cannot remove ${path}: ${result.stderr}`);
  }
}
