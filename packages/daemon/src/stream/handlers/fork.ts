import type { ForkSandboxCommand } from "@fluid/proto";
import { SandboxError } from "../../errors.js";
import type { SandboxManager } from "../../sandboxes/manager.js";
import { sandboxInfo } from "./sandbox-info.js";
import type { Reply } from "./types.js";

/**
 * Forks a sandbox from one of its own snapshots, all clones or none: the control plane records the
 * set as one request, so a clone that fails takes down those made before it instead of leaving
 * VMs that nothing tracks. A clone that cannot be undone either is named in the error; the control
 * plane's reconciliation destroys it when the host next reports it.
 */
export async function forkSandbox(manager: SandboxManager, command: ForkSandboxCommand): Promise<Reply> {
  if (command.clones.length === 0) throw new SandboxError("invalid_request", "a fork needs at least one clone");
  const snapshot = await manager.getSnapshot(command.snapshotId);
  if (snapshot.sandbox_id !== command.parentSandboxId) {
    throw new SandboxError("invalid_request", `snapshot ${snapshot.id} is not of sandbox ${command.parentSandboxId}`);
  }
  const made: string[] = [];
  const sandboxes = [];
  try {
    for (const clone of command.clones) {
      const [row] = await manager.fork(snapshot.id, [
        {
          id: clone.sandboxId || undefined,
          name: clone.name || undefined,
          expiresAt: clone.ttlSeconds > 0 ? Date.now() + clone.ttlSeconds * 1000 : undefined,
          allowEgress: clone.allowEgress,
          egressAllow: clone.egressAllow,
          agentId: clone.agentId || undefined,
          sharedNetwork: command.sharedNetwork,
        },
      ]);
      if (!row) throw new SandboxError("host_error", "the fork produced no sandbox");
      made.push(row.id);
      sandboxes.push(sandboxInfo(row));
    }
  } catch (err) {
    const left: string[] = [];
    for (const id of made) await manager.destroy(id, "create_failed").catch(() => left.push(id));
    if (left.length === 0) throw err;
    const message = err instanceof Error ? err.message : String(err);
    throw new SandboxError("host_error", `${message}; clones ${left.join(", ")} could not be removed`, { cause: err });
  }
  return { case: "sandboxesForked", value: { sandboxes } };
}
