import { appendAuditEvent, auditActorOf } from "../audit/append.js";
import type { Sandbox, Snapshot } from "../db/schema.js";
import { AppError } from "../http/errors.js";
import { newId } from "../lib/ids.js";
import type { OrgScope } from "../orgs/access.js";
import { assertSnapshotRoom, assertWithinQuota } from "../quotas/limits.js";
import { assertCanModify, assertState } from "./access.js";
import type { SandboxDeps } from "./deps.js";
import { getOwnSnapshot, getSandbox } from "./store.js";

export async function createSnapshot(
  deps: SandboxDeps,
  scope: OrgScope,
  id: string,
  input: { name: string; includeMemory: boolean },
): Promise<Snapshot> {
  const sandbox = await getSandbox(deps.db, scope, id);
  assertCanModify(scope, sandbox);
  assertState(sandbox, ["RUNNING", "STOPPED"], "snapshot");
  await assertSnapshotRoom(deps.db, scope.orgId, deps.config.quotas);
  const snap = await deps.host.createSnapshot(sandbox.host_id, {
    sandboxId: id,
    snapshotName: input.name,
    includeMemory: input.includeMemory,
  });
  return deps.db.transaction().execute(async (tx) => {
    const row = await tx
      .insertInto("snapshots")
      .values({
        id: newId(),
        org_id: scope.orgId,
        sandbox_id: id,
        host_id: sandbox.host_id,
        name: input.name,
        host_snapshot_id: snap.snapshotId,
        has_memory: snap.hasMemory,
        size_bytes: Number(snap.sizeBytes),
        created_by: scope.principal.userId,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    await appendAuditEvent(tx, {
      orgId: scope.orgId,
      actor: auditActorOf(scope.principal),
      action: "sandbox.snapshot_created",
      target: { type: "sandbox", id },
      details: { snapshot_id: row.id, name: row.name, has_memory: row.has_memory, size_bytes: row.size_bytes },
    });
    return row;
  });
}

export async function listSnapshots(deps: SandboxDeps, scope: OrgScope, id: string): Promise<Snapshot[]> {
  await getSandbox(deps.db, scope, id);
  return deps.db
    .selectFrom("snapshots")
    .selectAll()
    .where("sandbox_id", "=", id)
    .where("org_id", "=", scope.orgId)
    .orderBy("created_at", "asc")
    .execute();
}

/** Puts a sandbox back to one of its own snapshots (disk, and RAM when it was saved). */
export async function restoreSnapshot(
  deps: SandboxDeps,
  scope: OrgScope,
  id: string,
  snapshotId: string,
): Promise<Sandbox> {
  const sandbox = await getSandbox(deps.db, scope, id);
  assertCanModify(scope, sandbox);
  assertState(sandbox, ["RUNNING", "STOPPED"], "restore");
  if (sandbox.state === "STOPPED") {
    const quota = { sandboxes: 0, vcpus: sandbox.vcpus, memoryMb: sandbox.memory_mb };
    await assertWithinQuota(deps.db, scope.orgId, deps.config.quotas, quota);
  }
  const snapshot = await getOwnSnapshot(deps.db, scope, id, snapshotId);
  const restored = await deps.host.restoreSnapshot(sandbox.host_id, id, snapshot.host_snapshot_id);
  const row = await deps.db.transaction().execute(async (tx) => {
    const current = await tx
      .updateTable("sandboxes")
      .set({ state: "RUNNING", ip_address: restored.ipAddress || sandbox.ip_address, updated_at: new Date() })
      .where("id", "=", id)
      .where("org_id", "=", scope.orgId)
      .where("ended_at", "is", null)
      .returningAll()
      .executeTakeFirst();
    if (current) {
      await appendAuditEvent(tx, {
        orgId: scope.orgId,
        actor: auditActorOf(scope.principal),
        action: "sandbox.snapshot_restored",
        target: { type: "sandbox", id },
        details: { snapshot_id: snapshot.id, name: snapshot.name },
      });
    }
    return current;
  });
  if (!row) throw new AppError("invalid_state", "sandbox ended while it was being restored");
  return row;
}

/**
 * Removes a snapshot from its host, then its row (which frees the org's snapshot storage). The host
 * refuses while a disk is built on it; a host that no longer has it counts as deleted. The host
 * must be connected: a row whose files stay behind would free quota the host still spends.
 */
export async function deleteSnapshot(
  deps: SandboxDeps,
  scope: OrgScope,
  sandboxId: string,
  snapshotId: string,
): Promise<void> {
  const snapshot = await getOwnSnapshot(deps.db, scope, sandboxId, snapshotId);
  const sandbox = await getSandbox(deps.db, scope, sandboxId);
  assertCanModify(scope, sandbox);
  const deleted = await deps.host.deleteSnapshot(snapshot.host_id, snapshot.host_snapshot_id);
  await deps.db.transaction().execute(async (tx) => {
    // Forks started from it have ended (the host refuses while a live disk is built on it).
    await tx
      .updateTable("sandboxes")
      .set({ fork_snapshot_id: null })
      .where("fork_snapshot_id", "=", snapshot.id)
      .where("org_id", "=", scope.orgId)
      .execute();
    const row = await tx
      .deleteFrom("snapshots")
      .where("id", "=", snapshot.id)
      .where("org_id", "=", scope.orgId)
      .returning("id")
      .executeTakeFirst();
    if (!row) return;
    await appendAuditEvent(tx, {
      orgId: scope.orgId,
      actor: auditActorOf(scope.principal),
      action: "sandbox.snapshot_deleted",
      target: { type: "sandbox", id: sandboxId },
      details: {
        snapshot_id: snapshot.id,
        name: snapshot.name,
        size_bytes: snapshot.size_bytes,
        on_host: deleted.existed,
      },
    });
  });
}
