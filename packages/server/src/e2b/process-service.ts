import { z } from "zod";
import { AppError, invalid } from "../http/errors.js";
import type { OrgScope } from "../orgs/access.js";
import { sandboxLimits } from "../sandboxes/limits.js";
import { followProcessLog } from "../sandboxes/process-follow.js";
import type { ProcessView } from "../sandboxes/processes.js";
import type { ConnectStream } from "./connect.js";
import { guestPath } from "./guest-fs.js";
import { parse } from "./parse.js";
import { endEvent, type ProcessCtx, resolveProcess, Selector } from "./process-methods.js";
import { recordProcess, signalOf } from "./process-store.js";

const EnvName = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: NUL is what is refused.
const NoNul = /^[^\u0000]*$/;
const StartRequest = z.looseObject({
  process: z.looseObject({
    cmd: z.string().min(1).max(4096).regex(NoNul, "cmd must not contain NUL"),
    args: z.array(z.string().regex(NoNul, "args must not contain NUL")).max(1024).default([]),
    envs: z
      .record(
        z.string().regex(EnvName, "environment variable names must match [A-Za-z_][A-Za-z0-9_]*"),
        z.string().max(sandboxLimits.maxEnvValueBytes).regex(NoNul, "env values must not contain NUL"),
      )
      .default({}),
    cwd: z.string().max(4096).optional(),
  }),
  // A Start with pty goes to pty.ts; this one never has it.
  pty: z.null().optional(),
  tag: z.string().max(256).optional(),
  stdin: z.boolean().optional(),
});
const ConnectRequest = z.looseObject({ process: Selector });

const shells = new Set(["/bin/bash", "/bin/sh", "/usr/bin/bash", "bash", "sh"]);
const shellFlags = new Set(["-l", "--login"]);

/**
 * The shell command fluid runs for an envd ProcessConfig. The SDK's `commands.run(cmd)` asks for
 * `/bin/bash -l -c cmd`; fluid runs `cmd` with the guest's /bin/sh (images like `tiny` have no bash).
 * Any other argv is passed through the environment, so no caller string is spliced into the script.
 */
export function shellCommand(
  cmd: string,
  args: string[],
  cwd: string | undefined,
): { command: string; env: Record<string, string> } {
  const env: Record<string, string> = {};
  const prefix: string[] = [];
  if (cwd !== undefined && cwd !== "") {
    env.E2B_CWD = guestPath(cwd);
    prefix.push('cd -- "$E2B_CWD" || exit 1; unset E2B_CWD;');
  }
  const c = args.indexOf("-c");
  if (shells.has(cmd) && c === args.length - 2 && args.slice(0, c).every((flag) => shellFlags.has(flag))) {
    return { command: [...prefix, args[c + 1] ?? ""].join("\n"), env };
  }
  const argv = [cmd, ...args];
  const names = argv.map((_, i) => `E2B_ARG_${i}`);
  argv.forEach((value, i) => {
    env[names[i] as string] = value;
  });
  const quoted = names.map((name) => `"$${name}"`).join(" ");
  return { command: [...prefix, `set -- ${quoted}; unset ${names.join(" ")}; exec "$@"`].join(" "), env };
}

/** The longest delay a timer takes; longer ones fire at once. */
const MAX_TIMER_MS = 2_147_483_647;

/** The keepalive interval a client asks for (Keepalive-Ping-Interval, in seconds), within sane bounds. */
export function keepaliveMs(header: string | undefined): number | undefined {
  const seconds = Number(header ?? 0);
  if (!Number.isInteger(seconds) || seconds <= 0) return undefined;
  return Math.min(3600, seconds) * 1000;
}

/** How long envd may stream a command (Connect-Timeout-Ms; none or 0 means no limit). */
export function timeoutMs(header: string | undefined): number | undefined {
  const ms = Number(header ?? 0);
  if (!Number.isFinite(ms) || ms <= 0) return undefined;
  return Math.min(MAX_TIMER_MS, Math.max(1, Math.floor(ms)));
}

/**
 * The script fluid runs for a Start: without `stdin` the command reads an empty input, as under
 * envd; with it, stdin stays open for SendInput until CloseStdin.
 */
export function startScript(command: string, stdin: boolean): string {
  return stdin ? command : `exec </dev/null\n${command}`;
}

/**
 * `process.Process/Start`: every command runs as a fluid background process, so it outlives the
 * request; the pid is its guest pid, and the stream follows its log until it ends. Running out of
 * the Connect timeout kills it, as envd does; a client that goes away only stops the stream.
 */
export async function startProcess(
  ctx: ProcessCtx,
  scope: OrgScope,
  id: string,
  body: unknown,
  options: StreamOptions & { timeoutHeader: string | undefined },
): Promise<void> {
  const request = parse(StartRequest, body, "request");
  const { process } = request;
  const sandbox = await ctx.sandboxes.get(scope, id);
  const envs = { ...sandbox.env_vars, ...process.envs };
  if (Object.keys(envs).length > sandboxLimits.maxEnvVars) {
    throw invalid(
      `at most ${sandboxLimits.maxEnvVars} environment variables (the sandbox's envVars and the command's envs)`,
    );
  }
  const shell = shellCommand(process.cmd, process.args, process.cwd);
  const command = startScript(shell.command, request.stdin === true);
  if (Buffer.byteLength(command, "utf8") > sandboxLimits.maxCommandBytes) {
    throw invalid(`the command must be at most ${sandboxLimits.maxCommandBytes} bytes`);
  }
  const started = await ctx.sandboxes.processes.start(scope, id, {
    command,
    name: request.tag ? `e2b:${request.tag}`.slice(0, 63) : "e2b",
    env: { ...envs, ...shell.env },
  });
  const pid = started.pid ?? 0;
  await recordProcess(ctx.db, scope, id, {
    processId: started.id,
    pid,
    config: { cmd: process.cmd, args: process.args, envs: process.envs, ...(process.cwd ? { cwd: process.cwd } : {}) },
    tag: request.tag ?? null,
    stdin: request.stdin === true,
  });
  const limit = timeoutMs(options.timeoutHeader);
  let timedOut = false;
  const timer =
    limit === undefined
      ? undefined
      : setTimeout(() => {
          timedOut = true;
          ctx.sandboxes.processes.signal(scope, id, started.id, "KILL").catch(() => undefined);
        }, limit);
  try {
    await streamProcess(ctx, scope, id, started, options, () => timedOut);
  } finally {
    clearTimeout(timer);
  }
  if (timedOut) throw new AppError("timeout", "the command ran out of time and was stopped");
}

/** `process.Process/Connect`: a process's output from its beginning, then live, then its end. */
export async function connectProcess(
  ctx: ProcessCtx,
  scope: OrgScope,
  id: string,
  body: unknown,
  options: StreamOptions,
): Promise<void> {
  const request = parse(ConnectRequest, body, "request");
  const { process } = await resolveProcess(ctx, scope, id, request.process);
  await streamProcess(ctx, scope, id, process, options, () => false);
}

export interface StreamOptions {
  stream: ConnectStream;
  /** Keepalive-Ping-Interval as the client sent it: quiet streams then carry keepalive events. */
  keepaliveHeader: string | undefined;
}

/** Sends start, then data as the log grows, then end once the process has ended and its log is read. */
async function streamProcess(
  ctx: ProcessCtx,
  scope: OrgScope,
  id: string,
  process: ProcessView,
  options: StreamOptions,
  stop: () => boolean,
): Promise<void> {
  const { stream } = options;
  stream.send({ event: { start: { pid: process.pid ?? 0 } } });
  const interval = keepaliveMs(options.keepaliveHeader);
  const keepalive =
    interval === undefined ? undefined : setInterval(() => stream.send({ event: { keepalive: {} } }), interval);
  try {
    const read = (offset: number, stderrOffset: number) =>
      ctx.sandboxes.processes.readLog(scope, id, { processId: process.id, offset, stderrOffset });
    const gone = () => stream.closed || stop();
    for await (const event of followProcessLog(read, await read(0, 0), gone)) {
      if (event.type === "output") {
        stream.send({ event: { data: { [event.stream]: Buffer.from(event.data).toString("base64") } } });
        continue;
      }
      const signal = await signalOf(ctx.db, scope, id, process.id);
      stream.send({ event: { end: endEvent(event.process, signal) } });
    }
  } finally {
    clearInterval(keepalive);
  }
}
