import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { SnapshotRow } from "../state/schema.js";
import { fakeSandboxHost } from "../testing/fake-sandbox-host.js";
import { flushGuest, reviewDisks } from "./review-disks.js";
import { deleteSnapshot, restoreSnapshot, takeSnapshot } from "./snapshots.js";

describe("snapshots", () => {
  let host: Awaited<ReturnType<typeof fakeSandboxHost>>;
  afterEach(() => host.close());

  const snapshotOf = (sandboxId: string, values: Partial<SnapshotRow> = {}): Promise<SnapshotRow> =>
    host.insertSnapshot({ id: `snap-${sandboxId}`, sandbox_id: sandboxId, name: "before", ...values });

  it("snapshots only a running or stopped sandbox, and guest RAM only of a running one", async () => {
    host = await fakeSandboxHost();
    await host.insert({ id: "creating", state: "CREATING" });
    await host.insert({ id: "off", state: "STOPPED" });
    await expect(takeSnapshot(host.ctx, "creating", { name: "x", includeMemory: false })).rejects.toMatchObject({
      code: "invalid_state",
    });
    await expect(takeSnapshot(host.ctx, "off", { name: "x", includeMemory: true })).rejects.toMatchObject({
      code: "invalid_state",
      message: "a memory snapshot needs a running sandbox",
    });
    expect(existsSync(join(host.stateDir, "snapshots"))).toBe(false);
  });

  it("deletes a snapshot nothing builds on: its layer and its row", async () => {
    host = await fakeSandboxHost();
    const snapshot = await snapshotOf("gone");
    await deleteSnapshot(host.ctx, snapshot.id);
    expect(existsSync(snapshot.dir)).toBe(false);
    await expect(host.ctx.store.getSnapshot(snapshot.id)).rejects.toMatchObject({ code: "not_found" });
  });

  it("restores only a live sandbox, and only from a snapshot of its own image", async () => {
    host = await fakeSandboxHost();
    await host.insert({ id: "s1" });
    await host.insert({ id: "ended", state: "DESTROYED", ended_at: 5 });
    const other = await snapshotOf("s1", { image: "alpine" });
    await expect(restoreSnapshot(host.ctx, "ended", other.id)).rejects.toMatchObject({ code: "invalid_state" });
    await expect(restoreSnapshot(host.ctx, "s1", other.id)).rejects.toMatchObject({ code: "invalid_request" });
    expect(host.vms.calls).toEqual([]);
  });
});

describe("review disks", () => {
  let host: Awaited<ReturnType<typeof fakeSandboxHost>>;
  afterEach(() => host.close());

  it("compares a running or stopped sandbox only, and flushes only a running guest", async () => {
    host = await fakeSandboxHost();
    await host.insert({ id: "creating", state: "CREATING" });
    await host.insert({ id: "off", state: "STOPPED" });
    await expect(reviewDisks(host.ctx, "creating")).rejects.toMatchObject({ code: "invalid_state" });
    await flushGuest(host.ctx, "off");
    expect(host.guest.calls).toEqual([]);
  });
});
