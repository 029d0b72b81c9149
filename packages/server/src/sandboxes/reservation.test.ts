import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ServerConfig } from "../config/config.js";
import type { Database } from "../db/database.js";
import type { Demand } from "./placement.js";
import { type CreateSandboxInput, placementHostNow, reserve } from "./reservation.js";
import {
  openUnitDatabase,
  rejection,
  ScriptedHosts,
  type SeedHost,
  sandboxDeps,
  seedHost,
  seedOrg,
  seedSandbox,
} from "./sandbox-deps.fixtures.js";
import { endSandbox } from "./store.js";

const demand: Demand = { vcpus: 1, memoryMb: 1024, diskMb: 1024 };
const input: CreateSandboxInput = { sourceVm: "img" };

describe("reservation", () => {
  let database: Database;
  let orgs = 0;

  beforeAll(async () => {
    database = await openUnitDatabase();
  });

  afterAll(async () => {
    await database?.close();
  });

  /** A fresh org (so no other test's sandboxes count) with one connected host. */
  async function world(host: SeedHost = {}, config: Partial<ServerConfig> = {}) {
    const hosts = new ScriptedHosts();
    const deps = sandboxDeps(database, hosts, config);
    const scope = await seedOrg(database, `org-${++orgs}`);
    const hostId = await seedHost(database, hosts, scope, host);
    return { hosts, deps, scope, hostId };
  }

  it("records a CREATING sandbox with the demanded size on a connected host of the org", async () => {
    const { deps, scope, hostId } = await world();
    const row = await reserve(deps, scope, { ...input, name: "web" }, demand);
    expect(row).toMatchObject({
      org_id: scope.orgId,
      host_id: hostId,
      name: "web",
      state: "CREATING",
      vcpus: 1,
      memory_mb: 1024,
      source_vm: "img",
      created_by: scope.principal.userId,
    });
  });

  it("gives the lease the configured default TTL when the caller names none", async () => {
    const { deps, scope } = await world({}, { defaultTtlMs: 60_000 });
    const before = Date.now();
    const row = await reserve(deps, scope, input, demand);
    expect(row.expires_at.getTime() - before).toBeGreaterThanOrEqual(59_000);
    expect(row.expires_at.getTime() - before).toBeLessThanOrEqual(61_000);
  });

  it("counts what live sandboxes hold: a host whose memory is reserved refuses the next one", async () => {
    const { deps, scope } = await world({ totalMemoryMb: 2048 });
    await reserve(deps, scope, input, demand);
    await reserve(deps, scope, input, demand);
    const err = await rejection(reserve(deps, scope, input, demand));
    expect(err.code).toBe("no_capacity");
    expect(err.message).toMatch(/memory/);
  });

  it("releases what an ended sandbox held, so the room can be reserved again", async () => {
    const { deps, scope } = await world({ totalMemoryMb: 1024 });
    const first = await reserve(deps, scope, input, demand);
    expect((await rejection(reserve(deps, scope, input, demand))).code).toBe("no_capacity");
    await endSandbox(deps.db, first.id, "user_request", "DESTROYED");
    expect((await reserve(deps, scope, input, demand)).state).toBe("CREATING");
  });

  it("placementHostNow counts CREATING and RUNNING sandboxes but not STOPPED or ended ones", async () => {
    const { deps, scope, hostId } = await world();
    await seedSandbox(deps, scope, hostId, "CREATING", { vcpus: 1, memoryMb: 100 });
    await seedSandbox(deps, scope, hostId, "RUNNING", { vcpus: 2, memoryMb: 200 });
    await seedSandbox(deps, scope, hostId, "STOPPED", { vcpus: 4, memoryMb: 400 });
    const ended = await seedSandbox(deps, scope, hostId, "RUNNING", { vcpus: 8, memoryMb: 800 });
    await endSandbox(deps.db, ended.id, "crashed", "ERROR");
    const host = await deps.db.selectFrom("hosts").selectAll().where("id", "=", hostId).executeTakeFirstOrThrow();
    const now = await placementHostNow(deps.db, host);
    expect({ vcpus: now.committedVcpus, memoryMb: now.committedMemoryMb }).toEqual({ vcpus: 3, memoryMb: 300 });
  });

  it("refuses with no_capacity when no host of the org is connected", async () => {
    const { hosts, deps, scope, hostId } = await world();
    hosts.connected.delete(hostId);
    const err = await rejection(reserve(deps, scope, input, demand));
    expect(err.code).toBe("no_capacity");
    expect(err.message).toMatch(/no sandbox host of this organization is connected/);
  });

  it("refuses with no_capacity, naming the image, when no connected host has it", async () => {
    const { deps, scope } = await world({ baseImages: ["other"] });
    const err = await rejection(reserve(deps, scope, input, demand));
    expect(err.code).toBe("no_capacity");
    expect(err.message).toContain('"img"');
  });

  it("places a clone of a source VM on any connected host: the host pulls the disk itself", async () => {
    const { deps, scope, hostId } = await world({ baseImages: [] });
    const connection = { sourceHostId: "" } as NonNullable<CreateSandboxInput["source"]>["connection"];
    const row = await reserve(deps, scope, { sourceVm: "db-1", source: { connection, fresh: false } }, demand);
    expect(row.host_id).toBe(hostId);
  });

  it("keeps a pinned create on its host, and refuses when that host is not the org's", async () => {
    const { hosts, deps, scope } = await world();
    const second = await seedHost(database, hosts, scope);
    expect((await reserve(deps, scope, { ...input, hostId: second }, demand)).host_id).toBe(second);
    const stranger = await world();
    const err = await rejection(reserve(deps, scope, { ...input, hostId: stranger.hostId }, demand));
    expect(err.code).toBe("no_capacity");
    expect(err.message).toContain(stranger.hostId);
  });

  it("never places on another org's host, however much room it has", async () => {
    const roomy = await world({ totalMemoryMb: 65_536 });
    const { hosts, deps, scope } = await world({ totalMemoryMb: 1024 });
    hosts.connected.add(roomy.hostId);
    await reserve(deps, scope, input, demand);
    expect((await rejection(reserve(deps, scope, input, demand))).code).toBe("no_capacity");
  });

  it("re-checks the org's quota: past its live-sandbox limit it refuses with quota_exceeded", async () => {
    const { deps, scope } = await world(
      {},
      { quotas: { sandboxes: 1, vcpus: null, memoryMb: null, snapshotBytes: null } },
    );
    await reserve(deps, scope, input, demand);
    const err = await rejection(reserve(deps, scope, input, demand));
    expect(err.code).toBe("quota_exceeded");
  });

  it("lets only one of two concurrent creates take a host's last room", async () => {
    const { deps, scope } = await world({ totalMemoryMb: 1024 });
    const outcomes = await Promise.allSettled([
      reserve(deps, scope, input, demand),
      reserve(deps, scope, input, demand),
    ]);
    expect(outcomes.filter((o) => o.status === "fulfilled")).toHaveLength(1);
    const refused = outcomes.find((o): o is PromiseRejectedResult => o.status === "rejected");
    expect(refused?.reason.code).toBe("no_capacity");
  });
});
