import { type Command, InvalidArgumentError } from "commander";
import { commandLog, runCommand, streamCommand } from "../api/sandboxes.js";
import type { Connection } from "../connection.js";
import { EXIT, table } from "../output.js";
import { SANDBOX_ARG, sandboxId } from "./sandbox-lookup.js";
import { oneLine } from "./sandbox-render.js";
import { connectFor, duration, emit, globals, printJson } from "./shared.js";

/** Exit status for a command the guest killed at its timeout (as timeout(1) uses). */
const EXIT_TIMED_OUT = 124;

interface ExecOptions {
  timeout?: number;
  env?: Record<string, string>;
  stream: boolean;
}

/** `sandbox exec`: runs one command and passes its output and exit status on. */
export function registerSandboxExecCommand(sandbox: Command): void {
  sandbox
    .command("exec")
    .description("run a command in a running sandbox, print its output and exit with its exit code")
    .argument("<sandbox>", SANDBOX_ARG)
    .argument("<command...>", "the command, after --; its words are joined with spaces and run by /bin/sh -c")
    .option(
      "--timeout <duration>",
      "kill the command after this long, e.g. 30s or 10m (default: the server's, 5m)",
      duration,
    )
    .option("-e, --env <name=value>", "set an environment variable for the command (repeatable)", envPair)
    .option("--no-stream", "print the output once the command has ended (always so with --json)")
    .addHelpText(
      "after",
      `
Output is printed as the command produces it; with --no-stream (or --json) it comes in one reply.
Exit status: the command's own; ${EXIT_TIMED_OUT} when it timed out; 1-4 for fluid's own errors.

Examples:
  fluid sandbox exec sbx-1 -- uname -a
  fluid sandbox exec sbx-1 --env LEVEL=debug -- 'echo $LEVEL > /tmp/level'`,
    )
    .action(async (ref: string, words: string[], options: ExecOptions, command: Command) => {
      const conn = await connectFor(command);
      const id = await sandboxId(conn, ref);
      if (options.stream && !globals(command).json) {
        process.exitCode = await execStreaming(conn, id, words.join(" "), options);
        return;
      }
      const result = await runCommand(conn, id, {
        command: words.join(" "),
        ...(options.timeout === undefined ? {} : { timeout_seconds: options.timeout }),
        ...(options.env ? { env: options.env } : {}),
      });
      if (globals(command).json) {
        printJson(result);
      } else {
        process.stdout.write(result.stdout);
        process.stderr.write(result.stderr);
        if (result.stdout_truncated || result.stderr_truncated) {
          process.stderr.write("fluid: output was truncated (the server keeps at most 1 MiB per stream)\n");
        }
        if (result.status === "timed_out") process.stderr.write("fluid: the command timed out and was killed\n");
      }
      process.exitCode = commandExitCode(result.status, result.exit_code);
    });
}

/** Prints a command's output as it arrives; returns the exit status to pass on. */
async function execStreaming(conn: Connection, id: string, commandLine: string, options: ExecOptions): Promise<number> {
  const events = streamCommand(conn, id, {
    command: commandLine,
    ...(options.timeout === undefined ? {} : { timeoutSeconds: options.timeout }),
    ...(options.env ? { env: options.env } : {}),
  });
  for await (const event of events) {
    if (event.type === "output") {
      await writeOut(event.stream === "stdout" ? process.stdout : process.stderr, event.data);
    } else if (event.type === "exit") {
      if (event.stdoutTruncated || event.stderrTruncated) {
        process.stderr.write("fluid: output was truncated (the server passes on at most 1 MiB per stream)\n");
      }
      if (event.status === "timed_out") process.stderr.write("fluid: the command timed out and was killed\n");
      return commandExitCode(event.status, event.exitCode);
    }
  }
  return EXIT.failure;
}

/** Writes and waits for the stream to take it, so a slow terminal or pipe holds the reading back. */
function writeOut(stream: NodeJS.WriteStream, data: Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => stream.write(data, (err) => (err ? reject(err) : resolve())));
}

/** `sandbox commands`: the audit trail of what ran in a sandbox. */
export function registerSandboxCommandLog(sandbox: Command): void {
  sandbox
    .command("commands")
    .description("the audit trail: every command run in a sandbox, oldest first")
    .argument("<sandbox>", SANDBOX_ARG)
    .action(async (ref: string, _options: unknown, command: Command) => {
      const conn = await connectFor(command);
      const id = await sandboxId(conn, ref);
      const commands = await commandLog(conn, id);
      emit(command, { commands, count: commands.length }, () =>
        commands.length === 0
          ? "No commands have run in this sandbox\n"
          : table(
              ["STARTED", "STATUS", "EXIT", "DURATION", "COMMAND"],
              commands.map((c) => [
                c.started_at,
                c.status,
                c.exit_code,
                c.duration_ms === null ? null : `${c.duration_ms} ms`,
                oneLine(c.command),
              ]),
            ),
      );
    });
}

function envPair(value: string, previous: Record<string, string> = {}): Record<string, string> {
  const eq = value.indexOf("=");
  if (eq < 1) throw new InvalidArgumentError("must be NAME=VALUE");
  return { ...previous, [value.slice(0, eq)]: value.slice(eq + 1) };
}

/** The guest command's exit status as ours; statuses outside 0-255 cannot be passed on. */
export function commandExitCode(status: string, exitCode: number | null): number {
  if (status === "timed_out") return EXIT_TIMED_OUT;
  if (exitCode === null || !Number.isInteger(exitCode) || exitCode < 0 || exitCode > 255) return EXIT.failure;
  return exitCode;
}
