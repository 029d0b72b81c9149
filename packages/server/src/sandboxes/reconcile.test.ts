import { create } from "@bufbuild/protobuf";
import { ResourceReportSchema, SandboxStateChangedSchema } from "@fluid/proto";
import { openTestDatabase } from "@fluid/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ServerConfig } from "../config/config.js";
import type { Database } from "../db/database.js";
import type { SandboxState } from "../db/schema.js";
import { newId } from "../lib/ids.js";
import type { Logger } from "../log/logger.js";
import type { OrgScope } from "../orgs/access.js";
import type { SandboxDeps } from "./deps.js";
import { HostClient } from "./host-client.js";
import { defaultDeadlines } from "./limits.js";
import { endOnLostHosts, reapExpired, reconcileReport, recordStateChange } from "./reconcile.js";
import { recordNewSandbox } from "./record.js";

const quietLog = { warn: () => undefined, error: () => undefined } as unknown as Logger;

describe("reconcile", () => {
  let database: Database;
  let deps: SandboxDeps;
  let scope: OrgScope;
  const hostId = newId();
  const destroyed: string[] = [];

  beforeAll(async () => {
    database = await openTestDatabase("pglite");
    const db = database.db;
    const userId = newId();
    const orgId = newId();
    await db.insertInto("users").values({ id: userId, email: "a@example.com", display_name: "A" }).execute();
    await db.insertInto("orgs").values({ id: orgId, name: "Acme", slug: "acme", owner_id: userId }).execute();
    await db
      .insertInto("host_tokens")
      .values({
        id: hostId,
        org_id: orgId,
        name: "h",
        token_hash: "x",
        created_by: userId,
        expires_at: null,
        last_used_at: null,
        revoked_at: null,
      })
      .execute();
    await db
      .insertInto("hosts")
      .values({
        id: hostId,
        org_id: orgId,
        hostname: "h",
        version: "1",
        total_cpus: 4,
        total_memory_mb: 8192,
        total_disk_mb: 50_000,
        available_cpus: 4,
        available_memory_mb: 8192,
        available_disk_mb: 50_000,
        base_images: JSON.stringify(["img"]),
        source_vms: JSON.stringify([]),
        bridges: JSON.stringify([]),
        status: "OFFLINE",
        connected_at: null,
        last_heartbeat: null,
        disconnected_at: new Date(Date.now() - 3_600_000),
      })
      .execute();
    scope = {
      orgId,
      slug: "acme",
      name: "Acme",
      ownerId: userId,
      role: "owner",
      principal: { kind: "user", userId, sessionId: "s" },
    };
    const hosts = {
      connectedAmong: async (hostIds: readonly string[]) => new Set(hostIds),
      request: async (_hostId: string, command: { case: string; value: unknown }) => {
        if (command.case === "destroySandbox") destroyed.push((command.value as { sandboxId: string }).sandboxId);
        throw new Error("only destroys are expected");
      },
    };
    deps = {
      db,
      config: { hostLostGraceMs: 60_000 } as ServerConfig,
      log: quietLog,
      host: new HostClient(hosts as unknown as ConstructorParameters<typeof HostClient>[0], defaultDeadlines),
      timed: (_what, work) => work,
    };
  });

  afterAll(async () => {
    await database?.close();
  });

  async function sandbox(state: SandboxState, expiresInMs = 3_600_000) {
    const row = await recordNewSandbox(deps.db, scope, {
      hostId,
      agentId: null,
      sourceVm: "img",
      sourceHostId: null,
      vcpus: 1,
      memoryMb: 512,
      allowEgress: false,
      expiresAt: new Date(Date.now() + expiresInMs),
    });
    await deps.db.updateTable("sandboxes").set({ state }).where("id", "=", row.id).execute();
    return row.id;
  }

  const row = (id: string) =>
    deps.db.selectFrom("sandboxes").selectAll().where("id", "=", id).executeTakeFirstOrThrow();

  it("ends what the host lost, records what it reports, and destroys what only the host has", async () => {
    const lost = await sandbox("RUNNING");
    const stopped = await sandbox("RUNNING");
    const unknown = newId();
    const report = create(ResourceReportSchema, {
      sandboxStatuses: [
        { sandboxId: stopped, state: "STOPPED", ipAddress: "10.0.0.9" },
        { sandboxId: unknown, state: "RUNNING" },
      ],
    });
    await reconcileReport(deps, { hostId }, report);
    expect(await row(lost)).toMatchObject({ state: "ERROR", end_reason: "reconciled_missing" });
    expect(await row(stopped)).toMatchObject({ state: "STOPPED", ip_address: "10.0.0.9", ended_at: null });
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(destroyed).toContain(unknown);
  });

  it("keeps a sandbox still being created that the host does not report yet", async () => {
    const creating = await sandbox("CREATING");
    await reconcileReport(deps, { hostId }, create(ResourceReportSchema, { sandboxStatuses: [] }));
    expect((await row(creating)).ended_at).toBeNull();
  });

  it("records a lease the host's janitor ended as lease_expired", async () => {
    const id = await sandbox("RUNNING");
    const change = create(SandboxStateChangedSchema, { sandboxId: id, newState: "DESTROYED", reason: "lease_expired" });
    await recordStateChange(deps, { hostId }, change);
    expect(await row(id)).toMatchObject({ state: "DESTROYED", end_reason: "lease_expired" });
  });

  it("ends a crashed sandbox once and has its host destroy it, so its TAP, lease and disk are freed", async () => {
    const reported = await sandbox("RUNNING");
    await reconcileReport(
      deps,
      { hostId },
      create(ResourceReportSchema, { sandboxStatuses: [{ sandboxId: reported, state: "ERROR" }] }),
    );
    const changed = await sandbox("RUNNING");
    const change = create(SandboxStateChangedSchema, { sandboxId: changed, newState: "ERROR", reason: "VM exited" });
    await recordStateChange(deps, { hostId }, change);
    await recordStateChange(deps, { hostId }, change);
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(await row(reported)).toMatchObject({ state: "ERROR", end_reason: "crashed" });
    expect(await row(changed)).toMatchObject({ state: "ERROR", end_reason: "crashed", error: "VM exited" });
    expect(destroyed.filter((id) => id === reported || id === changed).sort()).toEqual([reported, changed].sort());
  });

  it("reaps expired leases once, and ends sandboxes on hosts offline past the grace period", async () => {
    const expired = await sandbox("RUNNING", -1000);
    expect(await reapExpired(deps)).toBeGreaterThanOrEqual(1);
    expect(await row(expired)).toMatchObject({ state: "DESTROYED", end_reason: "lease_expired" });
    expect(await reapExpired(deps)).toBe(0);
    const stranded = await sandbox("RUNNING");
    expect(await endOnLostHosts(deps)).toBeGreaterThanOrEqual(1);
    expect(await row(stranded)).toMatchObject({ state: "DESTROYED", end_reason: "host_lost" });
  });
});
