import { beforeEach, describe, expect, it } from "vitest";
import { HostCommandError } from "../stream/errors.js";
import { auditActions, rejection, sandboxDeps, seedOrg, seedSandbox, useSandboxUnit } from "./sandbox-deps.fixtures.js";
import { createSnapshot, deleteSnapshot, listSnapshots, restoreSnapshot } from "./snapshots.js";
import { endSandbox, getSandbox } from "./store.js";

describe("sandbox snapshots", () => {
  const unit = useSandboxUnit("snap");

  beforeEach(() => {
    unit.hosts.answer = (command) => {
      switch (command.case) {
        case "createSnapshot":
          return {
            case: "snapshotCreated",
            value: { snapshotId: `host-${command.value.snapshotName}`, sizeBytes: 4096n, hasMemory: true },
          };
        case "restoreSnapshot":
          return { case: "sandboxRestored", value: { ipAddress: "10.0.0.8" } };
        case "deleteSnapshot":
          return { case: "snapshotDeleted", value: { existed: true } };
        default:
          return new Error(`unexpected ${command.case}`);
      }
    };
  });

  const snapshotRows = () =>
    unit.deps.db.selectFrom("snapshots").selectAll().where("org_id", "=", unit.scope.orgId).execute();

  it("records what the host saved: its snapshot id, size and whether RAM is in it", async () => {
    const sandbox = await seedSandbox(unit.deps, unit.scope, unit.hostId, "RUNNING");
    const row = await createSnapshot(unit.deps, unit.scope, sandbox.id, { name: "before", includeMemory: true });
    expect(row).toMatchObject({
      org_id: unit.scope.orgId,
      sandbox_id: sandbox.id,
      host_id: unit.hostId,
      name: "before",
      host_snapshot_id: "host-before",
      has_memory: true,
    });
    expect(Number(row.size_bytes)).toBe(4096);
    expect(unit.hosts.commands("createSnapshot")).toMatchObject([{ sandboxId: sandbox.id, includeMemory: true }]);
    expect(await auditActions(unit.database, sandbox.id)).toEqual(["sandbox.created", "sandbox.snapshot_created"]);
  });

  it("records no snapshot the host failed to take", async () => {
    unit.hosts.answer = () => new HostCommandError("host_error", "no space");
    const sandbox = await seedSandbox(unit.deps, unit.scope, unit.hostId, "RUNNING");
    expect(
      (await rejection(createSnapshot(unit.deps, unit.scope, sandbox.id, { name: "x", includeMemory: false }))).code,
    ).toBe("host_error");
    expect(await snapshotRows()).toEqual([]);
  });

  it("refuses a snapshot once the org's snapshot storage is used up, asking no host", async () => {
    const limited = sandboxDeps(unit.database, unit.hosts, {
      quotas: { sandboxes: null, vcpus: null, memoryMb: null, snapshotBytes: 4096 },
    });
    const sandbox = await seedSandbox(limited, unit.scope, unit.hostId, "RUNNING");
    await createSnapshot(limited, unit.scope, sandbox.id, { name: "one", includeMemory: false });
    const err = await rejection(createSnapshot(limited, unit.scope, sandbox.id, { name: "two", includeMemory: false }));
    expect(err.code).toBe("quota_exceeded");
    expect(unit.hosts.commands("createSnapshot")).toHaveLength(1);
  });

  it("refuses to snapshot a CREATING sandbox with invalid_state", async () => {
    const sandbox = await seedSandbox(unit.deps, unit.scope, unit.hostId, "CREATING");
    const err = await rejection(createSnapshot(unit.deps, unit.scope, sandbox.id, { name: "x", includeMemory: false }));
    expect(err.code).toBe("invalid_state");
  });

  it("lists a sandbox's snapshots oldest first, and none of another sandbox's", async () => {
    const sandbox = await seedSandbox(unit.deps, unit.scope, unit.hostId, "RUNNING");
    const sibling = await seedSandbox(unit.deps, unit.scope, unit.hostId, "RUNNING");
    await createSnapshot(unit.deps, unit.scope, sandbox.id, { name: "a", includeMemory: false });
    await createSnapshot(unit.deps, unit.scope, sandbox.id, { name: "b", includeMemory: false });
    await createSnapshot(unit.deps, unit.scope, sibling.id, { name: "c", includeMemory: false });
    expect((await listSnapshots(unit.deps, unit.scope, sandbox.id)).map((s) => s.name)).toEqual(["a", "b"]);
  });

  it("restores a STOPPED sandbox to RUNNING at the address its host reports, with an audit event", async () => {
    const sandbox = await seedSandbox(unit.deps, unit.scope, unit.hostId, "RUNNING");
    const snapshot = await createSnapshot(unit.deps, unit.scope, sandbox.id, { name: "a", includeMemory: true });
    await unit.deps.db.updateTable("sandboxes").set({ state: "STOPPED" }).where("id", "=", sandbox.id).execute();
    const row = await restoreSnapshot(unit.deps, unit.scope, sandbox.id, snapshot.id);
    expect(row).toMatchObject({ state: "RUNNING", ip_address: "10.0.0.8" });
    expect(unit.hosts.commands("restoreSnapshot")).toMatchObject([{ sandboxId: sandbox.id, snapshotId: "host-a" }]);
    expect((await auditActions(unit.database, sandbox.id)).at(-1)).toBe("sandbox.snapshot_restored");
  });

  it("restores only the sandbox's own snapshots: another sandbox's is not_found", async () => {
    const sandbox = await seedSandbox(unit.deps, unit.scope, unit.hostId, "RUNNING");
    const sibling = await seedSandbox(unit.deps, unit.scope, unit.hostId, "RUNNING");
    const theirs = await createSnapshot(unit.deps, unit.scope, sibling.id, { name: "a", includeMemory: false });
    expect((await rejection(restoreSnapshot(unit.deps, unit.scope, sandbox.id, theirs.id))).code).toBe("not_found");
    expect(unit.hosts.commands("restoreSnapshot")).toEqual([]);
  });

  it("answers invalid_state when the sandbox ended while its host restored it", async () => {
    const sandbox = await seedSandbox(unit.deps, unit.scope, unit.hostId, "RUNNING");
    const snapshot = await createSnapshot(unit.deps, unit.scope, sandbox.id, { name: "a", includeMemory: false });
    unit.hosts.answer = async () => {
      await endSandbox(unit.deps.db, sandbox.id, "lease_expired", "DESTROYED");
      return { case: "sandboxRestored", value: {} };
    };
    expect((await rejection(restoreSnapshot(unit.deps, unit.scope, sandbox.id, snapshot.id))).code).toBe(
      "invalid_state",
    );
  });

  it("deletes a snapshot on its host, then its row, unlinking forks made from it", async () => {
    const sandbox = await seedSandbox(unit.deps, unit.scope, unit.hostId, "RUNNING");
    const snapshot = await createSnapshot(unit.deps, unit.scope, sandbox.id, { name: "a", includeMemory: false });
    const fork = await seedSandbox(unit.deps, unit.scope, unit.hostId, "RUNNING");
    await unit.deps.db
      .updateTable("sandboxes")
      .set({ fork_snapshot_id: snapshot.id })
      .where("id", "=", fork.id)
      .execute();
    await deleteSnapshot(unit.deps, unit.scope, sandbox.id, snapshot.id);
    expect(unit.hosts.commands("deleteSnapshot")).toMatchObject([{ snapshotId: "host-a" }]);
    expect(await snapshotRows()).toEqual([]);
    expect((await getSandbox(unit.deps.db, unit.scope, fork.id)).fork_snapshot_id).toBeNull();
    expect((await auditActions(unit.database, sandbox.id)).at(-1)).toBe("sandbox.snapshot_deleted");
  });

  it("keeps the row when the host refuses the delete (a live disk is built on it)", async () => {
    const sandbox = await seedSandbox(unit.deps, unit.scope, unit.hostId, "RUNNING");
    const snapshot = await createSnapshot(unit.deps, unit.scope, sandbox.id, { name: "a", includeMemory: false });
    unit.hosts.answer = () => new HostCommandError("refused", "a live disk is built on it");
    expect((await rejection(deleteSnapshot(unit.deps, unit.scope, sandbox.id, snapshot.id))).code).toBe(
      "command_refused",
    );
    expect((await snapshotRows()).map((s) => s.id)).toEqual([snapshot.id]);
  });

  it("keeps the row when the snapshot's host is away: its files would still use the quota", async () => {
    const sandbox = await seedSandbox(unit.deps, unit.scope, unit.hostId, "RUNNING");
    const snapshot = await createSnapshot(unit.deps, unit.scope, sandbox.id, { name: "a", includeMemory: false });
    unit.hosts.connected.clear();
    expect((await rejection(deleteSnapshot(unit.deps, unit.scope, sandbox.id, snapshot.id))).code).toBe(
      "host_unavailable",
    );
    expect((await snapshotRows()).map((s) => s.id)).toEqual([snapshot.id]);
  });

  it("answers not_found for another org's sandbox or snapshot", async () => {
    const sandbox = await seedSandbox(unit.deps, unit.scope, unit.hostId, "RUNNING");
    const snapshot = await createSnapshot(unit.deps, unit.scope, sandbox.id, { name: "a", includeMemory: false });
    const other = await seedOrg(unit.database, `${unit.scope.slug}-other`);
    expect((await rejection(listSnapshots(unit.deps, other, sandbox.id))).code).toBe("not_found");
    expect(
      (await rejection(createSnapshot(unit.deps, other, sandbox.id, { name: "x", includeMemory: false }))).code,
    ).toBe("not_found");
    expect((await rejection(restoreSnapshot(unit.deps, other, sandbox.id, snapshot.id))).code).toBe("not_found");
    expect((await rejection(deleteSnapshot(unit.deps, other, sandbox.id, snapshot.id))).code).toBe("not_found");
    expect(unit.hosts.commands("createSnapshot")).toHaveLength(1);
    expect(await snapshotRows()).toHaveLength(1);
  });
});
