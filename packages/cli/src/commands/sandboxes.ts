import type { Command } from "commander";
import {
  destroySandbox,
  extendSandbox,
  getSandbox,
  listSandboxes,
  startSandbox,
  stopSandbox,
} from "../api/sandboxes.js";
import { relative, table, when } from "../output.js";
import { registerSandboxCreateCommand } from "./sandbox-create.js";
import { registerSandboxDiffCommand } from "./sandbox-diff.js";
import { registerSandboxEgressCommand } from "./sandbox-egress.js";
import { registerSandboxCommandLog, registerSandboxExecCommand } from "./sandbox-exec.js";
import { registerSandboxFileCommands } from "./sandbox-files.js";
import { registerSandboxForkCommand } from "./sandbox-fork.js";
import { SANDBOX_ARG, sandboxId } from "./sandbox-lookup.js";
import { registerSandboxProcessCommands } from "./sandbox-process.js";
import { sandboxDetails } from "./sandbox-render.js";
import { registerSandboxShellCommand } from "./sandbox-shell.js";
import { registerSandboxRestoreCommands, registerSandboxSnapshotCommand } from "./sandbox-snapshots.js";
import { connectFor, duration, emit, withSpinner } from "./shared.js";

/** `sandbox …`: create, inspect, run commands in, snapshot and destroy sandboxes. */
export function registerSandboxCommands(program: Command): void {
  const sandbox = program
    .command("sandbox")
    .description("microVM sandboxes: create, exec, copy files, snapshot, destroy");

  registerSandboxCreateCommand(sandbox);

  sandbox
    .command("ls")
    .description("list the organization's live sandboxes, newest first")
    .option("--all", "include ended sandboxes, with why they ended")
    .action(async (options: { all?: boolean }, command: Command) => {
      const conn = await connectFor(command);
      const sandboxes = await listSandboxes(conn, options.all ?? false);
      emit(command, { sandboxes, count: sandboxes.length }, () =>
        sandboxes.length === 0
          ? "No sandboxes: create one with `fluid sandbox create IMAGE` (images: fluid host ls)\n"
          : table(
              ["ID", "NAME", "STATE", "IMAGE", "IP", "CPUS", "MEMORY", "LEASE"],
              sandboxes.map((s) => [
                s.id,
                s.name,
                s.state,
                s.source_vm,
                s.ip_address,
                s.vcpus,
                `${s.memory_mb} MB`,
                s.ended_at ? `ended (${s.end_reason ?? "unknown"})` : `ends ${relative(s.expires_at)}`,
              ]),
            ),
      );
    });

  sandbox
    .command("get")
    .description("show one sandbox (ended ones too, with their end reason)")
    .argument("<sandbox>", SANDBOX_ARG)
    .action(async (ref: string, _options: unknown, command: Command) => {
      const conn = await connectFor(command);
      const found = await getSandbox(conn, await sandboxId(conn, ref));
      emit(command, found, () => sandboxDetails(found));
    });

  registerSandboxExecCommand(sandbox);

  registerSandboxFileCommands(sandbox);
  registerSandboxDiffCommand(sandbox);

  sandbox
    .command("stop")
    .description("stop a running sandbox (its disk is kept; start brings it back)")
    .argument("<sandbox>", SANDBOX_ARG)
    .option("--force", "power off at once instead of a clean shutdown")
    .action(async (ref: string, options: { force?: boolean }, command: Command) => {
      const conn = await connectFor(command);
      const id = await sandboxId(conn, ref);
      const stopped = await withSpinner(
        command,
        "Stopping sandbox",
        () => stopSandbox(conn, id, options.force ?? false),
        (s) => `Sandbox ${s.name} is ${s.state}`,
      );
      emit(command, stopped, () => sandboxDetails(stopped));
    });

  sandbox
    .command("start")
    .description("start a stopped sandbox")
    .argument("<sandbox>", SANDBOX_ARG)
    .action(async (ref: string, _options: unknown, command: Command) => {
      const conn = await connectFor(command);
      const id = await sandboxId(conn, ref);
      const started = await withSpinner(
        command,
        "Starting sandbox",
        () => startSandbox(conn, id),
        (s) => `Sandbox ${s.name} is ${s.state}`,
      );
      emit(command, started, () => sandboxDetails(started));
    });

  registerSandboxSnapshotCommand(sandbox);

  registerSandboxForkCommand(sandbox);

  registerSandboxEgressCommand(sandbox);
  registerSandboxProcessCommands(sandbox);
  registerSandboxShellCommand(sandbox);

  registerSandboxRestoreCommands(sandbox);

  sandbox
    .command("extend")
    .description("set a sandbox's lease to end a given time from now")
    .argument("<sandbox>", SANDBOX_ARG)
    .requiredOption("--ttl <duration>", "new lease length from now: 90s, 30m, 2h, 1d", duration)
    .action(async (ref: string, options: { ttl: number }, command: Command) => {
      const conn = await connectFor(command);
      const id = await sandboxId(conn, ref);
      const extended = await extendSandbox(conn, id, options.ttl);
      emit(command, extended, () => `Lease of ${extended.name} now ends ${when(extended.expires_at)}\n`);
    });

  sandbox
    .command("rm")
    .description("destroy a sandbox and its VM for good (your own as member, anyone's as admin)")
    .argument("<sandbox>", SANDBOX_ARG)
    .action(async (ref: string, _options: unknown, command: Command) => {
      const conn = await connectFor(command);
      const id = await sandboxId(conn, ref);
      const destroyed = await withSpinner(
        command,
        `Destroying ${ref}`,
        () => destroySandbox(conn, id),
        (s) => `Sandbox ${s.name} destroyed`,
      );
      emit(command, destroyed, () => `${destroyed.id}\n`);
    });

  registerSandboxCommandLog(sandbox);
}
