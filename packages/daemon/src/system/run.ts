import { spawn } from "node:child_process";

export interface RunOptions {
  /** Kill the process (SIGKILL) after this long. */
  timeoutMs?: number;
  input?: string | Buffer;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Cap on captured bytes per stream; output beyond it is dropped. */
  maxOutputBytes?: number;
  /** Sees stdout as it arrives (for programs that report progress there). */
  onStdout?: (text: string) => void;
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export class CommandError extends Error {
  readonly result: RunResult;
  readonly argv: readonly string[];
  constructor(argv: readonly string[], result: RunResult) {
    const detail = result.stderr.trim().split("\n").slice(-3).join(" | ") || `exit ${result.code ?? result.signal}`;
    super(`${argv[0]} failed: ${detail}`);
    this.name = "CommandError";
    this.argv = argv;
    this.result = result;
  }
}

/** Runs a program with an argument vector (never a shell) and captures its output. */
export function run(argv: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const [file, ...args] = argv;
  if (!file) throw new Error("run: empty argv");
  const cap = options.maxOutputBytes ?? 16 * 1024 * 1024;
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      stdio: ["pipe", "pipe", "pipe"],
      env: options.env ?? process.env,
      cwd: options.cwd,
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outBytes = 0;
    let errBytes = 0;
    child.stdout.on("data", (chunk: Buffer) => {
      options.onStdout?.(chunk.toString("utf8"));
      if (outBytes < cap) out.push(chunk.subarray(0, cap - outBytes));
      outBytes += chunk.length;
    });
    child.stderr.on("data", (chunk: Buffer) => {
      if (errBytes < cap) err.push(chunk.subarray(0, cap - errBytes));
      errBytes += chunk.length;
    });
    const timer = options.timeoutMs ? setTimeout(() => child.kill("SIGKILL"), options.timeoutMs) : undefined;
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({
        code,
        signal,
        stdout: Buffer.concat(out).toString("utf8"),
        stderr: Buffer.concat(err).toString("utf8"),
      });
    });
    child.stdin.on("error", () => undefined);
    child.stdin.end(options.input);
  });
}

/** Like run(), but a non-zero exit is an error carrying the program's stderr. */
export async function runChecked(argv: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const result = await run(argv, options);
  if (result.code !== 0) throw new CommandError(argv, result);
  return result;
}
