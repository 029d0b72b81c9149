import { createConnection, type Socket } from "node:net";

export class GuestAgentError extends Error {
  readonly errorClass: string;
  constructor(errorClass: string, description: string) {
    super(`guest agent ${errorClass}: ${description}`);
    this.name = "GuestAgentError";
    this.errorClass = errorClass;
  }
}

export interface ExecRequest {
  /** A shell command line, run inside the guest by /bin/sh (the guest is the sandbox: its shell is fine). */
  command: string;
  env?: Record<string, string>;
  stdin?: Buffer;
  timeoutMs: number;
  maxOutputBytes: number;
}

export interface ExecResult {
  exitCode: number;
  stdout: Buffer;
  stderr: Buffer;
  stdoutTruncated: boolean;
  stderrTruncated: boolean;
  timedOut: boolean;
  durationMs: number;
}

interface Waiter {
  resolve(value: unknown): void;
  reject(error: Error): void;
}

const DELIMITER = 0xff;
export const BASE_ENV = [
  "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/fluid",
  "HOME=/root",
  "LANG=C.UTF-8",
];

/**
 * A client for the standard QEMU guest agent protocol (guest-exec, guest-file-*) over the VM's
 * virtio-serial chardev socket. qemu-ga answers requests in order without ids, so requests are
 * strictly serialised; `guest-sync-delimited` resynchronises after connect or a lost reply.
 */
export class GuestAgent {
  private readonly socket: Socket;
  private buffer = Buffer.alloc(0);
  private readonly queue: Array<{ payload: string; waiter: Waiter }> = [];
  private inFlight: Waiter | undefined;
  private closedError: Error | undefined;
  private syncing: { latest: number; resolve(): void } | undefined;
  private syncCounter = Math.floor(Math.random() * 1e6);

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.on("error", (err) => this.fail(err));
    socket.on("close", () => this.fail(new Error("guest agent connection closed")));
  }

  /** Connects and waits until the agent in the guest answers (the guest may still be booting). */
  static async connect(path: string, readyTimeoutMs: number): Promise<GuestAgent> {
    const socket = createConnection(path);
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("error", reject);
    });
    const agent = new GuestAgent(socket);
    try {
      await agent.sync(readyTimeoutMs);
    } catch (err) {
      agent.close();
      throw err;
    }
    return agent;
  }

  /**
   * Sends guest-sync-delimited until the agent echoes the latest of our ids. Bytes before the
   * agent's 0xFF delimiter (stale replies) are discarded. Data written before the guest opens its
   * port is held by QEMU, so an agent that starts late receives every sync sent meanwhile and answers
   * each in turn: only the last answer ends the sync, or the earlier ones would be taken for the
   * replies to the requests that follow.
   */
  async sync(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const syncing = { latest: 0, resolve: () => {} };
    const synced = new Promise<void>((resolve) => {
      syncing.resolve = resolve;
    });
    this.syncing = syncing;
    while (Date.now() < deadline) {
      if (this.closedError) throw this.closedError;
      const id = ++this.syncCounter;
      syncing.latest = id;
      this.socket.write(
        Buffer.concat([
          Buffer.from([DELIMITER]),
          Buffer.from(`${JSON.stringify({ execute: "guest-sync-delimited", arguments: { id } })}\n`),
        ]),
      );
      const answered = await Promise.race([
        synced.then(() => true),
        new Promise<boolean>((resolve) =>
          setTimeout(() => resolve(false), Math.min(10_000, Math.max(1, deadline - Date.now()))),
        ),
      ]);
      if (answered) {
        this.syncing = undefined;
        return;
      }
    }
    this.syncing = undefined;
    throw new Error(`guest agent did not answer within ${(timeoutMs / 1000).toFixed(1)} s`);
  }

  request<T = unknown>(command: string, args?: Record<string, unknown>): Promise<T> {
    if (this.closedError) return Promise.reject(this.closedError);
    return new Promise<T>((resolve, reject) => {
      this.queue.push({
        payload: `${JSON.stringify({ execute: command, ...(args ? { arguments: args } : {}) })}\n`,
        waiter: { resolve: resolve as (v: unknown) => void, reject },
      });
      this.pump();
    });
  }

  async ping(): Promise<void> {
    await this.request("guest-ping");
  }

  /**
   * Runs a shell command line in its own session (so a timeout kills its whole process group),
   * polling guest-exec-status until it exits. Output is capped at maxOutputBytes per stream.
   */
  exec(request: ExecRequest): Promise<ExecResult> {
    return this.spawn("/fluid/busybox", ["setsid", "/bin/sh", "-c", request.command], request);
  }

  /** Runs a program with an argument vector (no shell in the guest either), same limits as exec. */
  execArgv(argv: readonly string[], limits: { timeoutMs: number; maxOutputBytes: number }): Promise<ExecResult> {
    const [program, ...args] = argv;
    if (!program) throw new Error("execArgv: empty argv");
    return this.spawn("/fluid/busybox", ["setsid", program, ...args], { ...limits, command: program });
  }

  private async spawn(path: string, arg: string[], request: ExecRequest): Promise<ExecResult> {
    const started = Date.now();
    const env = [...BASE_ENV, ...Object.entries(request.env ?? {}).map(([k, v]) => `${k}=${v}`)];
    const { pid } = await this.request<{ pid: number }>("guest-exec", {
      path,
      arg,
      env,
      "capture-output": true,
      ...(request.stdin ? { "input-data": request.stdin.toString("base64") } : {}),
    });
    let timedOut = false;
    let delay = 1;
    for (;;) {
      const status = await this.request<{
        exited: boolean;
        exitcode?: number;
        signal?: number;
        "out-data"?: string;
        "err-data"?: string;
        "out-truncated"?: boolean;
        "err-truncated"?: boolean;
      }>("guest-exec-status", { pid });
      if (status.exited) {
        const stdout = Buffer.from(status["out-data"] ?? "", "base64");
        const stderr = Buffer.from(status["err-data"] ?? "", "base64");
        return {
          exitCode: status.exitcode ?? (status.signal !== undefined ? 128 + status.signal : -1),
          stdout: stdout.subarray(0, request.maxOutputBytes),
          stderr: stderr.subarray(0, request.maxOutputBytes),
          stdoutTruncated: stdout.length > request.maxOutputBytes || (status["out-truncated"] ?? false),
          stderrTruncated: stderr.length > request.maxOutputBytes || (status["err-truncated"] ?? false),
          timedOut,
          durationMs: Date.now() - started,
        };
      }
      if (!timedOut && Date.now() - started > request.timeoutMs) {
        timedOut = true;
        await this.request("guest-exec", { path: "/fluid/busybox", arg: ["kill", "-KILL", "--", `-${pid}`] });
      }
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, 25);
    }
  }

  async readFile(path: string, maxBytes: number): Promise<{ data: Buffer; truncated: boolean }> {
    const handle = await this.request<number>("guest-file-open", { path, mode: "r" });
    try {
      const chunks: Buffer[] = [];
      let total = 0;
      for (;;) {
        const chunk = await this.request<{ count: number; "buf-b64": string; eof: boolean }>("guest-file-read", {
          handle,
          count: Math.min(1_048_576, maxBytes + 1 - total),
        });
        const data = Buffer.from(chunk["buf-b64"], "base64");
        chunks.push(data);
        total += data.length;
        if (chunk.eof || data.length === 0) break;
        if (total > maxBytes) break;
      }
      const all = Buffer.concat(chunks);
      return { data: all.subarray(0, maxBytes), truncated: all.length > maxBytes };
    } finally {
      await this.request("guest-file-close", { handle }).catch(() => undefined);
    }
  }

  /** Whether the guest can open the path for reading (cheap: no process in the guest). */
  async exists(path: string): Promise<boolean> {
    try {
      const handle = await this.request<number>("guest-file-open", { path, mode: "r" });
      await this.request("guest-file-close", { handle }).catch(() => undefined);
      return true;
    } catch (err) {
      if (err instanceof GuestAgentError) return false;
      throw err;
    }
  }

  async writeFile(path: string, data: Buffer): Promise<void> {
    const handle = await this.request<number>("guest-file-open", { path, mode: "w" });
    try {
      for (let offset = 0; offset < data.length || offset === 0; offset += 1_048_576) {
        await this.request("guest-file-write", {
          handle,
          "buf-b64": data.subarray(offset, offset + 1_048_576).toString("base64"),
        });
        if (data.length === 0) break;
      }
      await this.request("guest-file-flush", { handle });
    } finally {
      await this.request("guest-file-close", { handle }).catch(() => undefined);
    }
  }

  /** Flushes and freezes the guest's filesystems (FIFREEZE); returns how many were frozen. */
  freezeFilesystems(): Promise<number> {
    return this.request<number>("guest-fsfreeze-freeze");
  }

  /** Thaws what freezeFilesystems froze; returns how many were thawed. */
  thawFilesystems(): Promise<number> {
    return this.request<number>("guest-fsfreeze-thaw");
  }

  /** Asks the guest to power off; qemu-ga sends no reply to a successful shutdown. */
  shutdown(): void {
    this.socket.write(`${JSON.stringify({ execute: "guest-shutdown", arguments: { mode: "powerdown" } })}\n`);
  }

  close(): void {
    this.socket.destroy();
  }

  private pump(): void {
    if (this.inFlight || this.syncing) return;
    const next = this.queue.shift();
    if (!next) return;
    this.inFlight = next.waiter;
    this.socket.write(next.payload);
  }

  private onData(chunk: Buffer): void {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    for (;;) {
      if (this.syncing) {
        const delimiter = this.buffer.indexOf(DELIMITER);
        if (delimiter === -1) {
          this.buffer = Buffer.alloc(0);
          return;
        }
        this.buffer = this.buffer.subarray(delimiter + 1);
      }
      const newline = this.buffer.indexOf(0x0a);
      if (newline === -1) return;
      const line = this.buffer.subarray(0, newline).toString("utf8").trim();
      this.buffer = this.buffer.subarray(newline + 1);
      if (!line) continue;
      let message: { return?: unknown; error?: { class?: string; desc?: string } };
      try {
        message = JSON.parse(line);
      } catch {
        continue;
      }
      if (this.syncing) {
        if (message.return === this.syncing.latest) {
          const done = this.syncing.resolve;
          this.syncing = undefined;
          done();
          this.pump();
        }
        continue;
      }
      const waiter = this.inFlight;
      this.inFlight = undefined;
      if (waiter) {
        if (message.error)
          waiter.reject(
            new GuestAgentError(message.error.class ?? "GenericError", message.error.desc ?? "unknown error"),
          );
        else waiter.resolve(message.return);
      }
      this.pump();
    }
  }

  private fail(error: Error): void {
    if (this.closedError) return;
    this.closedError = error;
    this.inFlight?.reject(error);
    this.inFlight = undefined;
    for (const { waiter } of this.queue.splice(0)) waiter.reject(error);
  }
}
