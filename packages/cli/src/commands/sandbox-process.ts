import { readFileSync } from "node:fs";
import { type ProcessSignal, processLimits } from "@fluid/proto";
import { type Command, InvalidArgumentError } from "commander";
import {
  getProcess,
  listProcesses,
  processLog,
  type SandboxProcess,
  signalProcess,
  startProcess,
  writeStdin,
} from "../api/sandbox-processes.js";
import { EXIT, table } from "../output.js";
import { SANDBOX_ARG, sandboxId } from "./sandbox-lookup.js";
import { connectFor, emit, globals, printJson } from "./shared.js";

/** How often `logs --follow` and `wait` ask again while the process is quiet. */
const POLL_MS = 500;

/** `fluid sandbox process …`: commands that run in the background and outlive this CLI. */
export function registerSandboxProcessCommands(sandbox: Command): void {
  const proc = sandbox
    .command("process")
    .description("background processes: start, list, read logs, write stdin, signal, wait");

  proc
    .command("start")
    .description("start a command in the background; it runs on after this CLI exits")
    .argument("<sandbox>", SANDBOX_ARG)
    .argument("<command...>", "the command, after --; its words are joined with spaces and run by /bin/sh -c")
    .option("--name <name>", "a name to recognise it by")
    .action(async (ref: string, words: string[], options: { name?: string }, command: Command) => {
      const conn = await connectFor(command);
      const id = await sandboxId(conn, ref);
      const started = await startProcess(conn, id, {
        command: words.join(" "),
        ...(options.name ? { name: options.name } : {}),
      });
      emit(command, started, () => `${started.id}\n`);
    });

  proc
    .command("ls")
    .description("list a sandbox's background processes")
    .argument("<sandbox>", SANDBOX_ARG)
    .action(async (ref: string, _options: unknown, command: Command) => {
      const conn = await connectFor(command);
      const id = await sandboxId(conn, ref);
      const processes = await listProcesses(conn, id);
      emit(command, processes, () =>
        table(
          ["ID", "NAME", "PID", "STATE", "EXIT", "COMMAND"],
          processes.map((p) => [p.id, p.name, p.pid, p.state, p.exit_code, p.command]),
        ),
      );
    });

  proc
    .command("logs")
    .description("print a background process's output from an offset; --follow until it exits")
    .argument("<sandbox>", SANDBOX_ARG)
    .argument("<process>", "process id")
    .option("--offset <bytes>", "start stdout at this byte offset", nonNegative, 0)
    .option("--stderr-offset <bytes>", "start stderr at this byte offset", nonNegative, 0)
    .option("-f, --follow", "keep printing output until the process exits, then exit with its status")
    .action(async (ref: string, processId: string, options: LogOptions, command: Command) => {
      const conn = await connectFor(command);
      const id = await sandboxId(conn, ref);
      let offsets = { offset: options.offset, stderr: options.stderrOffset };
      for (;;) {
        const log = await processLog(conn, id, processId, offsets);
        if (globals(command).json && !options.follow) return printJson(log);
        const out = Buffer.from(log.stdout, "base64");
        const err = Buffer.from(log.stderr, "base64");
        process.stdout.write(out);
        process.stderr.write(err);
        offsets = { offset: log.next_offset, stderr: log.next_stderr_offset };
        const quiet = out.length === 0 && err.length === 0;
        if (!options.follow) return;
        if (quiet && log.process.state !== "running") {
          process.exitCode = exitOf(log.process);
          return;
        }
        if (quiet) await sleep(POLL_MS);
      }
    });

  proc
    .command("stdin")
    .description("write to a running background process's stdin (--data, or this CLI's stdin)")
    .argument("<sandbox>", SANDBOX_ARG)
    .argument("<process>", "process id")
    .option("--data <text>", "the text to write (a newline is not added)")
    .action(async (ref: string, processId: string, options: { data?: string }, command: Command) => {
      const conn = await connectFor(command);
      const id = await sandboxId(conn, ref);
      const data = options.data === undefined ? readFileSync(0) : Buffer.from(options.data, "utf8");
      const result = await writeStdin(conn, id, processId, data);
      emit(command, result, () => "");
    });

  proc
    .command("kill")
    .description("send a signal (default TERM) to a background process's process group")
    .argument("<sandbox>", SANDBOX_ARG)
    .argument("<process>", "process id")
    .option("-s, --signal <name>", `one of ${processLimits.signals.join(", ")}`, signalName, "TERM")
    .action(async (ref: string, processId: string, options: { signal: ProcessSignal }, command: Command) => {
      const conn = await connectFor(command);
      const id = await sandboxId(conn, ref);
      const result = await signalProcess(conn, id, processId, options.signal);
      emit(command, result, () => "");
    });

  proc
    .command("wait")
    .description("wait for a background process to exit, then exit with its status")
    .argument("<sandbox>", SANDBOX_ARG)
    .argument("<process>", "process id")
    .action(async (ref: string, processId: string, _options: unknown, command: Command) => {
      const conn = await connectFor(command);
      const id = await sandboxId(conn, ref);
      for (;;) {
        const found = await getProcess(conn, id, processId);
        if (found.state !== "running") {
          emit(command, found, () => `${found.state} ${found.exit_code ?? ""}\n`);
          process.exitCode = exitOf(found);
          return;
        }
        await sleep(POLL_MS);
      }
    });
}

interface LogOptions {
  offset: number;
  stderrOffset: number;
  follow?: boolean;
}

/** The process's exit status as ours; a lost process (or a status outside 0-255) is a failure. */
function exitOf(p: SandboxProcess): number {
  const code = p.exit_code;
  return p.state === "exited" && code !== null && code >= 0 && code <= 255 ? code : EXIT.failure;
}

function nonNegative(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0) throw new InvalidArgumentError("must be a byte offset (0 or more)");
  return n;
}

function signalName(value: string): ProcessSignal {
  const name = value.toUpperCase().replace(/^SIG/, "");
  const found = processLimits.signals.find((s) => s === name);
  if (!found) throw new InvalidArgumentError(`must be one of ${processLimits.signals.join(", ")}`);
  return found;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
