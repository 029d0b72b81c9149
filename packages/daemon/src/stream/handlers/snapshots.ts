import type { HandlerTable } from "./types.js";

/** Snapshots of a sandbox and putting it back to one. */
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
};
