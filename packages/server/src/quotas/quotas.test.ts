import { type Caller, databaseKinds, startTestServer, TestDaemon, type TestServer } from "@fluid/testkit";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { accrueUsage } from "./usage.js";

const limits = { sandboxes: 2, vcpus: 4, memoryMb: 1024, snapshotBytes: 2048 };

describe.each(databaseKinds)("quotas (%s)", (kind) => {
  let t: TestServer;
  let owner: Caller;
  let daemon: TestDaemon;

  const create = (body: Record<string, unknown> = {}) =>
    t.call("POST", "/v1/orgs/acme/sandboxes", {
      as: owner,
      body: { source_vm: "debian-12", vcpus: 1, memory_mb: 256, ...body },
    });
  const created = async (body: Record<string, unknown> = {}) => {
    const res = await create(body);
    expect(res.status).toBe(201);
    return res.body.id as string;
  };
  const action = (id: string, verb: string, body: unknown = {}) =>
    t.call("POST", `/v1/orgs/acme/sandboxes/${id}/${verb}`, { as: owner, body });
  const quotas = async () => (await t.call("GET", "/v1/orgs/acme/quotas", { as: owner })).body;
  const setOwn = (values: Record<string, number | null>) =>
    t.server.ctx.db
      .insertInto("org_quotas")
      .values({ org_id: orgId, ...values })
      .onConflict((oc) => oc.column("org_id").doUpdateSet(values))
      .execute();
  let orgId: string;

  beforeEach(async () => {
    t = await startTestServer(kind, { quotas: limits, deadlines: { createMs: 3_000, destroyMs: 3_000 } });
    owner = await t.user("owner@example.com");
    orgId = (await t.org(owner, "acme")).id;
    const token = await t.hostToken(owner, "acme");
    daemon = await TestDaemon.connect(t.grpcUrl, { token: token.token, registration: { totalCpus: 8 } });
  });

  afterEach(async () => {
    daemon.abort();
    await t.close();
  });

  it("GET quotas shows the server's default limits and what the org uses", async () => {
    expect(await quotas()).toEqual({
      sandboxes: { limit: 2, used: 0 },
      vcpus: { limit: 4, used: 0 },
      memory_mb: { limit: 1024, used: 0 },
      snapshot_bytes: { limit: 2048, used: 0 },
    });
    await created({ vcpus: 2, memory_mb: 512 });
    expect(await quotas()).toMatchObject({ sandboxes: { used: 1 }, vcpus: { used: 2 }, memory_mb: { used: 512 } });
  });

  it("refuses a create past the live-sandbox limit with 429 quota_exceeded naming limit, use and request", async () => {
    const first = await created();
    await created();
    const res = await create();
    expect(res.status).toBe(429);
    expect(res.body.error).toEqual({
      code: "quota_exceeded",
      message: "the organization's live sandboxes quota would be exceeded: limit 2, in use 2, requested 1",
    });
    expect(daemon.commands("createSandbox")).toHaveLength(2);
    expect((await t.call("DELETE", `/v1/orgs/acme/sandboxes/${first}`, { as: owner })).status).toBe(200);
    expect((await create()).status).toBe(201);
  });

  it("refuses a create past the vCPU or the memory limit", async () => {
    await created({ vcpus: 3, memory_mb: 256 });
    const cpus = await create({ vcpus: 2 });
    expect(cpus.status).toBe(429);
    expect(cpus.body.error.message).toBe(
      "the organization's vCPUs quota would be exceeded: limit 4, in use 3, requested 2",
    );
    const memory = await create({ memory_mb: 1024 });
    expect(memory.status).toBe(429);
    expect(memory.body.error.message).toBe(
      "the organization's memory quota would be exceeded: limit 1024 MiB, in use 256 MiB, requested 1024 MiB",
    );
  });

  it("a stopped sandbox holds no vCPUs; starting it past the limit is refused before the host is asked", async () => {
    const a = await created({ vcpus: 3 });
    expect((await action(a, "stop")).status).toBe(200);
    expect(await quotas()).toMatchObject({ sandboxes: { used: 1 }, vcpus: { used: 0 } });
    await created({ vcpus: 3 });
    const res = await action(a, "start");
    expect(res.status).toBe(429);
    expect(res.body.error.message).toBe(
      "the organization's vCPUs quota would be exceeded: limit 4, in use 3, requested 3",
    );
    expect(daemon.commands("startSandbox")).toHaveLength(0);
  });

  it("two starts racing for the room of one: exactly one runs, the other is stopped again", async () => {
    await setOwn({ max_sandboxes: 3 });
    const a = await created({ vcpus: 2 });
    const b = await created({ vcpus: 2 });
    for (const id of [a, b]) expect((await action(id, "stop")).status).toBe(200);
    await created({ vcpus: 2 });
    const results = await Promise.all([action(a, "start"), action(b, "start")]);
    expect(results.map((r) => r.status).sort()).toEqual([200, 429]);
    const states = await t.server.ctx.db.selectFrom("sandboxes").select("state").where("id", "in", [a, b]).execute();
    expect(states.map((s) => s.state).sort()).toEqual(["RUNNING", "STOPPED"]);
    expect(await quotas()).toMatchObject({ vcpus: { used: 4 } });
  });

  it("creates racing for the last slots: exactly as many win as there are slots", async () => {
    const results = await Promise.all([1, 2, 3, 4, 5].map(() => create()));
    expect(results.map((r) => r.status).sort()).toEqual([201, 201, 429, 429, 429]);
    for (const loser of results.filter((r) => r.status === 429)) expect(loser.body.error.code).toBe("quota_exceeded");
    expect(await quotas()).toMatchObject({ sandboxes: { used: 2 } });
  });

  it("refuses a fork set past the limit before taking a snapshot", async () => {
    const parent = await created();
    const res = await action(parent, "fork", { count: 2 });
    expect(res.status).toBe(429);
    expect(res.body.error.message).toBe(
      "the organization's live sandboxes quota would be exceeded: limit 2, in use 1, requested 2",
    );
    expect(daemon.commands("createSnapshot")).toHaveLength(0);
    expect(daemon.commands("forkSandbox")).toHaveLength(0);
    expect((await action(parent, "fork", { count: 1 })).status).toBe(201);
  });

  it("refuses a snapshot once the org's snapshots fill its storage", async () => {
    const id = await created();
    for (const name of ["a", "b"]) expect((await action(id, "snapshot", { name })).status).toBe(201);
    const res = await action(id, "snapshot", { name: "c" });
    expect(res.status).toBe(429);
    expect(res.body.error.message).toBe(
      "the organization's snapshot storage quota would be exceeded: limit 2048 bytes, in use 2048 bytes",
    );
    expect(daemon.commands("createSnapshot")).toHaveLength(2);
  });

  it("an org's own limits override the defaults; 0 there means unlimited, NULL the default", async () => {
    await setOwn({ max_sandboxes: 3, max_vcpus: 0, max_memory_mb: null });
    expect(await quotas()).toMatchObject({
      sandboxes: { limit: 3 },
      vcpus: { limit: null },
      memory_mb: { limit: 1024 },
      snapshot_bytes: { limit: 2048 },
    });
    await created({ vcpus: 6 });
    await created({ vcpus: 6 });
    expect((await create({ vcpus: 6 })).status).toBe(201);
    expect((await create()).status).toBe(429);
  });

  it("GET usage returns the org's days and totals, after accrual", async () => {
    await created({ vcpus: 2, memory_mb: 512 });
    await accrueUsage(t.server.ctx.db, new Date(Date.now() + 60_000));
    const res = await t.call("GET", "/v1/orgs/acme/usage", { as: owner });
    expect(res.status).toBe(200);
    const today = new Date().toISOString().slice(0, 10);
    expect(res.body.to).toBe(today);
    expect(res.body.days.length).toBeGreaterThanOrEqual(1);
    const { sandbox_seconds, vcpu_seconds, memory_mb_seconds } = res.body.totals;
    expect(sandbox_seconds).toBeGreaterThanOrEqual(59);
    expect(sandbox_seconds).toBeLessThan(90);
    expect(vcpu_seconds).toBeCloseTo(sandbox_seconds * 2, 2);
    expect(memory_mb_seconds).toBeCloseTo(sandbox_seconds * 512, 0);
    const none = await t.call("GET", "/v1/orgs/acme/usage", {
      as: owner,
      query: { from: "2020-01-01", to: "2020-01-31" },
    });
    expect(none.body).toEqual({
      from: "2020-01-01",
      to: "2020-01-31",
      days: [],
      totals: { sandbox_seconds: 0, vcpu_seconds: 0, memory_mb_seconds: 0 },
    });
  });

  it("GET usage validates its range", async () => {
    const usage = (query: Record<string, string>) => t.call("GET", "/v1/orgs/acme/usage", { as: owner, query });
    expect((await usage({ from: "2026-02-30" })).status).toBe(400);
    expect((await usage({ to: "yesterday" })).status).toBe(400);
    const reversed = await usage({ from: "2026-03-02", to: "2026-03-01" });
    expect(reversed.body.error).toEqual({ code: "invalid_request", message: "from must not be after to" });
    const long = await usage({ from: "2025-01-01", to: "2026-01-02" });
    expect(long.body.error.message).toBe("a usage range covers at most 366 days, this one 367");
    expect((await usage({ from: "2025-01-02", to: "2026-01-02" })).status).toBe(200);
    const defaulted = await usage({ to: "2026-03-30" });
    expect(defaulted.body).toMatchObject({ from: "2026-03-01", to: "2026-03-30" });
  });
});
