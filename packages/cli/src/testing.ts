import { spawn } from "node:child_process";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

/** What one `fluid` invocation did. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout as bytes, for binary output (`sandbox cp … -`). */
  stdoutBytes: Buffer;
}

const repoRoot = join(import.meta.dirname, "..", "..", "..");
const boot = `const { main } = await import(${JSON.stringify(pathToFileURL(join(import.meta.dirname, "main.ts")).href)}); await main(process.argv.slice(1));`;

/**
 * Test support: runs the real `fluid` from source (main.ts under tsx) in its own process, as a user
 * would run it, so exit codes and the split between stdout and stderr are the real ones. The
 * environment is the caller's `env` only (plus PATH and HOME), so no FLUID_* setting leaks in.
 */
export function runFluid(args: string[], options: { env?: Record<string, string>; input?: Buffer } = {}) {
  return new Promise<CliResult>((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", boot, "--", ...args], {
      cwd: repoRoot,
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/root", ...options.env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (chunk: Buffer) => out.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => err.push(chunk));
    child.on("error", reject);
    child.on("close", (code) => {
      const stdoutBytes = Buffer.concat(out);
      resolve({ code: code ?? -1, stdout: stdoutBytes.toString(), stderr: Buffer.concat(err).toString(), stdoutBytes });
    });
    child.stdin.end(options.input);
  });
}
