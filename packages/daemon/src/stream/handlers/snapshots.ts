import { SandboxError } from "../../errors.js";
import type { HandlerTable } from "./types.js";

/** Snapshots of a sandbox: taking, restoring and deleting them. */
export const snapshotHandlers: HandlerTable = {
  createSnapshot: async (c, { manager }) => {
    const snapshot = await manager.snapshot(c.sandboxId, {
      name: c.snapshotName || `snap-${Date.now()}`,
      includeMemory: c.includeMemory,
    });
    return {
      case: "snapshotCreated",
      value: {
        sandboxId: c.sandboxId,
        snapshotId: snapshot.id,
        snapshotName: snapshot.name,
        sizeBytes: BigInt(snapshot.size_bytes),
        hasMemory: snapshot.has_memory === 1,
      },
    };
  },
  restoreSnapshot: async (c, { manager }) => {
    const row = await manager.restore(c.sandboxId, c.snapshotId);
    return { case: "sandboxRestored", value: { sandboxId: row.id, state: row.state, ipAddress: row.ip ?? "" } };
  },
  deleteSnapshot: async (c, { manager }) => {
    try {
      await manager.deleteSnapshot(c.snapshotId);
    } catch (err) {
      // Already gone is what the caller wants; anything else (still in use, I/O) is its answer.
      if (err instanceof SandboxError && err.code === "not_found") {
        return { case: "snapshotDeleted", value: { snapshotId: c.snapshotId, existed: false } };
      }
      throw err;
    }
    return { case: "snapshotDeleted", value: { snapshotId: c.snapshotId, existed: true } };
  },
};
