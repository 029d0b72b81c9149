import { describe, expect, it } from "vitest";
import {
  applyChangeRequest,
  approveChangeRequest,
  createChangeRequest,
  exportChangeRequest,
  getChangeRequest,
  listChangeRequests,
  rejectChangeRequest,
  replacePlaybook,
  untilVerified,
} from "./change-requests.js";
import { fakeServer } from "./fake-server.fixtures.js";

const base = "/v1/orgs/acme/change-requests";

describe("change-request calls", () => {
  it("sends create, edit, approve, reject, export and apply to their paths", async () => {
    const { conn, calls } = fakeServer(() => ({ body: { id: "cr" } }));
    await createChangeRequest(conn, { sandbox_id: "sb", title: "nginx" });
    await replacePlaybook(conn, "cr", "- hosts: all\n");
    await approveChangeRequest(conn, "cr", { diff_hash: "d", playbook_hash: "p" });
    await rejectChangeRequest(conn, "cr", { comment: "no" });
    await exportChangeRequest(conn, "cr");
    await applyChangeRequest(conn, "cr", { check_only: true });
    expect(calls.map((c) => [c.method, c.path, c.body])).toEqual([
      ["POST", base, { sandbox_id: "sb", title: "nginx" }],
      ["PUT", `${base}/cr/playbook`, { yaml: "- hosts: all\n" }],
      ["POST", `${base}/cr/approve`, { diff_hash: "d", playbook_hash: "p" }],
      ["POST", `${base}/cr/reject`, { comment: "no" }],
      ["GET", `${base}/cr/export`, undefined],
      ["POST", `${base}/cr/apply`, { check_only: true }],
    ]);
  });

  it("lists every page, filtered by state when one is given", async () => {
    const { conn, calls } = fakeServer((request) => ({
      body: {
        change_requests: [{ id: `cr${request.query.offset}` }],
        next_offset: request.query.offset === "0" ? 200 : null,
      },
    }));
    expect((await listChangeRequests(conn, "approved")).map((r) => r.id)).toEqual(["cr0", "cr200"]);
    expect(calls[0]?.query).toEqual({ limit: "200", offset: "0", state: "approved" });
    await listChangeRequests(conn, undefined);
    expect(calls[2]?.query).toEqual({ limit: "200", offset: "0" });
  });

  it("polls a verifying request until it settles", async () => {
    const states = ["verifying", "verified"];
    const { conn, calls } = fakeServer(() => ({ body: { id: "cr", state: states.shift() } }));
    const started = await getChangeRequest(conn, "cr");
    const settled = await untilVerified(conn, started, { intervalMs: 1 });
    expect(settled.state).toBe("verified");
    expect(calls.every((c) => c.path === `${base}/cr`)).toBe(true);
  });
});
