import { randomBytes } from "node:crypto";
import { type Caller, databaseKinds, startTestServer, TestDaemon, type TestServer } from "@fluid/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

type User = Awaited<ReturnType<TestServer["fastUser"]>>;

interface Event {
  action: string;
  actor_user_id: string | null;
  actor_key_id: string | null;
  target_type: string;
  target_id: string;
  details: Record<string, unknown>;
}

/** The events the rest of the server appends where it already records what happened. */
describe.each(databaseKinds)("audit hooks (%s)", (kind) => {
  let t: TestServer;
  let owner: User;
  let member: User;
  let daemon: TestDaemon;

  const eventsFor = async (targetId: string): Promise<Event[]> => {
    const res = await t.call("GET", "/v1/orgs/acme/audit", { as: owner, query: { target_id: targetId, limit: "200" } });
    expect(res.status).toBe(200);
    return (res.body.events as Event[]).reverse();
  };
  const createSandbox = async (as: Caller) => {
    const res = await t.call("POST", "/v1/orgs/acme/sandboxes", { as, body: { source_vm: "debian-12" } });
    expect(res.status).toBe(201);
    return res.body.id as string;
  };

  beforeAll(async () => {
    t = await startTestServer(kind, {
      encryptionKey: randomBytes(32),
      deadlines: { createMs: 3_000, destroyMs: 3_000, commandGraceMs: 1_000 },
    });
    owner = await t.fastUser("owner");
    await t.org(owner, "acme");
    member = await t.fastUser("member");
    await t.member(owner, "acme", member, "member");
    daemon = await TestDaemon.connect(t.grpcUrl, { token: (await t.hostToken(owner, "acme")).token });
  });
  afterAll(async () => {
    daemon.abort();
    await t.close();
  });

  it("creating a sandbox appends sandbox.created with the creator as actor", async () => {
    const id = await createSandbox(member);
    const [created] = await eventsFor(id);
    expect(created).toMatchObject({
      action: "sandbox.created",
      actor_user_id: member.id,
      actor_key_id: null,
      target_type: "sandbox",
      details: { source_vm: "debian-12" },
    });
  });

  it("a sandbox's life is in the chain in order: command, file, snapshot, restore, stop, start, destroy", async () => {
    const id = await createSandbox(owner);
    const base = `/v1/orgs/acme/sandboxes/${id}`;
    expect(
      (await t.call("POST", `${base}/run`, { as: owner, body: { command: "id", env: { TOKEN: "s3cret" } } })).status,
    ).toBe(200);
    expect(
      (await t.call("PUT", `${base}/files`, { as: owner, body: { path: "/root/x", content_base64: "eA==" } })).status,
    ).toBe(200);
    const snap = await t.call("POST", `${base}/snapshot`, { as: owner, body: { name: "s1" } });
    expect(snap.status).toBe(201);
    expect((await t.call("POST", `${base}/restore`, { as: owner, body: { snapshot_id: snap.body.id } })).status).toBe(
      200,
    );
    expect((await t.call("POST", `${base}/stop`, { as: owner, body: { force: false } })).status).toBe(200);
    expect((await t.call("POST", `${base}/start`, { as: owner })).status).toBe(200);
    expect((await t.call("DELETE", base, { as: owner })).status).toBe(200);

    const events = await eventsFor(id);
    expect(events.map((e) => e.action)).toEqual([
      "sandbox.created",
      "sandbox.command",
      "sandbox.file_written",
      "sandbox.snapshot_created",
      "sandbox.snapshot_restored",
      "sandbox.stopped",
      "sandbox.started",
      "sandbox.destroyed",
    ]);
    const command = events[1] as Event;
    expect(command.details).toMatchObject({ command: "id", env_names: ["TOKEN"] });
    // Metadata only: no environment values and no output.
    expect(JSON.stringify(command.details)).not.toContain("s3cret");
    expect(command.details).not.toHaveProperty("stdout");
    expect(events[2]?.details).toMatchObject({ path: "/root/x", size: 1 });
  });

  it("the reaper's expiry is sandbox.ended with no actor and the reason", async () => {
    const id = await createSandbox(owner);
    await t.server.ctx.db
      .updateTable("sandboxes")
      .set({ expires_at: new Date(Date.now() - 1000) })
      .where("id", "=", id)
      .execute();
    expect(await t.server.ctx.sandboxes.reapExpired()).toBe(1);
    expect((await eventsFor(id)).at(-1)).toMatchObject({
      action: "sandbox.ended",
      actor_user_id: null,
      details: { end_reason: "lease_expired" },
    });
  });

  it("every source-VM command, refused ones included, is a source.command event", async () => {
    const host = await t.call("POST", "/v1/orgs/acme/source-hosts", {
      as: owner,
      body: { type: "libvirt", name: "kvm-1", hostname: "10.0.0.5", ssh_user: "ops" },
    });
    expect(host.status).toBe(201);
    const base = `/v1/orgs/acme/source-hosts/${host.body.id}/vms/web-1`;
    await t.call("POST", `${base}/run`, { as: member, body: { command: "uptime" } });
    await t.call("POST", `${base}/run`, { as: member, body: { command: "rm -rf /" } });
    const rows = await t.server.ctx.db.selectFrom("source_commands").select("id").execute();
    const events = await eventsFor(`${host.body.id}/web-1`);
    expect(events).toHaveLength(rows.length);
    expect(events.map((e) => [e.action, e.details.command, e.details.outcome])).toEqual([
      ["source.command", "uptime", "ok"],
      ["source.command", "rm -rf /", "refused"],
    ]);
    expect(events[0]?.actor_user_id).toBe(member.id);
    expect((await t.call("DELETE", `/v1/orgs/acme/source-hosts/${host.body.id}`, { as: owner })).status).toBe(200);
    expect((await eventsFor(host.body.id)).map((e) => e.action)).toEqual([
      "source_host.created",
      "source_host.deleted",
    ]);
  });

  it("extending a lease is sandbox.extended with the new expiry", async () => {
    const id = await createSandbox(owner);
    const res = await t.call("POST", `/v1/orgs/acme/sandboxes/${id}/extend`, {
      as: owner,
      body: { ttl_seconds: 3600 },
    });
    expect(res.status).toBe(200);
    expect((await eventsFor(id)).at(-1)).toMatchObject({
      action: "sandbox.extended",
      details: { ttl_seconds: 3600, expires_at: res.body.expires_at },
    });
  });

  it("role changes, removals, API keys and invitations are recorded with who did them", async () => {
    const viewer = await t.fastUser("viewer");
    const membership = await t.member(owner, "acme", viewer, "viewer");
    const changed = await t.call("PATCH", `/v1/orgs/acme/members/${membership.id}`, {
      as: owner,
      body: { role: "member" },
    });
    expect(changed.status).toBe(200);
    expect((await t.call("DELETE", `/v1/orgs/acme/members/${membership.id}`, { as: owner })).status).toBe(200);
    expect((await eventsFor(membership.id)).map((e) => [e.action, e.details])).toEqual([
      ["member.role_changed", { user_id: viewer.id, from: "viewer", to: "member" }],
      ["member.removed", { user_id: viewer.id, role: "member" }],
    ]);
    const key = await t.apiKey(owner, "acme", "viewer");
    expect((await t.call("DELETE", `/v1/orgs/acme/api-keys/${key.id}`, { as: owner })).status).toBe(200);
    const keyEvents = await eventsFor(key.id);
    expect(keyEvents.map((e) => e.action)).toEqual(["api_key.created", "api_key.revoked"]);
    expect(JSON.stringify(keyEvents)).not.toContain(key.key);
    const invited = await t.call("POST", "/v1/orgs/acme/invitations", {
      as: owner,
      body: { email: "later@example.com", role: "viewer" },
    });
    expect((await t.call("DELETE", `/v1/orgs/acme/invitations/${invited.body.id}`, { as: owner })).status).toBe(200);
    const invitationEvents = await eventsFor(invited.body.id);
    expect(invitationEvents.map((e) => [e.action, e.actor_user_id])).toEqual([
      ["invitation.created", owner.id],
      ["invitation.revoked", owner.id],
    ]);
    expect(JSON.stringify(invitationEvents)).not.toContain(invited.body.token);
  });

  it("the chain holds after all of it", async () => {
    const res = await t.call("GET", "/v1/orgs/acme/audit/verify", { as: owner });
    expect(res.body).toMatchObject({ valid: true });
  });
});
