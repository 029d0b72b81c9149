import type { Command } from "commander";
import { deleteSnapshot, listSnapshots, restoreSnapshot, takeSnapshot } from "../api/sandbox-snapshots.js";
import { bytes, relative, table } from "../output.js";
import { SANDBOX_ARG, sandboxId, snapshotIdFor } from "./sandbox-lookup.js";
import { sandboxDetails } from "./sandbox-render.js";
import { connectFor, emit, withSpinner } from "./shared.js";

/** `sandbox snapshot`: saves a sandbox's disk, and memory if asked. */
export function registerSandboxSnapshotCommand(sandbox: Command): void {
  sandbox
    .command("snapshot")
    .description("snapshot a sandbox's disk (and, with --memory, its running memory)")
    .argument("<sandbox>", SANDBOX_ARG)
    .argument("<name>", "snapshot name: letters, digits, . _ -")
    .option("--memory", "also save memory, so restore resumes the running processes")
    .action(async (ref: string, name: string, options: { memory?: boolean }, command: Command) => {
      const conn = await connectFor(command);
      const id = await sandboxId(conn, ref);
      const snapshot = await withSpinner(
        command,
        `Snapshotting ${ref}`,
        () => takeSnapshot(conn, id, { name, includeMemory: options.memory ?? false }),
        (s) => `Snapshot ${s.name} taken (${bytes(s.size_bytes)}${s.has_memory ? ", with memory" : ""})`,
      );
      emit(
        command,
        snapshot,
        () => `${snapshot.id}\nRestore it with: fluid sandbox restore ${snapshot.sandbox_id} ${snapshot.id}\n`,
      );
    });
}

/** The connection, sandbox id and snapshot id a `SANDBOX SNAPSHOT` pair of arguments names. */
async function snapshotOf(command: Command, ref: string, snapshotRef: string) {
  const conn = await connectFor(command);
  const id = await sandboxId(conn, ref);
  return { conn, id, snapshotId: await snapshotIdFor(conn, id, snapshotRef) };
}

/** `sandbox snapshots`, `sandbox restore` and `sandbox delete-snapshot`: list, go back to and remove snapshots. */
export function registerSandboxRestoreCommands(sandbox: Command): void {
  sandbox
    .command("snapshots")
    .description("list a sandbox's snapshots")
    .argument("<sandbox>", SANDBOX_ARG)
    .action(async (ref: string, _options: unknown, command: Command) => {
      const conn = await connectFor(command);
      const id = await sandboxId(conn, ref);
      const result = await listSnapshots(conn, id);
      emit(command, result, () =>
        result.snapshots.length === 0
          ? "No snapshots: take one with `fluid sandbox snapshot SANDBOX NAME`\n"
          : table(
              ["ID", "NAME", "MEMORY", "SIZE", "CREATED"],
              result.snapshots.map((s) => [
                s.id,
                s.name,
                s.has_memory ? "yes" : "no",
                bytes(s.size_bytes),
                relative(s.created_at),
              ]),
            ),
      );
    });

  sandbox
    .command("restore")
    .description("put a sandbox back to one of its snapshots (disk, and memory if it was saved)")
    .argument("<sandbox>", SANDBOX_ARG)
    .argument("<snapshot>", "snapshot id or name (see fluid sandbox snapshots)")
    .action(async (ref: string, snapshotRef: string, _options: unknown, command: Command) => {
      const { conn, id, snapshotId } = await snapshotOf(command, ref, snapshotRef);
      const restored = await withSpinner(
        command,
        `Restoring ${ref} to ${snapshotRef}`,
        () => restoreSnapshot(conn, id, snapshotId),
        (s) => `Sandbox ${s.name} is ${s.state}`,
      );
      emit(command, restored, () => sandboxDetails(restored));
    });

  sandbox
    .command("delete-snapshot")
    .description("delete one of a sandbox's snapshots from its host (refused while a disk is built on it)")
    .argument("<sandbox>", SANDBOX_ARG)
    .argument("<snapshot>", "snapshot id or name (see fluid sandbox snapshots)")
    .action(async (ref: string, snapshotRef: string, _options: unknown, command: Command) => {
      const { conn, id, snapshotId } = await snapshotOf(command, ref, snapshotRef);
      const result = await deleteSnapshot(conn, id, snapshotId);
      emit(command, result, () => `Snapshot ${snapshotRef} deleted\n`);
    });
}
