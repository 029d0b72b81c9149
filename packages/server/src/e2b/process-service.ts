import { z } from "zod";
import { AppError, invalid } from "../http/errors.js";
import type { OrgScope } from "../orgs/access.js";
import { sandboxLimits } from "../sandboxes/limits.js";
import type { SandboxService } from "../sandboxes/service.js";
import type { ConnectStream } from "./connect.js";
import { notSupported } from "./errors.js";
import { guestPath } from "./guest-fs.js";
import { parse } from "./parse.js";

const EnvName = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
const StartRequest = z.looseObject({
  process: z.looseObject({
    cmd: z.string().min(1),
    args: z.array(z.string()).default([]),
    envs: z
      .record(z.string().regex(EnvName, "environment variable names must match [A-Za-z_][A-Za-z0-9_]*"), z.string())
      .default({}),
    cwd: z.string().optional(),
  }),
  pty: z.unknown().optional(),
  tag: z.string().optional(),
  stdin: z.boolean().optional(),
});

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

/** The command timeout envd was given (Connect-Timeout-Ms; none or 0 means fluid's longest). */
export function timeoutSeconds(header: string | undefined): number {
  const ms = Number(header ?? 0);
  if (!Number.isFinite(ms) || ms <= 0) return sandboxLimits.maxCommandTimeoutSeconds;
  return Math.min(sandboxLimits.maxCommandTimeoutSeconds, Math.max(1, Math.ceil(ms / 1000)));
}

let lastPid = 1000;
/** envd names processes by pid; fluid's commands have uuids, so each stream gets a number of its own. */
function nextPid(): number {
  lastPid = lastPid >= 0x7fffffff ? 1001 : lastPid + 1;
  return lastPid;
}

/**
 * `process.Process/Start` for foreground commands: the output streams as the host produces it, then
 * the exit code. PTYs and stdin need processes that outlive a request, which fluid does not run here.
 */
export async function startProcess(
  sandboxes: SandboxService,
  scope: OrgScope,
  id: string,
  body: unknown,
  options: { timeoutHeader: string | undefined; stream: ConnectStream },
): Promise<void> {
  const request = parse(StartRequest, body, "request");
  if (request.pty !== undefined && request.pty !== null) throw notSupported("pty");
  if (request.stdin === true) throw notSupported("stdin for commands");
  const { process } = request;
  if (Object.keys(process.envs).length > sandboxLimits.maxEnvVars) {
    throw invalid(`at most ${sandboxLimits.maxEnvVars} environment variables`);
  }
  const shell = shellCommand(process.cmd, process.args, process.cwd);
  if (Buffer.byteLength(shell.command, "utf8") > sandboxLimits.maxCommandBytes) {
    throw invalid(`the command must be at most ${sandboxLimits.maxCommandBytes} bytes`);
  }
  const { stream } = options;
  const pid = nextPid();
  const command = await sandboxes.runStreaming(
    scope,
    id,
    {
      command: shell.command,
      timeoutSeconds: timeoutSeconds(options.timeoutHeader),
      env: { ...process.envs, ...shell.env },
    },
    {
      started: () => stream.send({ event: { start: { pid } } }),
      output: (piece) =>
        stream.send({ event: { data: { [piece.stream]: Buffer.from(piece.data).toString("base64") } } }),
    },
  );
  if (command.status === "timed_out") throw new AppError("timeout", "the command ran out of time and was stopped");
  const exitCode = command.exit_code ?? -1;
  stream.send({ event: { end: { exitCode, exited: true, status: `exit status ${exitCode}` } } });
}
