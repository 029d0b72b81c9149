import { type ProcessSignal, processLimits } from "@fluid/proto";
import { BASE_ENV, GuestAgentError } from "./client.js";
import type { AgentRequests } from "./exec-stream.js";

/** Where each background process keeps its files in the guest: stdin (a FIFO), stdout, stderr, pid, exit. */
export const PROCESS_ROOT = "/run/fluid/proc";

/** How long a start waits for the wrapper to record the command's pid. */
const PID_WAIT_MS = 10_000;

/**
 * The wrapper that outlives the request. A holder (a sleep of its own, its pid in `holder`) keeps
 * the stdin FIFO open read-write, so neither the command's open nor the host's writes block and the
 * command sees no end of input until the host closes stdin by ending the holder (CLOSE_STDIN).
 * The wrapper runs the command in the foreground (a background job would start with SIGINT and
 * SIGQUIT ignored) in a session of its own, whose first shell records its pid (the process group
 * signals go to) before it becomes the command. The wrapper then records the exit status. The FIFO
 * is removed before the status is written, so a host that saw no status and opens the FIFO either
 * finds the holder still holding it or makes a plain file, and never blocks the agent on a FIFO
 * without a reader. Whoever removes `holder` first (the wrapper at exit, or a close) ends the holder.
 * The directory and the command line are arguments, never spliced into a script.
 */
const WRAPPER = [
  'd="$1"',
  'mkdir -p "$d" && mkfifo "$d/stdin" || exit 127',
  '/fluid/busybox sleep 2147483647 3<>"$d/stdin" </dev/null >/dev/null 2>&1 &',
  "h=$!",
  'echo $h >"$d/holder.tmp" && mv "$d/holder.tmp" "$d/holder" || exit 127',
  '/fluid/busybox setsid /bin/sh -c "$3" fluid-cmd "$d" "$2" <"$d/stdin" >"$d/stdout" 2>"$d/stderr"',
  "s=$?",
  'rm -f "$d/stdin"',
  'rm "$d/holder" 2>/dev/null && kill $h',
  'echo $s >"$d/exit.tmp" && mv "$d/exit.tmp" "$d/exit"',
].join("\n");

/** Closes a process's stdin: ends its holder, unless the wrapper (or another close) already did. */
const CLOSE_STDIN = 'h=$(/fluid/busybox cat "$1/holder") && /fluid/busybox rm "$1/holder" && kill "$h"';

/** The command's first shell: records its pid, then becomes the command. */
const RECORD_PID = 'echo $$ >"$1/pid.tmp" && mv "$1/pid.tmp" "$1/pid" && exec /bin/sh -c "$2"';

export function processDir(processId: string): string {
  return `${PROCESS_ROOT}/${processId}`;
}

/** Starts the wrapper for one process and waits until it has recorded the command's pid. */
export async function startGuestProcess(
  agent: AgentRequests,
  input: { processId: string; command: string; env: Record<string, string> },
  sleep: (ms: number) => Promise<void> = defaultSleep,
): Promise<number> {
  const dir = processDir(input.processId);
  const env = [...BASE_ENV, ...Object.entries(input.env).map(([k, v]) => `${k}=${v}`)];
  await agent.request("guest-exec", {
    path: "/fluid/busybox",
    arg: ["setsid", "/fluid/busybox", "sh", "-c", WRAPPER, "fluid-proc", dir, input.command, RECORD_PID],
    env,
  });
  const deadline = Date.now() + PID_WAIT_MS;
  for (;;) {
    const pid = await readNumber(agent, `${dir}/pid`);
    if (pid !== undefined) return pid;
    if ((await readNumber(agent, `${dir}/exit`)) !== undefined || Date.now() > deadline)
      throw new GuestAgentError("ProcessStart", "the background process did not start in the guest");
    await sleep(20);
  }
}

/** What the guest says of a process: its exit status once it has one, whether its files are there at all. */
export async function guestProcessStatus(
  agent: AgentRequests,
  processId: string,
): Promise<{ exitCode: number | undefined; present: boolean }> {
  const dir = processDir(processId);
  const exitCode = await readNumber(agent, `${dir}/exit`);
  if (exitCode !== undefined) return { exitCode, present: true };
  return { exitCode: undefined, present: (await readNumber(agent, `${dir}/pid`)) !== undefined };
}

/**
 * Reads up to `count` bytes of a process's stream from `offset`, bounded by the chunk size and the
 * per-process log cap. `truncated` says the stream reached the cap with more written past it.
 */
export async function readGuestLog(
  agent: AgentRequests,
  processId: string,
  stream: "stdout" | "stderr",
  offset: number,
  count: number,
): Promise<{ data: Buffer; truncated: boolean }> {
  const want = Math.max(0, Math.min(count, processLimits.logChunkBytes, processLimits.maxLogBytes - offset));
  const path = `${processDir(processId)}/${stream}`;
  if (want === 0) {
    const past = await readAt(agent, path, offset, 1);
    return { data: Buffer.alloc(0), truncated: offset >= processLimits.maxLogBytes && (past?.length ?? 0) > 0 };
  }
  return { data: (await readAt(agent, path, offset, want)) ?? Buffer.alloc(0), truncated: false };
}

/**
 * Writes bytes to a running process's stdin FIFO (the caller checked that it has not exited). Once
 * stdin is closed no holder keeps the FIFO open, and an open for writing could block the agent, so
 * writes are refused.
 */
export async function writeGuestInput(agent: AgentRequests, processId: string, data: Buffer): Promise<number> {
  if ((await readNumber(agent, `${processDir(processId)}/holder`)) === undefined)
    throw new GuestAgentError("ProcessInput", "the process's stdin is closed");
  if (data.length === 0) return 0;
  const handle = await agent.request<number>("guest-file-open", { path: `${processDir(processId)}/stdin`, mode: "w" });
  try {
    const written = await agent.request<{ count: number }>("guest-file-write", {
      handle,
      "buf-b64": data.toString("base64"),
    });
    return written.count;
  } finally {
    await agent.request("guest-file-close", { handle }).catch(() => {});
  }
}

/** Closes a running process's stdin, so it reads end of input. */
export async function closeGuestInput(
  agent: AgentRequests,
  processId: string,
  sleep: (ms: number) => Promise<void> = defaultSleep,
): Promise<void> {
  const code = await runGuest(agent, ["sh", "-c", CLOSE_STDIN, "fluid-close", processDir(processId)], sleep);
  if (code !== 0) throw new GuestAgentError("ProcessInput", "the process's stdin is already closed");
}

/** Removes an ended process's files from the guest (its id was validated when it started). */
export async function removeGuestProcess(
  agent: AgentRequests,
  processId: string,
  sleep: (ms: number) => Promise<void> = defaultSleep,
): Promise<void> {
  await runGuest(agent, ["rm", "-rf", "--", processDir(processId)], sleep);
}

/** Sends a signal to a process group with kill as an argument vector; waits for kill to finish. */
export async function signalGuestProcess(
  agent: AgentRequests,
  pid: number,
  signal: ProcessSignal,
  sleep: (ms: number) => Promise<void> = defaultSleep,
): Promise<void> {
  if (!Number.isInteger(pid) || pid <= 1) throw new GuestAgentError("ProcessSignal", "the process has no pid");
  await runGuest(agent, ["kill", `-${signal}`, "--", `-${pid}`], sleep);
}

/** Runs a busybox applet with an argument vector and waits (up to ~5 s) for its exit code. */
async function runGuest(
  agent: AgentRequests,
  arg: string[],
  sleep: (ms: number) => Promise<void>,
): Promise<number | undefined> {
  const started = await agent.request<{ pid: number }>("guest-exec", { path: "/fluid/busybox", arg });
  for (let i = 0; i < 250; i++) {
    const status = await agent.request<{ exited: boolean; exitcode?: number }>("guest-exec-status", {
      pid: started.pid,
    });
    if (status.exited) return status.exitcode;
    await sleep(20);
  }
  return undefined;
}

/** A small file holding one decimal number, or undefined while it does not exist. */
async function readNumber(agent: AgentRequests, path: string): Promise<number | undefined> {
  const data = await readAt(agent, path, 0, 32);
  if (data === undefined) return undefined;
  const text = data.toString("utf8").trim();
  return /^-?\d+$/.test(text) ? Number(text) : undefined;
}

/** Up to `count` bytes of a guest file from `offset`, or undefined when it cannot be opened. */
async function readAt(agent: AgentRequests, path: string, offset: number, count: number): Promise<Buffer | undefined> {
  let handle: number;
  try {
    handle = await agent.request<number>("guest-file-open", { path, mode: "r" });
  } catch (err) {
    if (err instanceof GuestAgentError) return undefined;
    throw err;
  }
  try {
    if (offset > 0) await agent.request("guest-file-seek", { handle, offset, whence: "set" });
    const chunks: Buffer[] = [];
    let got = 0;
    while (got < count) {
      const chunk = await agent.request<{ count: number; "buf-b64": string; eof: boolean }>("guest-file-read", {
        handle,
        count: count - got,
      });
      const data = Buffer.from(chunk["buf-b64"], "base64");
      chunks.push(data);
      got += data.length;
      if (chunk.eof || data.length === 0) break;
    }
    return Buffer.concat(chunks);
  } finally {
    await agent.request("guest-file-close", { handle }).catch(() => {});
  }
}

function defaultSleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
