import { chmod, readFile, stat, writeFile } from "node:fs/promises";
import { basename, join, posix } from "node:path";
import { type Command, InvalidArgumentError } from "commander";
import { FluidError, fluidError } from "../api/errors.js";
import { listSandboxFiles, readSandboxFile, writeSandboxFile } from "../api/sandbox-files.js";
import type { Connection } from "../connection.js";
import { bytes, CliError, table } from "../output.js";
import { SANDBOX_ARG, sandboxId } from "./sandbox-lookup.js";
import { connectFor, emit, globals } from "./shared.js";

interface Remote {
  sandbox: string;
  path: string;
}

/** `sandbox cp` and `sandbox files`: files inside a running sandbox, moved binary-safe. */
export function registerSandboxFileCommands(sandbox: Command): void {
  sandbox
    .command("cp")
    .description("copy a file into or out of a running sandbox (one side is SANDBOX:/absolute/path)")
    .argument("<source>", "local file, - for stdin, or SANDBOX:/path")
    .argument("<destination>", "local file or directory, - for stdout, or SANDBOX:/path (ending in / keeps the name)")
    .option(
      "--mode <octal>",
      "permission bits for the copy, e.g. 0755 (uploads default to the local file's)",
      octalMode,
    )
    .addHelpText(
      "after",
      `
SANDBOX is a sandbox id or the name of a live sandbox, as in scp; write ./name for a local file
whose name has a colon. Files are copied whole, up to the server's file limit (8 MiB).

Examples:
  fluid sandbox cp ./setup.sh sbx-1:/root/ --mode 0755
  fluid sandbox cp sbx-1:/etc/os-release .
  fluid sandbox cp sbx-1:/var/log/app.log - | grep ERROR`,
    )
    .action(async (source: string, destination: string, options: { mode?: string }, command: Command) => {
      const from = parseRemote(source);
      const to = parseRemote(destination);
      if (from && to) throw new CliError("copy between two sandboxes through a local file; one side must be local");
      if (to) {
        const result = await upload(await connectFor(command), source, to, options.mode);
        emit(command, result, () => `Copied ${bytes(result.size)} to ${to.sandbox}:${result.path}\n`);
        return;
      }
      if (!from) throw new CliError("one side must be inside a sandbox: SANDBOX:/absolute/path");
      if (destination === "-" && globals(command).json) {
        throw new CliError("with --json, copy to a file: stdout carries the JSON document");
      }
      const result = await download(await connectFor(command), from, destination, options.mode);
      if (destination !== "-") {
        emit(
          command,
          result,
          () => `Copied ${bytes(result.size)} from ${from.sandbox}:${from.path} to ${result.local}\n`,
        );
      }
    });

  sandbox
    .command("files")
    .description("list a directory inside a running sandbox")
    .argument("<sandbox>", SANDBOX_ARG)
    .argument("[path]", "absolute directory path", "/")
    .action(async (ref: string, path: string, _options: unknown, command: Command) => {
      if (!path.startsWith("/")) throw new CliError(`the path must be absolute, got "${path}"`);
      const conn = await connectFor(command);
      const id = await sandboxId(conn, ref);
      const listing = await listSandboxFiles(conn, id, path);
      emit(command, listing, () =>
        listing.entries.length === 0
          ? `${path} is empty\n`
          : table(
              ["NAME", "TYPE", "SIZE", "MODIFIED"],
              listing.entries.map((e) => [
                e.type === "directory" ? `${e.name}/` : e.name,
                e.type,
                e.size,
                e.modified_at,
              ]),
            ),
      );
    });
}

/** `SANDBOX:/path`, scp style; anything without a `name:` prefix is a local path. */
function parseRemote(arg: string): Remote | undefined {
  const match = /^([A-Za-z0-9][A-Za-z0-9._-]*):(.*)$/.exec(arg);
  if (!match) return undefined;
  const [, sandbox = "", path = ""] = match;
  if (!path.startsWith("/")) {
    throw new CliError(
      `the path inside the sandbox must be absolute: ${sandbox}:/…, got "${arg}" (./${arg} for a local file)`,
    );
  }
  return { sandbox, path };
}

function octalMode(value: string): string {
  if (!/^[0-7]{3,4}$/.test(value)) throw new InvalidArgumentError("must be octal permission bits like 0644 or 755");
  return value;
}

async function upload(conn: Connection, local: string, remote: Remote, mode: string | undefined) {
  const content = local === "-" ? await readStdin() : await readLocal(local);
  let path = remote.path;
  if (path.endsWith("/")) {
    if (local === "-") throw new CliError("name the file to create when copying from stdin: SANDBOX:/dir/name");
    path += basename(local);
  }
  // Like scp, a new file keeps the local file's permission bits (a script stays executable).
  const fileMode =
    mode ?? (local === "-" ? undefined : ((await stat(local)).mode & 0o777).toString(8).padStart(4, "0"));
  const id = await sandboxId(conn, remote.sandbox);
  const written = await writeSandboxFile(conn, id, { path, content, mode: fileMode }).catch((err: unknown) => {
    if (err instanceof FluidError && err.code === "payload_too_large") {
      throw fluidError(err.status, err.code, `${local} (${bytes(content.length)}) is larger than the server accepts`);
    }
    throw err;
  });
  return { direction: "upload", sandbox_id: id, path: written.path, local, size: written.size };
}

async function download(conn: Connection, remote: Remote, local: string, mode: string | undefined) {
  const id = await sandboxId(conn, remote.sandbox);
  const file = await readSandboxFile(conn, id, remote.path);
  // A partial copy that looks complete is worse than none.
  if (file.truncated) {
    throw new CliError(`${remote.sandbox}:${remote.path} is larger than the server's file limit; nothing was written`, {
      code: "payload_too_large",
    });
  }
  const content = file.bytes;
  const result = { direction: "download", sandbox_id: id, path: remote.path, local, size: content.length };
  if (local === "-") {
    process.stdout.write(content);
    return result;
  }
  const target = (await isDirectory(local)) ? join(local, posix.basename(remote.path)) : local;
  try {
    await writeFile(target, content);
  } catch (err) {
    throw localError(err, target);
  }
  if (mode) await chmod(target, Number.parseInt(mode, 8));
  return { ...result, local: target };
}

export async function readLocal(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    throw localError(err, path);
  }
}

export async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function isDirectory(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isDirectory() ?? false;
}

/** Local file problems as messages about the file, not errno dumps. */
function localError(err: unknown, path: string): unknown {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === "ENOENT") return new CliError(`${path}: no such file or directory`, { code: "not_found" });
  if (code === "EISDIR") return new CliError(`${path} is a directory; cp copies single files (tar a directory first)`);
  if (code === "EACCES") return new CliError(`${path}: permission denied`, { code: "local_error" });
  return err;
}
