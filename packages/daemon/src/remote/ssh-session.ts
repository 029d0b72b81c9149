import { spawn } from "node:child_process";
import { createWriteStream } from "node:fs";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { remoteCommand } from "./shell-quote.js";
import { HOST_ALIAS } from "./ssh-config.js";
import { classifySshFailure, failure, SshError } from "./ssh-error.js";

export interface RunOptions {
  timeoutMs?: number;
  /** Cap on stdout (and separately stderr); exceeding it kills the command (`output_too_large`). */
  maxOutputBytes?: number;
  /** When false, a non-zero exit is returned instead of thrown. Connection failures always throw. */
  check?: boolean;
  /**
   * Send `argv[0]` as the command line itself, unquoted: for a login whose forced command parses the
   * line (fluid's restricted shell reads SSH_ORIGINAL_COMMAND), never for a login with a real shell.
   */
  rawLine?: boolean;
}

export interface RemoteResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface StreamOptions {
  /** Kill the copy when no data arrived for this long. */
  idleTimeoutMs?: number;
  /** Called with the running byte count as data arrives. */
  onBytes?: (bytes: number) => void;
  signal?: AbortSignal;
}

/** What the source-host code needs from a connection; SshSession implements it (tests fake it). */
export interface RemoteRunner {
  run(argv: readonly string[], options?: RunOptions): Promise<RemoteResult>;
  /** Runs a command and writes its stdout to a local file (created 0600); resolves to the byte count. */
  streamToFile(argv: readonly string[], file: string, options?: StreamOptions): Promise<number>;
}

/** Collects a stream up to `cap` bytes; calls `onOverflow` once when more arrives. */
function collector(cap: number, onOverflow: () => void) {
  const chunks: Buffer[] = [];
  let bytes = 0;
  let overflowed = false;
  return {
    push(chunk: Buffer) {
      if (bytes + chunk.length > cap) {
        chunks.push(chunk.subarray(0, Math.max(0, cap - bytes)));
        bytes = cap;
        if (!overflowed) {
          overflowed = true;
          onOverflow();
        }
        return;
      }
      chunks.push(chunk);
      bytes += chunk.length;
    },
    text: () => Buffer.concat(chunks).toString("utf8"),
    get overflowed() {
      return overflowed;
    },
  };
}

/**
 * An open connection to a source host: one authenticated OpenSSH master (ControlMaster) that every
 * command of the session reuses, so a listing of many VMs costs one handshake.
 */
export class SshSession implements RemoteRunner {
  constructor(
    private readonly ssh: string,
    private readonly config: string,
    private readonly where: string,
  ) {}

  private args(argv: readonly string[], rawLine = false): string[] {
    const command = rawLine && argv.length === 1 ? (argv[0] as string) : remoteCommand(argv);
    return ["-F", this.config, "-o", "ControlMaster=no", HOST_ALIAS, command];
  }

  run(argv: readonly string[], options: RunOptions = {}): Promise<RemoteResult> {
    const line = this.args(argv, options.rawLine);
    const cap = options.maxOutputBytes ?? 4 * 1024 * 1024;
    const timeoutMs = options.timeoutMs ?? 60_000;
    return new Promise((resolve, reject) => {
      const child = spawn(this.ssh, line, { stdio: ["ignore", "pipe", "pipe"] });
      let killedFor: "timeout" | "output_too_large" | undefined;
      const kill = (why: "timeout" | "output_too_large") => {
        killedFor ??= why;
        child.kill("SIGKILL");
      };
      const out = collector(cap, () => kill("output_too_large"));
      const err = collector(64 * 1024, () => undefined);
      child.stdout.on("data", (chunk: Buffer) => out.push(chunk));
      child.stderr.on("data", (chunk: Buffer) => err.push(chunk));
      const timer = setTimeout(() => kill("timeout"), timeoutMs);
      // Once killed, do not wait for a grandchild that may still hold the pipes open.
      child.on("exit", () => {
        if (!killedFor) return;
        child.stdout.destroy();
        child.stderr.destroy();
      });
      child.on("error", (error) => {
        clearTimeout(timer);
        reject(new SshError("unreachable", `cannot run ${this.ssh}: ${error.message}`));
      });
      child.on("close", (code) => {
        clearTimeout(timer);
        const stderr = err.text();
        if (killedFor === "timeout") {
          reject(new SshError("timeout", `${argv[0]} on ${this.where} took longer than ${timeoutMs} ms`, { stderr }));
        } else if (killedFor === "output_too_large") {
          reject(
            new SshError("output_too_large", `${argv[0]} on ${this.where} printed more than ${cap} bytes`, { stderr }),
          );
        } else if (code === 0 || (options.check === false && !(code === 255 && classifySshFailure(stderr)))) {
          resolve({ code, stdout: out.text(), stderr });
        } else {
          reject(failure(code, stderr, argv, this.where));
        }
      });
    });
  }

  async streamToFile(argv: readonly string[], file: string, options: StreamOptions = {}): Promise<number> {
    const idleTimeoutMs = options.idleTimeoutMs ?? 120_000;
    const child = spawn(this.ssh, this.args(argv), { stdio: ["ignore", "pipe", "pipe"] });
    const err = collector(64 * 1024, () => undefined);
    child.stderr.on("data", (chunk: Buffer) => err.push(chunk));
    const exited = new Promise<number | null>((resolve, reject) => {
      child.on("error", reject);
      child.on("close", (code) => resolve(code));
    });
    let bytes = 0;
    let stalled = false;
    let idle: NodeJS.Timeout | undefined;
    const arm = () => {
      clearTimeout(idle);
      idle = setTimeout(() => {
        stalled = true;
        child.kill("SIGKILL");
      }, idleTimeoutMs);
    };
    const abort = () => child.kill("SIGKILL");
    options.signal?.addEventListener("abort", abort, { once: true });
    const counter = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        bytes += chunk.length;
        arm();
        options.onBytes?.(bytes);
        callback(null, chunk);
      },
    });
    arm();
    try {
      if (options.signal?.aborted) abort();
      const copied = pipeline(child.stdout, counter, createWriteStream(file, { mode: 0o600 }));
      const [code] = await Promise.all([
        exited,
        copied.catch((error: unknown) => {
          child.kill("SIGKILL");
          throw error;
        }),
      ]);
      const stderr = err.text();
      if (options.signal?.aborted) throw options.signal.reason ?? new Error("aborted");
      if (stalled) {
        throw new SshError("timeout", `${argv[0]} on ${this.where} sent nothing for ${idleTimeoutMs} ms`, { stderr });
      }
      if (code !== 0) throw failure(code, stderr, argv, this.where);
      return bytes;
    } finally {
      clearTimeout(idle);
      options.signal?.removeEventListener("abort", abort);
    }
  }
}
