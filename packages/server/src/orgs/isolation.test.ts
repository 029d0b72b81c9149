import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { databaseKinds } from "../testing/db.js";
import { type Caller, startTestServer, type TestServer } from "../testing/harness.js";
import { TestDaemon } from "../testing/test-daemon.js";

/**
 * Valid bodies for every org-scoped write, so requests get past validation and reach the org check.
 * A new org-scoped route without an entry here fails the sweep until someone adds one.
 */
const sampleBodies: Record<string, unknown> = {
  "POST /v1/orgs/{slug}/sandboxes": { source_vm: "debian-12" },
  "POST /v1/orgs/{slug}/sandboxes/{id}/run": { command: "id" },
  "POST /v1/orgs/{slug}/source-hosts/{sourceHostId}/vms/{vm}/prepare": {},
  "POST /v1/orgs/{slug}/source-hosts/{sourceHostId}/vms/{vm}/run": { command: "uptime" },
  "POST /v1/orgs/{slug}/source-hosts/{sourceHostId}/vms/{vm}/inspect": { kind: "processes" },
  "POST /v1/orgs/{slug}/sandboxes/{id}/snapshot": { name: "snap" },
  "POST /v1/orgs/{slug}/sandboxes/{id}/extend": { ttl_seconds: 3600 },
  "POST /v1/orgs/{slug}/sandboxes/{id}/stop": { force: false },
  "POST /v1/orgs/{slug}/hosts/tokens": { name: "stolen" },
  "POST /v1/orgs/{slug}/api-keys": { name: "stolen", role: "viewer" },
  "POST /v1/orgs/{slug}/invitations": { email: "intruder@example.com", role: "admin" },
  "PATCH /v1/orgs/{slug}/members/{memberId}": { role: "viewer" },
  "PATCH /v1/orgs/{slug}": { name: "pwned" },
  "POST /v1/orgs/{slug}/source-hosts": { type: "libvirt", name: "stolen", hostname: "10.9.9.9" },
  "PUT /v1/orgs/{slug}/sandboxes/{id}/files": { path: "/root/x", content_base64: "eA==" },
  "POST /v1/orgs/{slug}/sandboxes/{id}/restore": { snapshot_id: "01a22225-f4e5-7391-9e65-29356d01b684" },
  "POST /v1/orgs/{slug}/playbooks": { name: "stolen" },
  "PATCH /v1/orgs/{slug}/playbooks/{playbookId}": { name: "pwned", become: true },
  "POST /v1/orgs/{slug}/playbooks/{playbookId}/tasks": { name: "x", module: "debug", params: { msg: "x" } },
  "PUT /v1/orgs/{slug}/playbooks/{playbookId}/tasks/reorder": { task_ids: ["01a22225-f4e5-7391-9e65-29356d01b684"] },
  "PATCH /v1/orgs/{slug}/playbooks/{playbookId}/tasks/{taskId}": { name: "pwned" },
};

/** Required query parameters, so reads get past validation and reach the org check too. */
const sampleQueries: Record<string, Record<string, string>> = {
  "GET /v1/orgs/{slug}/sandboxes/{id}/files": { path: "/etc/hostname" },
  "GET /v1/orgs/{slug}/source-hosts/{sourceHostId}/vms/{vm}/file": { path: "/etc/hostname" },
  "GET /v1/orgs/{slug}/sandboxes/{id}/files/list": { path: "/etc" },
};

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
    const task = await t.call("POST", `/v1/orgs/acme/playbooks/${playbook.body.id}/tasks`, {
      as: owner,
      body: { name: "nginx", module: "apt", params: { name: "nginx", state: "present" } },
    });
    ids = {
      playbookId: playbook.body.id,
      taskId: task.body.id,
      sourceHostId: sourceHost.body.id,
      vm: "web-1",
      slug: "acme",
      id: sandbox.body.id,
      tokenId: token.id,
      hostId: token.id,
      keyId: key.id,
      memberId: membership.id,
      invitationId: invitation.body.id,
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
    const doc = (await t.call("GET", "/v1/openapi.json")).body as {
      paths: Record<string, Record<string, { requestBody?: unknown }>>;
    };
    const routes = Object.entries(doc.paths)
      .filter(([path]) => path.startsWith("/v1/orgs/{slug}"))
      .flatMap(([path, operations]) =>
        Object.entries(operations).map(([method, operation]) => ({ method: method.toUpperCase(), path, operation })),
      );
    expect(routes.length).toBeGreaterThan(20);
    const before = { commands: daemon.received.length, state: await snapshotState() };

    for (const { method, path, operation } of routes) {
      const key = `${method} ${path}`;
      if (operation.requestBody && !(key in sampleBodies)) throw new Error(`add a sample body for ${key}`);
      const url = path.replace(/\{(\w+)\}/g, (_, name: string) => {
        const value = ids[name];
        if (!value) throw new Error(`no fixture id for {${name}} in ${key}`);
        return value;
      });
      for (const [who, caller] of intruders) {
        const res = await t.call(method, url, {
          as: caller,
          ...(key in sampleBodies ? { body: sampleBodies[key] } : {}),
          ...(sampleQueries[key] ? { query: sampleQueries[key] } : {}),
        });
        expect.soft(res.status, `${who}: ${key}`).toBe(404);
        expect.soft(res.body?.error?.code, `${who}: ${key}`).toBe("not_found");
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
    };
  }
});
