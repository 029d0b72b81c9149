import type { ChangeRequest, Organization } from "@fluid/sdk";
import { act } from "react";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { useMountedRoot } from "../../lib/mount.fixtures";
import { Decisions } from "./Decisions";

// The component's rules are under test, not the network: POST answers what each test sets.
const post = vi.hoisted(() => vi.fn());
vi.mock("../../lib/api", async () => {
  const sdk = await vi.importActual<typeof import("@fluid/sdk")>("@fluid/sdk");
  return { api: { POST: post }, unwrap: sdk.unwrap, errorMessage: (err: Error) => err.message };
});

const org = (role: string, allow_self_approval = false): Organization => ({
  id: "o1",
  name: "Acme",
  slug: "acme",
  owner_id: "ada",
  allow_self_approval,
  role: role as Organization["role"],
  created_at: "2026-12-01T00:00:00Z",
});

const request = {
  id: "cr1",
  author_id: "ada",
  state: "verified",
  diff_hash: "d".repeat(64),
  playbook_hash: "p".repeat(64),
  approvals: [],
} as unknown as ChangeRequest;

const answer = (status: number, body: unknown) => ({
  data: status < 400 ? body : undefined,
  error: status < 400 ? undefined : body,
  response: new Response(JSON.stringify(body), { status }),
});

describe("Decisions: approve and reject controls", () => {
  const view = useMountedRoot();
  const reload = vi.fn();
  beforeEach(() => {
    post.mockReset();
    reload.mockReset();
  });

  const render = (o: Organization, userId: string, r: ChangeRequest = request) =>
    act(() => view.root.render(<Decisions org={o} userId={userId} request={r} members={[]} reload={reload} />));
  const buttons = () => [...view.container.querySelectorAll("button")].map((b) => b.textContent);
  const click = (name: string) =>
    act(async () => {
      [...view.container.querySelectorAll("button")].find((b) => b.textContent === name)?.click();
    });

  it("shows members and viewers no buttons", () => {
    render(org("member"), "bob");
    expect(buttons()).toEqual([]);
    render(org("viewer"), "bob");
    expect(buttons()).toEqual([]);
  });

  it("tells the author they cannot approve their own change, and offers only Reject", () => {
    render(org("owner"), "ada");
    expect(view.container.textContent).toContain("You cannot approve your own change");
    expect(buttons()).toEqual(["Reject"]);
  });

  it("offers the author Approve when the org allows self-approval", () => {
    render(org("owner", true), "ada");
    expect(buttons()).toEqual(["Approve", "Reject"]);
    expect(view.container.textContent).not.toContain("cannot approve");
  });

  it("approves as a second admin with the hashes on the page, then reloads the request", async () => {
    post.mockResolvedValue(answer(200, { ...request, state: "approved" }));
    render(org("admin"), "bob");
    await click("Approve");
    expect(post).toHaveBeenCalledWith("/v1/orgs/{slug}/change-requests/{changeRequestId}/approve", {
      params: { path: { slug: "acme", changeRequestId: "cr1" } },
      body: { diff_hash: request.diff_hash, playbook_hash: request.playbook_hash },
    });
    expect(reload).toHaveBeenCalledOnce();
    expect(view.container.querySelector("[role=alert]")).toBeNull();
  });

  it("shows the server's 409 for a stale page as an alert with a reload button", async () => {
    const message = "the change request changed since you read it: its diff or playbook hash differs";
    post.mockResolvedValue(answer(409, { error: { code: "conflict", message } }));
    render(org("admin"), "bob");
    await click("Approve");
    expect(view.container.querySelector("[role=alert]")?.textContent).toBe(`Not approved: ${message}.`);
    expect(reload).not.toHaveBeenCalled();
    await click("Reload the request");
    expect(reload).toHaveBeenCalledOnce();
  });

  it("lists each decision with its hashes and whether it is current", () => {
    const approvals = [
      { id: "a1", approver_id: "bob", decision: "approve", diff_hash: "1".repeat(64), playbook_hash: "2".repeat(64) },
      { id: "a2", approver_id: "cy", decision: "approve", diff_hash: request.diff_hash, playbook_hash: "p".repeat(64) },
    ].map((a, i) => ({ ...a, comment: "", at: "2026-12-01T00:00:00Z", current: i === 1 }));
    render(org("admin", false), "bob", { ...request, state: "approved", approvals } as unknown as ChangeRequest);
    const rows = [...view.container.querySelectorAll("li")].map((li) => li.textContent ?? "");
    expect(rows[0]).toMatch(/diff 111111111111 · playbook 222222222222.*stale: the request changed/);
    expect(rows[1]).toMatch(/current$/);
    expect(buttons()).toEqual([]);
  });
});
