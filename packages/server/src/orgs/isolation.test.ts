import {
  type Caller,
  databaseKinds,
  orgRoutes,
  requestFor,
  startTestServer,
  TestDaemon,
  type TestServer,
} from "@fluid/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

describe.each(databaseKinds)("org isolation (%s)", (kind) => {
  let t: TestServer;
  let daemon: TestDaemon;
  let ids: Record<string, string>;
  let intruders: Array<[string, Caller]>;

  beforeAll(async () => {
    t = await startTestServer(kind);
    const owner = await t.user("owner@example.com");
    await t.org(owner, "acme");
    const member = await t.user("member@example.com");
    const membership = await t.member(owner, "acme", member, "member");
    const invitation = await t.call("POST", "/v1/orgs/acme/invitations", {
      as: owner,
      body: { email: "pending@example.com", role: "viewer" },
    });
    const token = await t.hostToken(owner, "acme");
    daemon = await TestDaemon.connect(t.grpcUrl, { token: token.token });
    const sandbox = await t.call("POST", "/v1/orgs/acme/sandboxes", { as: owner, body: { source_vm: "debian-12" } });
    const key = await t.apiKey(owner, "acme", "admin");
    const sourceHost = await t.call("POST", "/v1/orgs/acme/source-hosts", {
      as: owner,
      body: { type: "libvirt", name: "kvm-1", hostname: "10.0.0.5" },
    });
    const playbook = await t.call("POST", "/v1/orgs/acme/playbooks", { as: owner, body: { name: "web" } });
    const snapshot = await t.call("POST", `/v1/orgs/acme/sandboxes/${sandbox.body.id}/snapshot`, {
      as: owner,
      body: { name: "before" },
    });
    const task = await t.call("POST", `/v1/orgs/acme/playbooks/${playbook.body.id}/tasks`, {
      as: owner,
      body: { name: "nginx", module: "apt", params: { name: "nginx", state: "present" } },
    });
    const changeRequest = await t.call("POST", "/v1/orgs/acme/change-requests", {
      as: owner,
      body: { sandbox_id: sandbox.body.id, title: "x", playbook: { yaml: "---\n- hosts: all\n  tasks: []\n" } },
    });
    ids = {
      changeRequestId: changeRequest.body.id,
      playbookId: playbook.body.id,
      taskId: task.body.id,
      sourceHostId: sourceHost.body.id,
      vm: "web-1",
      slug: "acme",
      id: sandbox.body.id,
      snapshotId: snapshot.body.id,
      processId: "5f0c0a52-56f5-4c4e-9d43-7d4e3f0c2a11",
      tokenId: token.id,
      hostId: token.id,
      keyId: key.id,
      memberId: membership.id,
      invitationId: invitation.body.id,
      inviteeEmail: "newcomer@example.com",
    };

    const intruder = await t.user("intruder@example.com");
    await t.org(intruder, "globex");
    const intruderKey = await t.apiKey(intruder, "globex", "owner");
    intruders = [
      ["another org's owner (session)", intruder],
      ["another org's owner-role API key", { key: intruderKey.key }],
    ];
  });

  afterAll(async () => {
    daemon?.abort();
    await t?.close();
  });

  it("cross-org reads and writes answer 404 for every org-scoped route in the OpenAPI document", async () => {
    const routes = await orgRoutes(t);
    expect(routes.length).toBeGreaterThan(20);
    const before = { commands: daemon.received.length, state: await snapshotState() };

    for (const route of routes) {
      const { url, ...request } = requestFor(route, ids);
      for (const [who, caller] of intruders) {
        const res = await t.call(route.method, url, { as: caller, ...request });
        expect.soft(res.status, `${who}: ${route.key}`).toBe(404);
        expect.soft(res.body?.error?.code, `${who}: ${route.key}`).toBe("not_found");
      }
    }
    expect(daemon.received.length).toBe(before.commands);
    expect(await snapshotState()).toEqual(before.state);
  });

  /** Everything the sweep could have changed in org acme. */
  async function snapshotState() {
    const db = t.server.ctx.db;
    const org = await db
      .selectFrom("orgs")
      .select(["id", "name", "deleted_at"])
      .where("slug", "=", "acme")
      .executeTakeFirstOrThrow();
    return {
      org,
      members: await db
        .selectFrom("org_members")
        .select(["user_id", "role"])
        .where("org_id", "=", org.id)
        .orderBy("user_id")
        .execute(),
      sandboxes: await db
        .selectFrom("sandboxes")
        .select(["id", "state", "expires_at"])
        .where("org_id", "=", org.id)
        .execute(),
      tokens: await db
        .selectFrom("host_tokens")
        .select(["id", "revoked_at"])
        .where("org_id", "=", org.id)
        .orderBy("id")
        .execute(),
      invitations: await db
        .selectFrom("org_invitations")
        .select(["id", "email", "role", "revoked_at"])
        .where("org_id", "=", org.id)
        .orderBy("id")
        .execute(),
      keys: await db
        .selectFrom("api_keys")
        .select(["id", "revoked_at"])
        .where("org_id", "=", org.id)
        .orderBy("id")
        .execute(),
      commands: await db.selectFrom("commands").select("id").where("org_id", "=", org.id).execute(),
      snapshots: await db.selectFrom("snapshots").select("id").where("org_id", "=", org.id).execute(),
      sourceHosts: await db.selectFrom("source_hosts").select(["id", "name"]).where("org_id", "=", org.id).execute(),
      playbooks: await db
        .selectFrom("playbooks")
        .select(["id", "name", "hosts", "become", "updated_at"])
        .where("org_id", "=", org.id)
        .execute(),
      playbookTasks: await db
        .selectFrom("playbook_tasks")
        .select(["id", "position", "name", "params", "updated_at"])
        .where("org_id", "=", org.id)
        .orderBy("id")
        .execute(),
      changeRequests: await db
        .selectFrom("change_requests")
        .select(["id", "state", "playbook_hash", "updated_at"])
        .where("org_id", "=", org.id)
        .execute(),
      changeRequestDecisions: await db
        .selectFrom("change_request_approvals")
        .select("id")
        .where("org_id", "=", org.id)
        .execute(),
    };
  }
});
