import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Database } from "../db/database.js";
import { newId } from "../lib/ids.js";
import type { OrgScope } from "../orgs/access.js";
import type { SandboxDeps } from "./deps.js";
import {
  auditActions,
  openUnitDatabase,
  rejection,
  ScriptedHosts,
  sandboxDeps,
  seedHost,
  seedOrg,
  seedSandbox,
} from "./sandbox-deps.fixtures.js";
import { endSandbox, getOwnSnapshot, getSandbox, listSandboxes } from "./store.js";

describe("sandbox store", () => {
  let database: Database;
  let deps: SandboxDeps;
  let acme: OrgScope;
  let other: OrgScope;
  let hostId: string;

  beforeAll(async () => {
    database = await openUnitDatabase();
    const hosts = new ScriptedHosts();
    deps = sandboxDeps(database, hosts);
    acme = await seedOrg(database, "acme");
    other = await seedOrg(database, "other");
    hostId = await seedHost(database, hosts, acme);
  });

  afterAll(async () => {
    await database?.close();
  });

  const snapshotOf = async (sandboxId: string) => {
    const sandbox = await getSandbox(deps.db, acme, sandboxId);
    return deps.db
      .insertInto("snapshots")
      .values({
        id: newId(),
        org_id: sandbox.org_id,
        sandbox_id: sandboxId,
        host_id: sandbox.host_id,
        name: "s",
        host_snapshot_id: "hs",
        has_memory: false,
        size_bytes: 10,
        created_by: acme.ownerId,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
  };

  it("getSandbox returns the org's own sandbox", async () => {
    const sandbox = await seedSandbox(deps, acme, hostId, "RUNNING");
    expect((await getSandbox(deps.db, acme, sandbox.id)).id).toBe(sandbox.id);
  });

  it("getSandbox answers not_found for another org's sandbox id", async () => {
    const sandbox = await seedSandbox(deps, acme, hostId, "RUNNING");
    const err = await rejection(getSandbox(deps.db, other, sandbox.id));
    expect(err.code).toBe("not_found");
  });

  it("listSandboxes shows only the org's sandboxes, newest first, and hides ended ones unless asked", async () => {
    const older = await seedSandbox(deps, acme, hostId, "RUNNING");
    const newer = await seedSandbox(deps, acme, hostId, "STOPPED");
    await endSandbox(deps.db, older.id, "user_request", "DESTROYED");
    const live = await listSandboxes(deps.db, acme, { limit: 100, offset: 0, includeEnded: false });
    const all = await listSandboxes(deps.db, acme, { limit: 100, offset: 0, includeEnded: true });
    const others = await listSandboxes(deps.db, other, { limit: 100, offset: 0, includeEnded: true });
    expect(live.map((s) => s.id)).toContain(newer.id);
    expect(live.map((s) => s.id)).not.toContain(older.id);
    expect(all.map((s) => s.id).indexOf(newer.id)).toBeLessThan(all.map((s) => s.id).indexOf(older.id));
    expect(others).toEqual([]);
  });

  it("listSandboxes with a metadata filter shows only the org's sandboxes carrying every given pair", async () => {
    const tagged = await seedSandbox(deps, acme, hostId, "RUNNING");
    const labels = JSON.stringify({ team: "infra", app: "web" });
    await deps.db.updateTable("sandboxes").set({ metadata: labels }).where("id", "=", tagged.id).execute();
    const page = { limit: 100, offset: 0, includeEnded: false };
    const ids = async (scope: OrgScope, metadata: Record<string, string>) =>
      (await listSandboxes(deps.db, scope, { ...page, metadata })).map((s) => s.id);
    expect(await ids(acme, { team: "infra" })).toEqual([tagged.id]);
    expect(await ids(acme, { team: "infra", app: "web" })).toEqual([tagged.id]);
    expect(await ids(acme, { team: "infra", app: "db" })).toEqual([]);
    expect(await ids(other, { team: "infra" })).toEqual([]);
  });

  it("listSandboxes fetches one row past the page so the caller can tell a next page exists", async () => {
    const page = await listSandboxes(deps.db, acme, { limit: 1, offset: 0, includeEnded: true });
    expect(page).toHaveLength(2);
  });

  it("getOwnSnapshot answers not_found for a snapshot of another sandbox or from another org", async () => {
    const owner = await seedSandbox(deps, acme, hostId, "RUNNING");
    const sibling = await seedSandbox(deps, acme, hostId, "RUNNING");
    const snapshot = await snapshotOf(owner.id);
    expect((await getOwnSnapshot(deps.db, acme, owner.id, snapshot.id)).id).toBe(snapshot.id);
    expect((await rejection(getOwnSnapshot(deps.db, acme, sibling.id, snapshot.id))).code).toBe("not_found");
    expect((await rejection(getOwnSnapshot(deps.db, other, owner.id, snapshot.id))).code).toBe("not_found");
  });

  it("endSandbox records the end once: a second call returns undefined and adds no audit event", async () => {
    const sandbox = await seedSandbox(deps, acme, hostId, "RUNNING");
    const ended = await endSandbox(deps.db, sandbox.id, "lease_expired", "DESTROYED");
    const again = await endSandbox(deps.db, sandbox.id, "crashed", "ERROR");
    expect(ended).toMatchObject({ state: "DESTROYED", end_reason: "lease_expired" });
    expect(ended?.ended_at).toBeInstanceOf(Date);
    expect(again).toBeUndefined();
    expect(await getSandbox(deps.db, acme, sandbox.id)).toMatchObject({
      state: "DESTROYED",
      end_reason: "lease_expired",
    });
    expect(await auditActions(database, sandbox.id)).toEqual(["sandbox.created", "sandbox.ended"]);
  });

  it("endSandbox audits a user's end as sandbox.destroyed and keeps at most 2000 characters of error", async () => {
    const sandbox = await seedSandbox(deps, acme, hostId, "RUNNING");
    const ended = await endSandbox(deps.db, sandbox.id, "user_request", "DESTROYED", {
      error: "x".repeat(5000),
      actor: { userId: acme.ownerId },
    });
    expect(ended?.error).toHaveLength(2000);
    expect(await auditActions(database, sandbox.id)).toEqual(["sandbox.created", "sandbox.destroyed"]);
  });
});
