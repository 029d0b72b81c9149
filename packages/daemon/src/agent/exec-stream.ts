import { randomUUID } from "node:crypto";
import { BASE_ENV, type ExecRequest, type ExecResult, GuestAgentError } from "./client.js";

export type OutputStream = "stdout" | "stderr";

/** The largest piece of output handed on at once (one read from the guest). */
export const OUTPUT_CHUNK_BYTES = 64 * 1024;

/** How often the guest is polled: quickly while output flows, backing off while the command is quiet. */
export const POLL_MIN_MS = 20;
export const POLL_MAX_MS = 250;

/** Where each streamed exec writes its output in the guest; removed once the output is read. */
const EXEC_ROOT = "/tmp/.fluid-exec";

/** The qemu-guest-agent calls a streamed exec needs (GuestAgent provides them). */
export interface AgentRequests {
  request<T = unknown>(command: string, args?: Record<string, unknown>): Promise<T>;
}

interface Tail {
  stream: OutputStream;
  path: string;
  handle: number | undefined;
  offset: number;
  /** The last read hit end of file: the guest's stdio keeps EOF sticky, so seek before reading again. */
  atEof: boolean;
  total: number;
  truncated: boolean;
}

/**
 * Runs a shell command line in the guest and hands on its output while it runs. qemu-ga's
 * guest-exec only returns output once the process has exited, so the command's stdout and stderr
 * go to files in a per-exec directory in the guest, which are read from the last offset with
 * guest-file-read while guest-exec-status says it is still running. Nothing new is needed in the guest.
 * Each stream is capped at maxOutputBytes (what is past the cap is not read), pieces are at most
 * OUTPUT_CHUNK_BYTES, and the command's process group is killed at its timeout as in buffered exec.
 */
export async function execStreaming(
  agent: AgentRequests,
  request: ExecRequest,
  onOutput: (stream: OutputStream, data: Buffer) => void,
  sleep: (ms: number) => Promise<void> = (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
): Promise<ExecResult> {
  const started = Date.now();
  const dir = `${EXEC_ROOT}/${randomUUID()}`;
  const env = [...BASE_ENV, ...Object.entries(request.env ?? {}).map(([k, v]) => `${k}=${v}`)];
  const { pid } = await agent.request<{ pid: number }>("guest-exec", {
    path: "/fluid/busybox",
    // The directory and the command line are arguments of the wrapper, never spliced into its script.
    arg: [
      "setsid",
      "/fluid/busybox",
      "sh",
      "-c",
      'mkdir -p "$1" && exec /bin/sh -c "$2" >"$1/stdout" 2>"$1/stderr"',
      "fluid-exec",
      dir,
      request.command,
    ],
    env,
    ...(request.stdin ? { "input-data": request.stdin.toString("base64") } : {}),
  });
  const tails: Tail[] = (["stdout", "stderr"] as const).map((stream) => ({
    stream,
    path: `${dir}/${stream}`,
    handle: undefined,
    offset: 0,
    atEof: false,
    total: 0,
    truncated: false,
  }));
  let timedOut = false;
  let delay = POLL_MIN_MS;
  try {
    for (;;) {
      const status = await agent.request<{ exited: boolean; exitcode?: number; signal?: number }>("guest-exec-status", {
        pid,
      });
      let read = 0;
      for (const tail of tails) read += await drain(agent, tail, request.maxOutputBytes, onOutput);
      if (status.exited) {
        return {
          exitCode: status.exitcode ?? (status.signal !== undefined ? 128 + status.signal : -1),
          stdout: Buffer.alloc(0),
          stderr: Buffer.alloc(0),
          stdoutTruncated: tails[0]?.truncated ?? false,
          stderrTruncated: tails[1]?.truncated ?? false,
          timedOut,
          durationMs: Date.now() - started,
        };
      }
      if (!timedOut && Date.now() - started > request.timeoutMs) {
        timedOut = true;
        await agent.request("guest-exec", { path: "/fluid/busybox", arg: ["kill", "-KILL", "--", `-${pid}`] });
      }
      delay = read > 0 ? POLL_MIN_MS : Math.min(POLL_MAX_MS, Math.ceil(delay * 1.5));
      await sleep(delay);
    }
  } finally {
    for (const tail of tails) {
      if (tail.handle !== undefined) await agent.request("guest-file-close", { handle: tail.handle }).catch(() => {});
    }
    void removeDir(agent, dir);
  }
}

/** Reads what a stream has added since the last poll, up to its cap; returns how many bytes it handed on. */
async function drain(
  agent: AgentRequests,
  tail: Tail,
  maxBytes: number,
  onOutput: (stream: OutputStream, data: Buffer) => void,
): Promise<number> {
  if (tail.handle === undefined) {
    try {
      tail.handle = await agent.request<number>("guest-file-open", { path: tail.path, mode: "r" });
    } catch (err) {
      // The wrapper has not created the file yet (or the command could not start): try again next poll.
      if (err instanceof GuestAgentError) return 0;
      throw err;
    }
  }
  let handed = 0;
  while (tail.total < maxBytes) {
    if (tail.atEof) {
      await agent.request("guest-file-seek", { handle: tail.handle, offset: tail.offset, whence: "set" });
      tail.atEof = false;
    }
    const count = Math.min(OUTPUT_CHUNK_BYTES, maxBytes - tail.total);
    const chunk = await agent.request<{ count: number; "buf-b64": string; eof: boolean }>("guest-file-read", {
      handle: tail.handle,
      count,
    });
    const data = Buffer.from(chunk["buf-b64"], "base64");
    tail.atEof = chunk.eof;
    if (data.length > 0) {
      tail.offset += data.length;
      tail.total += data.length;
      handed += data.length;
      onOutput(tail.stream, data);
    }
    if (chunk.eof || data.length < count) return handed;
  }
  if (!tail.truncated) {
    // One byte past the cap says whether anything was cut off.
    if (tail.atEof) {
      await agent.request("guest-file-seek", { handle: tail.handle, offset: tail.offset, whence: "set" });
      tail.atEof = false;
    }
    const probe = await agent.request<{ count: number; eof: boolean }>("guest-file-read", {
      handle: tail.handle,
      count: 1,
    });
    tail.atEof = probe.eof;
    if (probe.count > 0) tail.truncated = true;
  }
  return handed;
}

/** Removes the exec's directory and collects the remover's exit status so qemu-ga forgets it. */
async function removeDir(agent: AgentRequests, dir: string): Promise<void> {
  try {
    const { pid } = await agent.request<{ pid: number }>("guest-exec", {
      path: "/fluid/busybox",
      arg: ["rm", "-rf", "--", dir],
    });
    for (let i = 0; i < 50; i++) {
      const status = await agent.request<{ exited: boolean }>("guest-exec-status", { pid });
      if (status.exited) return;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  } catch {
    // The sandbox may be stopping; its /tmp goes with it.
  }
}
