import type { Command } from "commander";
import { forkSandbox } from "../api/sandboxes.js";
import { table } from "../output.js";
import { SANDBOX_ARG, sandboxId, snapshotIdFor } from "./sandbox-lookup.js";
import { connectFor, emit, positiveInteger, withSpinner } from "./shared.js";

interface ForkOptions {
  count?: number;
  snapshot?: string;
  name?: string[];
  sharedNetwork?: boolean;
}

/** `fluid sandbox fork`: new sandboxes from one snapshot of a sandbox, each with its own identity. */
export function registerSandboxForkCommand(sandbox: Command): void {
  sandbox
    .command("fork")
    .description("fork a sandbox: new sandboxes from one snapshot of it, each with its own identity and disk")
    .argument("<sandbox>", SANDBOX_ARG)
    .option("--count <n>", "how many forks, 1-16 (default: one per --name, else 1)", positiveInteger)
    .option("--snapshot <snapshot>", "fork from this snapshot (id or name) instead of one taken now")
    .option("--name <name>", "a fork's name (repeatable, one per fork; default <sandbox>-fork-<n>)", collect)
    .option("--shared-network", "let these forks reach the sandbox's other forks made with --shared-network")
    .addHelpText(
      "after",
      `
Without --snapshot, a snapshot is taken now: with memory when the sandbox runs, so the forks resume
its running processes. Each fork gets its own hostname, machine-id, MAC, IP and SSH host keys.
Like every sandbox, a fork reaches no other sandbox unless made with --shared-network.

Example:
  fluid sandbox fork web --count 3`,
    )
    .action(async (ref: string, options: ForkOptions, command: Command) => {
      const conn = await connectFor(command);
      const id = await sandboxId(conn, ref);
      const snapshotId = options.snapshot === undefined ? undefined : await snapshotIdFor(conn, id, options.snapshot);
      const count = options.count ?? options.name?.length ?? 1;
      const result = await withSpinner(
        command,
        `Forking ${ref} ${count} time${count === 1 ? "" : "s"}`,
        () =>
          forkSandbox(conn, id, {
            count,
            ...(snapshotId === undefined ? {} : { snapshot_id: snapshotId }),
            ...(options.name === undefined ? {} : { names: options.name }),
            ...(options.sharedNetwork ? { network: "shared" as const } : {}),
          }),
        (r) => `${r.sandboxes.length} fork${r.sandboxes.length === 1 ? "" : "s"} of ${ref} running`,
      );
      emit(command, result, () =>
        table(
          ["ID", "NAME", "STATE", "IP"],
          result.sandboxes.map((s) => [s.id, s.name, s.state, s.ip_address]),
        ),
      );
    });
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}
