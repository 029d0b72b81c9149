import type { TestServer } from "./harness.js";

/** Fixture ids by path parameter name (`slug`, `id`, `playbookId`, …) plus any a sample body needs. */
export type RouteIds = Record<string, string>;

/**
 * Valid bodies for every org-scoped write, so requests get past validation and reach the role and
 * org checks. A new org-scoped route with a body and no entry here fails the sweeps that use it.
 */
const sampleBodies: Record<string, unknown> = {
  "POST /v1/orgs/{slug}/sandboxes": { source_vm: "debian-12" },
  "POST /v1/orgs/{slug}/sandboxes/{id}/run": { command: "id" },
  "POST /v1/orgs/{slug}/sandboxes/{id}/run/stream": { command: "id" },
  "POST /v1/orgs/{slug}/sandboxes/{id}/processes": { command: "sleep 1" },
  "POST /v1/orgs/{slug}/sandboxes/{id}/processes/{processId}/stdin": { data_base64: "eA==" },
  "POST /v1/orgs/{slug}/sandboxes/{id}/processes/{processId}/signal": { signal: "TERM" },
  "POST /v1/orgs/{slug}/source-hosts/{sourceHostId}/vms/{vm}/prepare": {},
  "PUT /v1/orgs/{slug}/source-hosts/{sourceHostId}/apply": { enabled: false },
  "POST /v1/orgs/{slug}/change-requests/{changeRequestId}/apply": { check_only: true },
  "POST /v1/orgs/{slug}/source-hosts/{sourceHostId}/vms/{vm}/run": { command: "uptime" },
  "POST /v1/orgs/{slug}/source-hosts/{sourceHostId}/vms/{vm}/inspect": { kind: "processes" },
  "POST /v1/orgs/{slug}/sandboxes/{id}/snapshot": { name: "snap" },
  "POST /v1/orgs/{slug}/sandboxes/{id}/extend": { ttl_seconds: 3600 },
  "PUT /v1/orgs/{slug}/sandboxes/{id}/egress": { allow: ["deb.debian.org:443"] },
  "POST /v1/orgs/{slug}/sandboxes/{id}/fork": { count: 1 },
  "POST /v1/orgs/{slug}/sandboxes/{id}/stop": { force: false },
  "POST /v1/orgs/{slug}/hosts/tokens": { name: "stolen" },
  "POST /v1/orgs/{slug}/api-keys": { name: "stolen", role: "viewer" },
  "PATCH /v1/orgs/{slug}/members/{memberId}": { role: "viewer" },
  "PATCH /v1/orgs/{slug}": { name: "pwned" },
  "POST /v1/orgs/{slug}/source-hosts": { type: "libvirt", name: "stolen", hostname: "10.9.9.9" },
  "PUT /v1/orgs/{slug}/sandboxes/{id}/files": { path: "/root/x", content_base64: "eA==" },
  "POST /v1/orgs/{slug}/playbooks": { name: "stolen" },
  "PATCH /v1/orgs/{slug}/playbooks/{playbookId}": { name: "pwned", become: true },
  "POST /v1/orgs/{slug}/playbooks/{playbookId}/tasks": { name: "x", module: "debug", params: { msg: "x" } },
  "PATCH /v1/orgs/{slug}/playbooks/{playbookId}/tasks/{taskId}": { name: "pwned" },
  "PUT /v1/orgs/{slug}/change-requests/{changeRequestId}/playbook": { yaml: "---\n- hosts: all\n  tasks: []\n" },
  "POST /v1/orgs/{slug}/change-requests/{changeRequestId}/approve": {
    diff_hash: "0".repeat(64),
    playbook_hash: "0".repeat(64),
  },
  "POST /v1/orgs/{slug}/change-requests/{changeRequestId}/reject": { comment: "no" },
};

/** Sample bodies that name fixtures (an existing user, snapshot or task). */
const bodiesFromIds: Record<string, (id: (name: string) => string) => unknown> = {
  "POST /v1/orgs/{slug}/invitations": (id) => ({ email: id("inviteeEmail"), role: "viewer" }),
  "POST /v1/orgs/{slug}/sandboxes/{id}/restore": (id) => ({ snapshot_id: id("snapshotId") }),
  "PUT /v1/orgs/{slug}/playbooks/{playbookId}/tasks/reorder": (id) => ({ task_ids: [id("taskId")] }),
  "POST /v1/orgs/{slug}/change-requests": (id) => ({
    sandbox_id: id("id"),
    title: "x",
    playbook: { yaml: "---\n- hosts: all\n  tasks: []\n" },
  }),
};

/** Required query parameters, so reads get past validation too. */
const sampleQueries: Record<string, Record<string, string>> = {
  "GET /v1/orgs/{slug}/sandboxes/{id}/files": { path: "/etc/hostname" },
  "GET /v1/orgs/{slug}/source-hosts/{sourceHostId}/vms/{vm}/file": { path: "/etc/hostname" },
  "GET /v1/orgs/{slug}/sandboxes/{id}/files/list": { path: "/etc" },
};

export interface OrgRoute {
  /** `METHOD /path/{param}` as the OpenAPI document spells it. */
  key: string;
  method: string;
  path: string;
  hasBody: boolean;
}

/** Every org-scoped operation the server documents: what the route sweeps walk. */
export async function orgRoutes(t: TestServer): Promise<OrgRoute[]> {
  const doc = (await t.call("GET", "/v1/openapi.json")).body as {
    paths: Record<string, Record<string, { requestBody?: unknown }>>;
  };
  return Object.entries(doc.paths)
    .filter(([path]) => path.startsWith("/v1/orgs/{slug}"))
    .flatMap(([path, operations]) =>
      Object.entries(operations).map(([method, operation]) => ({
        key: `${method.toUpperCase()} ${path}`,
        method: method.toUpperCase(),
        path,
        hasBody: operation.requestBody !== undefined,
      })),
    );
}

/** The URL, sample body and query for calling `route` on the fixture `ids`. */
export function requestFor(
  route: OrgRoute,
  ids: RouteIds,
): { url: string; body?: unknown; query?: Record<string, string> } {
  const id = (name: string) => {
    const value = ids[name];
    if (!value) throw new Error(`no fixture id for ${name} in ${route.key}`);
    return value;
  };
  const url = route.path.replace(/\{(\w+)\}/g, (_, name: string) => id(name));
  const body = bodiesFromIds[route.key]?.(id) ?? sampleBodies[route.key];
  if (route.hasBody && body === undefined) throw new Error(`add a sample body for ${route.key}`);
  return {
    url,
    ...(body === undefined ? {} : { body }),
    ...(sampleQueries[route.key] ? { query: sampleQueries[route.key] } : {}),
  };
}
