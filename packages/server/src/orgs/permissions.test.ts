import {
  type Caller,
  databaseKinds,
  type OrgRoute,
  orgRoutes,
  type RouteIds,
  requestFor,
  startTestServer,
  TestDaemon,
  type TestServer,
} from "@fluid/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/**
 * Who may call an operation:
 * - viewer, member, admin, owner: that role or higher;
 * - creator: a member on a sandbox or playbook they created, an admin on anyone's.
 */
type Rule = "viewer" | "member" | "creator" | "admin" | "owner";

/** The callers: `member` created the fixture sandbox and playbook, `other` is a member who did not. */
type Who = "owner" | "admin" | "member" | "other" | "viewer";

const allowedBy: Record<Rule, readonly Who[]> = {
  viewer: ["owner", "admin", "member", "other", "viewer"],
  member: ["owner", "admin", "member", "other"],
  creator: ["owner", "admin", "member"],
  admin: ["owner", "admin"],
  owner: ["owner"],
};

/** The permission table (README, "Roles and permissions"): every org-scoped operation has a row. */
const expected: Record<string, Rule> = {
  "GET /v1/orgs/{slug}": "viewer",
  "PATCH /v1/orgs/{slug}": "admin",
  "DELETE /v1/orgs/{slug}": "owner",
  "GET /v1/orgs/{slug}/members": "viewer",
  "POST /v1/orgs/{slug}/invitations": "admin",
  "GET /v1/orgs/{slug}/invitations": "admin",
  "DELETE /v1/orgs/{slug}/invitations/{invitationId}": "admin",
  "PATCH /v1/orgs/{slug}/members/{memberId}": "admin",
  "DELETE /v1/orgs/{slug}/members/{memberId}": "admin",
  "POST /v1/orgs/{slug}/api-keys": "admin",
  "GET /v1/orgs/{slug}/api-keys": "admin",
  "DELETE /v1/orgs/{slug}/api-keys/{keyId}": "admin",
  "GET /v1/orgs/{slug}/hosts": "viewer",
  "POST /v1/orgs/{slug}/hosts/tokens": "admin",
  "GET /v1/orgs/{slug}/hosts/tokens": "viewer",
  "DELETE /v1/orgs/{slug}/hosts/tokens/{tokenId}": "admin",
  "GET /v1/orgs/{slug}/hosts/{hostId}": "viewer",
  "POST /v1/orgs/{slug}/sandboxes": "member",
  "GET /v1/orgs/{slug}/sandboxes": "viewer",
  "GET /v1/orgs/{slug}/sandboxes/{id}": "viewer",
  "DELETE /v1/orgs/{slug}/sandboxes/{id}": "creator",
  "POST /v1/orgs/{slug}/sandboxes/{id}/start": "creator",
  "POST /v1/orgs/{slug}/sandboxes/{id}/stop": "creator",
  "POST /v1/orgs/{slug}/sandboxes/{id}/run": "creator",
  "POST /v1/orgs/{slug}/sandboxes/{id}/run/stream": "creator",
  "POST /v1/orgs/{slug}/sandboxes/{id}/processes": "creator",
  "GET /v1/orgs/{slug}/sandboxes/{id}/processes": "creator",
  "GET /v1/orgs/{slug}/sandboxes/{id}/processes/{processId}": "creator",
  "GET /v1/orgs/{slug}/sandboxes/{id}/processes/{processId}/logs": "creator",
  "POST /v1/orgs/{slug}/sandboxes/{id}/processes/{processId}/stdin": "creator",
  "POST /v1/orgs/{slug}/sandboxes/{id}/processes/{processId}/signal": "creator",
  "GET /v1/orgs/{slug}/sandboxes/{id}/terminal": "creator",
  // Everyone sees the trail; only creator and admins see its output (sandboxes.test.ts).
  "GET /v1/orgs/{slug}/sandboxes/{id}/commands": "viewer",
  "GET /v1/orgs/{slug}/sandboxes/{id}/ip": "viewer",
  "POST /v1/orgs/{slug}/sandboxes/{id}/snapshot": "creator",
  "GET /v1/orgs/{slug}/sandboxes/{id}/snapshots": "viewer",
  "DELETE /v1/orgs/{slug}/sandboxes/{id}/snapshots/{snapshotId}": "creator",
  "GET /v1/orgs/{slug}/sandboxes/{id}/files": "creator",
  "PUT /v1/orgs/{slug}/sandboxes/{id}/files": "creator",
  "GET /v1/orgs/{slug}/sandboxes/{id}/files/list": "creator",
  "GET /v1/orgs/{slug}/sandboxes/{id}/diff": "creator",
  "POST /v1/orgs/{slug}/sandboxes/{id}/restore": "creator",
  "POST /v1/orgs/{slug}/sandboxes/{id}/extend": "creator",
  "POST /v1/orgs/{slug}/sandboxes/{id}/fork": "creator",
  "PUT /v1/orgs/{slug}/sandboxes/{id}/egress": "admin",
  "POST /v1/orgs/{slug}/source-hosts": "admin",
  "GET /v1/orgs/{slug}/source-hosts": "viewer",
  "GET /v1/orgs/{slug}/source-hosts/{sourceHostId}": "viewer",
  "DELETE /v1/orgs/{slug}/source-hosts/{sourceHostId}": "admin",
  "GET /v1/orgs/{slug}/source-hosts/{sourceHostId}/vms": "viewer",
  "POST /v1/orgs/{slug}/source-hosts/{sourceHostId}/vms/{vm}/prepare": "admin",
  "POST /v1/orgs/{slug}/source-hosts/{sourceHostId}/vms/{vm}/run": "member",
  "POST /v1/orgs/{slug}/source-hosts/{sourceHostId}/vms/{vm}/inspect": "member",
  "GET /v1/orgs/{slug}/source-hosts/{sourceHostId}/vms/{vm}/file": "member",
  "GET /v1/orgs/{slug}/source-commands": "viewer",
  "POST /v1/orgs/{slug}/playbooks": "member",
  "GET /v1/orgs/{slug}/playbooks": "viewer",
  "GET /v1/orgs/{slug}/playbooks/{playbookId}": "viewer",
  "PATCH /v1/orgs/{slug}/playbooks/{playbookId}": "creator",
  "DELETE /v1/orgs/{slug}/playbooks/{playbookId}": "creator",
  "GET /v1/orgs/{slug}/playbooks/{playbookId}/render": "viewer",
  "POST /v1/orgs/{slug}/playbooks/{playbookId}/tasks": "creator",
  "GET /v1/orgs/{slug}/playbooks/{playbookId}/tasks": "viewer",
  "PUT /v1/orgs/{slug}/playbooks/{playbookId}/tasks/reorder": "creator",
  "PATCH /v1/orgs/{slug}/playbooks/{playbookId}/tasks/{taskId}": "creator",
  "DELETE /v1/orgs/{slug}/playbooks/{playbookId}/tasks/{taskId}": "creator",
  "GET /v1/orgs/{slug}/audit": "admin",
  "GET /v1/orgs/{slug}/audit/verify": "admin",
  "GET /v1/orgs/{slug}/quotas": "viewer",
  "GET /v1/orgs/{slug}/usage": "viewer",
  // Made from the fixture sandbox: its creator or an admin (the diff route's rule).
  "POST /v1/orgs/{slug}/change-requests": "creator",
  "GET /v1/orgs/{slug}/change-requests": "viewer",
  "GET /v1/orgs/{slug}/change-requests/{changeRequestId}": "viewer",
  // The fixture request's author is `member`: its author or an admin.
  "PUT /v1/orgs/{slug}/change-requests/{changeRequestId}/playbook": "creator",
  "POST /v1/orgs/{slug}/change-requests/{changeRequestId}/verify": "member",
  "POST /v1/orgs/{slug}/change-requests/{changeRequestId}/approve": "admin",
  "POST /v1/orgs/{slug}/change-requests/{changeRequestId}/reject": "admin",
  "GET /v1/orgs/{slug}/change-requests/{changeRequestId}/export": "creator",
  "PUT /v1/orgs/{slug}/source-hosts/{sourceHostId}/apply": "owner",
  // Refused further on for the fixture (made from an image: nothing to apply to), never by role for admins.
  "POST /v1/orgs/{slug}/change-requests/{changeRequestId}/apply": "admin",
};

/**
 * Operations outside any org have no role to check; who may call them is the table's other half:
 * anyone (public), any signed-in caller (session or API key), or people only (a session cookie).
 */
type OutsideRule = "public" | "signed-in" | "session";
const outsideOrgs: Record<string, OutsideRule> = {
  "GET /v1/health": "public",
  "GET /v1/openapi.json": "public",
  // No user credential opens it: loopback clients, or the metrics token when one is set (metrics/route.ts).
  "GET /metrics": "public",
  "GET /livez": "public",
  "GET /readyz": "public",
  "POST /v1/auth/register": "public",
  "POST /v1/auth/login": "public",
  "GET /v1/auth/providers": "public",
  // OAuth sign-in (documented when a provider is configured, as in the test server).
  "GET /v1/auth/github": "public",
  "GET /v1/auth/github/callback": "public",
  "GET /v1/auth/google": "public",
  "GET /v1/auth/google/callback": "public",
  "POST /v1/auth/logout": "session",
  "GET /v1/auth/me": "signed-in",
  "GET /v1/orgs": "signed-in",
  "POST /v1/orgs": "session",
  "POST /v1/invitations/accept": "signed-in",
};

/** Valid bodies, so a refusal is the authentication check speaking, not validation. */
const outsideBodies: Record<string, unknown> = {
  "POST /v1/auth/register": { email: "newcomer@example.com", password: "correct horse battery", display_name: "N" },
  "POST /v1/auth/login": { email: "newcomer@example.com", password: "correct horse battery" },
  "POST /v1/orgs": { name: "Initech", slug: "initech" },
  "POST /v1/invitations/accept": { token: "not-a-real-invitation-token" },
};

describe.each(databaseKinds)("permissions: every org-scoped route × role (%s)", (kind) => {
  let t: TestServer;
  let daemon: TestDaemon;
  let callers: Record<Who, Caller>;
  let ids: RouteIds;
  /** Operations that use up their target (or body) get a new one for each call, so every caller meets a live one. */
  let fresh: Record<string, () => Promise<RouteIds>>;

  beforeAll(async () => {
    t = await startTestServer(kind);
    const owner = await t.fastUser("owner");
    await t.org(owner, "acme");
    const join = async (name: string, role: string) => {
      const user = await t.fastUser(name);
      const membership = await t.member(owner, "acme", user, role);
      return { caller: { cookie: user.cookie }, memberId: membership.id };
    };
    const member = (await join("member", "member")).caller;
    callers = {
      owner,
      admin: (await join("admin", "admin")).caller,
      member,
      other: (await join("other", "member")).caller,
      viewer: (await join("viewer", "viewer")).caller,
    };

    const token = await t.hostToken(owner, "acme");
    daemon = await TestDaemon.connect(t.grpcUrl, { token: token.token });
    const post = async (path: string, body: unknown, as: Caller = member) => {
      const res = await t.call("POST", `/v1/orgs/acme${path}`, { as, body });
      if (res.status !== 201) throw new Error(`POST ${path} failed: ${res.status} ${JSON.stringify(res.body)}`);
      return res.body.id as string;
    };
    const sourceHost = () =>
      post("/source-hosts", { type: "libvirt", name: `kvm-${Math.random()}`, hostname: "10.0.0.5" }, owner);
    const sandboxId = await post("/sandboxes", { source_vm: "debian-12" });
    const playbookId = await post("/playbooks", { name: "web" });
    let invitations = 0;
    const invite = async () =>
      post("/invitations", { email: `pending-${++invitations}@example.com`, role: "viewer" }, owner);
    const task = () => post(`/playbooks/${playbookId}/tasks`, { name: "x", module: "debug", params: { msg: "x" } });
    ids = {
      slug: "acme",
      id: sandboxId,
      snapshotId: await post(`/sandboxes/${sandboxId}/snapshot`, { name: "before" }),
      processId: await post(`/sandboxes/${sandboxId}/processes`, { command: "sleep 1" }),
      playbookId,
      taskId: await task(),
      sourceHostId: await sourceHost(),
      vm: "web-1",
      tokenId: token.id,
      hostId: token.id,
      keyId: (await t.apiKey(owner, "acme", "viewer")).id,
      memberId: (await join("target", "viewer")).memberId,
      invitationId: await invite(),
      inviteeEmail: "invitee-0@example.com",
      changeRequestId: await post("/change-requests", {
        sandbox_id: sandboxId,
        title: "fixture",
        playbook: { yaml: "---\n- hosts: all\n  tasks: []\n" },
      }),
    };
    let playbooks = 0;
    let snapshots = 0;
    fresh = {
      "POST /v1/orgs/{slug}/invitations": async () => ({ inviteeEmail: `invitee-${++invitations}@example.com` }),
      "DELETE /v1/orgs/{slug}/invitations/{invitationId}": async () => ({ invitationId: await invite() }),
      // Stopping the shared sandbox would leave file and command rows answering 409, not what they allow.
      "POST /v1/orgs/{slug}/sandboxes/{id}/stop": async () => ({
        id: await post("/sandboxes", { source_vm: "debian-12" }),
      }),
      "DELETE /v1/orgs/{slug}/sandboxes/{id}": async () => ({
        id: await post("/sandboxes", { source_vm: "debian-12" }),
      }),
      "DELETE /v1/orgs/{slug}/playbooks/{playbookId}": async () => ({
        playbookId: await post("/playbooks", { name: `doomed-${++playbooks}` }),
      }),
      "DELETE /v1/orgs/{slug}/playbooks/{playbookId}/tasks/{taskId}": async () => ({ taskId: await task() }),
      "DELETE /v1/orgs/{slug}/hosts/tokens/{tokenId}": async () => ({ tokenId: (await t.hostToken(owner, "acme")).id }),
      "DELETE /v1/orgs/{slug}/api-keys/{keyId}": async () => ({ keyId: (await t.apiKey(owner, "acme", "viewer")).id }),
      "DELETE /v1/orgs/{slug}/members/{memberId}": async () => ({
        memberId: (await join("leaver", "viewer")).memberId,
      }),
      "DELETE /v1/orgs/{slug}/source-hosts/{sourceHostId}": async () => ({ sourceHostId: await sourceHost() }),
      "DELETE /v1/orgs/{slug}/sandboxes/{id}/snapshots/{snapshotId}": async () => ({
        snapshotId: await post(`/sandboxes/${sandboxId}/snapshot`, { name: `doomed-${++snapshots}` }),
      }),
    };
  });

  afterAll(async () => {
    daemon?.abort();
    await t?.close();
  });

  it("the permission table has exactly one row per org-scoped operation in the OpenAPI document", async () => {
    const documented = (await orgRoutes(t)).map((r) => r.key).sort();
    expect(documented).toEqual(Object.keys(expected).sort());
  });

  it("each role is allowed exactly the operations the table gives it, and refused the rest with 403", async () => {
    // Deleting the org would end the sweep, so it goes last.
    const routes = (await orgRoutes(t)).sort((a, b) => Number(isOrgDelete(a)) - Number(isOrgDelete(b)));
    for (const route of routes) {
      const rule = expected[route.key];
      if (!rule) throw new Error(`add ${route.key} to the permission table`);
      // Weakest first: a refused call must not have changed anything the next caller relies on.
      for (const who of ["viewer", "other", "member", "admin", "owner"] as const) {
        const target = fresh[route.key] ? { ...ids, ...(await fresh[route.key]?.()) } : ids;
        const { url, ...request } = requestFor(route, target);
        const hostCommands = daemon.received.length;
        const res = await t.call(route.method, url, { as: callers[who], ...request });
        // A verification runs on after its 202; its host commands must not land in the next call's count.
        await t.server.ctx.changeRequests.settle();
        const label = `${who}: ${route.key} → ${res.status} ${JSON.stringify(res.body?.error ?? "")}`;
        if (allowedBy[rule].includes(who)) {
          expect.soft([401, 403, 404], label).not.toContain(res.status);
          expect.soft(res.status, label).toBeLessThan(500);
        } else {
          expect.soft(res.status, label).toBe(403);
          expect.soft(res.body?.error?.code, label).toBe("forbidden");
          expect.soft(daemon.received.length, `${label}: no host command`).toBe(hostCommands);
        }
      }
    }
  });
});

describe.each(databaseKinds)("permissions: every route outside an org (%s)", (kind) => {
  let t: TestServer;
  let apiKey: Caller;

  beforeAll(async () => {
    t = await startTestServer(kind);
    const owner = await t.fastUser("owner");
    await t.org(owner, "acme");
    apiKey = { key: (await t.apiKey(owner, "acme", "owner")).key };
  });
  afterAll(() => t?.close());

  it("every documented operation is either org-scoped (the role table) or in the outside-org table", async () => {
    const doc = (await t.call("GET", "/v1/openapi.json")).body as { paths: Record<string, Record<string, unknown>> };
    const outside = Object.entries(doc.paths)
      .filter(([path]) => !path.startsWith("/v1/orgs/{slug}"))
      .flatMap(([path, operations]) => Object.keys(operations).map((method) => `${method.toUpperCase()} ${path}`))
      .sort();
    expect(outside).toEqual(Object.keys(outsideOrgs).sort());
  });

  it("signed-in operations refuse anonymous callers with 401; session-only ones refuse API keys", async () => {
    for (const [key, rule] of Object.entries(outsideOrgs)) {
      const [method = "", url = ""] = key.split(" ");
      const body = outsideBodies[key];
      const anonymous = await t.call(method, url, body === undefined ? {} : { body });
      if (rule === "public") expect.soft(anonymous.status, `anonymous: ${key}`).not.toBe(401);
      else expect.soft(anonymous.status, `anonymous: ${key}`).toBe(401);
      const withKey = await t.call(method, url, { as: apiKey, ...(body === undefined ? {} : { body }) });
      if (rule === "session") expect.soft([401, 403], `API key: ${key}`).toContain(withKey.status);
      else expect.soft([401, 403], `API key: ${key} → ${withKey.status}`).not.toContain(withKey.status);
    }
  });
});

function isOrgDelete(route: OrgRoute): boolean {
  return route.key === "DELETE /v1/orgs/{slug}";
}
