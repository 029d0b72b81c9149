import { type Caller, databaseKinds, startTestServer, TestDaemon, type TestServer } from "@fluid/testkit";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

describe.each(databaseKinds)("POST …/sandboxes/{id}/fork (%s)", (kind) => {
  let t: TestServer;
  let owner: Caller;
  let daemon: TestDaemon;
  let hostId: string;
  let parent: string;

  const createSandbox = async (body: Record<string, unknown> = {}, as: Caller = owner) => {
    const res = await t.call("POST", "/v1/orgs/acme/sandboxes", { as, body: { source_vm: "debian-12", ...body } });
    expect(res.status).toBe(201);
    return res.body.id as string;
  };
  const fork = (body: Record<string, unknown>, id = parent, as: Caller = owner, slug = "acme") =>
    t.call("POST", `/v1/orgs/${slug}/sandboxes/${id}/fork`, { as, body });

  beforeEach(async () => {
    t = await startTestServer(kind, { deadlines: { createMs: 3_000, destroyMs: 3_000 } });
    owner = await t.user("owner@example.com");
    await t.org(owner, "acme");
    const token = await t.hostToken(owner, "acme");
    daemon = await TestDaemon.connect(t.grpcUrl, { token: token.token, registration: { totalCpus: 8 } });
    hostId = token.id;
    parent = await createSandbox({ name: "web", memory_mb: 256 });
  });

  afterEach(async () => {
    daemon.abort();
    await t.close();
  });

  it("forks a running sandbox from a memory snapshot taken on the fly: 201 with each fork as GET shows it", async () => {
    const res = await fork({ count: 3 });
    expect(res.status).toBe(201);
    const snapshots = (await t.call("GET", `/v1/orgs/acme/sandboxes/${parent}/snapshots`, { as: owner })).body;
    expect(snapshots.snapshots).toHaveLength(1);
    const snapshot = snapshots.snapshots[0];
    const taken = daemon.commands("createSnapshot")[0];
    expect(taken?.payload.case === "createSnapshot" && taken.payload.value).toMatchObject({
      sandboxId: parent,
      includeMemory: true,
    });

    expect(res.body.sandboxes.map((s: { name: string }) => s.name)).toEqual(["web-fork-1", "web-fork-2", "web-fork-3"]);
    for (const sandbox of res.body.sandboxes) {
      expect(sandbox).toMatchObject({
        state: "RUNNING",
        host_id: hostId,
        source_vm: "debian-12",
        memory_mb: 256,
        forked_from: parent,
        fork_snapshot_id: snapshot.id,
      });
      expect((await t.call("GET", `/v1/orgs/acme/sandboxes/${sandbox.id}`, { as: owner })).body).toEqual(sandbox);
    }
    expect(new Set(res.body.sandboxes.map((s: { ip_address: string }) => s.ip_address)).size).toBe(3);

    const sent = daemon.commands("forkSandbox");
    expect(sent).toHaveLength(1);
    const command = sent[0]?.payload.case === "forkSandbox" ? sent[0].payload.value : undefined;
    expect(command?.parentSandboxId).toBe(parent);
    expect(command?.snapshotId).toBe(`snap-${snapshot.name}`);
    expect(command?.clones.map((c) => c.sandboxId)).toEqual(res.body.sandboxes.map((s: { id: string }) => s.id));
  });

  it("asks the host for a shared network only when the body says network: shared (isolated by default)", async () => {
    expect((await fork({ count: 2, network: "shared" })).status).toBe(201);
    expect((await fork({ count: 1, network: "isolated" })).status).toBe(201);
    expect((await fork({ count: 1 })).status).toBe(201);
    const shared = daemon
      .commands("forkSandbox")
      .map((c) => (c.payload.case === "forkSandbox" ? c.payload.value.sharedNetwork : undefined));
    expect(shared).toEqual([true, false, false]);
  });

  it("gives forks of a sandbox with an egress allowlist the same allowlist, on the host and in their rows", async () => {
    const allow = ["10.0.0.0/8:443", "deb.debian.org"];
    const limited = await createSandbox({ name: "limited", egress_allow: allow });
    const res = await fork({ count: 2 }, limited);
    expect(res.status).toBe(201);
    expect(res.body.sandboxes.map((s: { egress_allow: string[] | null }) => s.egress_allow)).toEqual([allow, allow]);
    const sent = daemon.commands("forkSandbox").at(-1);
    const clones = sent?.payload.case === "forkSandbox" ? sent.payload.value.clones : [];
    expect(clones.map((c) => [c.allowEgress, c.egressAllow])).toEqual([
      [false, allow],
      [false, allow],
    ]);
  });

  it("audits each fork as a created sandbox naming its parent and snapshot", async () => {
    const res = await fork({ count: 2 });
    for (const sandbox of res.body.sandboxes) {
      const audit = await t.call("GET", "/v1/orgs/acme/audit", { as: owner, query: { target_id: sandbox.id } });
      expect(audit.body.events).toMatchObject([
        {
          action: "sandbox.created",
          details: { name: sandbox.name, forked_from: parent, snapshot_id: sandbox.fork_snapshot_id },
        },
      ]);
    }
  });

  it("forks a stopped sandbox from a disk-only snapshot", async () => {
    expect((await t.call("POST", `/v1/orgs/acme/sandboxes/${parent}/stop`, { as: owner, body: {} })).status).toBe(200);
    expect((await fork({ count: 1 })).status).toBe(201);
    const taken = daemon.commands("createSnapshot")[0];
    expect(taken?.payload.case === "createSnapshot" && taken.payload.value.includeMemory).toBe(false);
  });

  it("forks from a given snapshot of the parent without taking another, under the names asked for", async () => {
    const snap = await t.call("POST", `/v1/orgs/acme/sandboxes/${parent}/snapshot`, {
      as: owner,
      body: { name: "before-upgrade" },
    });
    const res = await fork({ count: 2, snapshot_id: snap.body.id, names: ["try-a", "try-b"] });
    expect(res.status).toBe(201);
    expect(res.body.sandboxes.map((s: { name: string }) => s.name)).toEqual(["try-a", "try-b"]);
    expect(res.body.sandboxes[0].fork_snapshot_id).toBe(snap.body.id);
    expect(daemon.commands("createSnapshot")).toHaveLength(1);
    const sent = daemon.commands("forkSandbox")[0];
    expect(sent?.payload.case === "forkSandbox" && sent.payload.value.snapshotId).toBe("snap-before-upgrade");
  });

  it("answers 404 for a snapshot of another sandbox", async () => {
    const other = await createSandbox({ name: "other" });
    const snap = await t.call("POST", `/v1/orgs/acme/sandboxes/${other}/snapshot`, { as: owner, body: { name: "s" } });
    const res = await fork({ count: 1, snapshot_id: snap.body.id });
    expect(res.status).toBe(404);
    expect(res.body.error).toEqual({ code: "not_found", message: "snapshot of this sandbox not found" });
    expect(daemon.commands("forkSandbox")).toHaveLength(0);
  });

  it("rejects a bad body with 400 before asking the host anything", async () => {
    for (const body of [
      {},
      { count: 0 },
      { count: 17 },
      { count: 1.5 },
      { count: 2, names: ["only-one"] },
      { count: 2, names: ["same", "same"] },
      { count: 1, names: ["-bad name"] },
      { count: 1, snapshot_id: "not-a-uuid" },
      { count: 1, connect_everything: true },
      { count: 2, network: "open" },
      { count: 2, network: true },
    ]) {
      const res = await fork(body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.code).toBe("invalid_request");
    }
    expect(daemon.commands("createSnapshot")).toHaveLength(0);
    expect(daemon.commands("forkSandbox")).toHaveLength(0);
  });

  it("forks up to 16 at once", async () => {
    const small = await createSandbox({ name: "small", memory_mb: 64 });
    const res = await fork({ count: 16 }, small);
    expect(res.status).toBe(201);
    expect(res.body.sandboxes).toHaveLength(16);
  });

  it("answers 409 when a name is held by a live sandbox of the org, before taking a snapshot", async () => {
    await createSandbox({ name: "taken" });
    const res = await fork({ count: 2, names: ["free", "taken"] });
    expect(res.status).toBe(409);
    expect(res.body.error).toEqual({
      code: "conflict",
      message: "a sandbox of this organization is already named taken",
    });
    expect(daemon.commands("createSnapshot")).toHaveLength(0);
  });

  it("gives default names the lowest free numbers", async () => {
    await createSandbox({ name: "web-fork-1" });
    const res = await fork({ count: 2 });
    expect(res.body.sandboxes.map((s: { name: string }) => s.name)).toEqual(["web-fork-2", "web-fork-3"]);
  });

  it("answers 404 to another org, which never reaches the host", async () => {
    const intruder = await t.user("intruder@example.com");
    await t.org(intruder, "globex");
    expect((await fork({ count: 1 }, parent, intruder, "globex")).status).toBe(404);
    expect((await fork({ count: 1 }, parent, intruder, "acme")).status).toBe(404);
    expect(daemon.commands("createSnapshot")).toHaveLength(0);
    expect(daemon.commands("forkSandbox")).toHaveLength(0);
  });

  it("lets members fork their own sandboxes only, as with every change", async () => {
    const member = await t.fastUser("member");
    await t.member(owner, "acme", member, "member");
    const viewer = await t.fastUser("viewer");
    await t.member(owner, "acme", viewer, "viewer");
    for (const who of [member, viewer]) expect((await fork({ count: 1 }, parent, who)).status).toBe(403);
    const theirs = await createSandbox({ name: "mine" }, member);
    expect((await fork({ count: 1 }, theirs, member)).status).toBe(201);
  });

  it("refuses with 503 when the parent's host has no room for all of them, before taking a snapshot", async () => {
    const big = await createSandbox({ name: "big", memory_mb: 3072 });
    const res = await fork({ count: 2 }, big);
    expect(res.status).toBe(503);
    expect(res.body.error.code).toBe("no_capacity");
    expect(res.body.error.message).toMatch(
      /^the parent's host cannot take the forks: no host has 6144 MB of memory free/,
    );
    expect(daemon.commands("createSnapshot")).toHaveLength(0);
    expect(daemon.commands("forkSandbox")).toHaveLength(0);
  });

  it("ends every fork of the set as create_failed when the host refuses", async () => {
    daemon.handlers.forkSandbox = () => ({ error: "not enough memory", code: "no_capacity" });
    const res = await fork({ count: 2 });
    expect(res.status).toBe(503);
    const list = await t.call("GET", "/v1/orgs/acme/sandboxes", { as: owner, query: { include_ended: "true" } });
    const forks = list.body.sandboxes.filter((s: { forked_from: string | null }) => s.forked_from === parent);
    expect(forks).toHaveLength(2);
    for (const s of forks) expect(s).toMatchObject({ state: "ERROR", end_reason: "create_failed" });
  });
});
