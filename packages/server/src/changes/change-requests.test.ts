import { changeRequestFixture, databaseKinds, generatedPlaybook, testDiff } from "@fluid/testkit";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { playbookHash } from "./playbook-text.js";

type Fixture = Awaited<ReturnType<typeof changeRequestFixture>>;

describe.each(databaseKinds)("change request routes (%s)", (kind) => {
  let f: Fixture;

  beforeEach(async () => {
    f = await changeRequestFixture(kind);
  });
  afterEach(async () => {
    f.daemon.abort();
    await f.t.close();
  });

  const url = (id: string, action = "") => `${f.base}/${id}${action}`;

  it("create: asks the host for the diff with its generated playbook and stores both, hashed, as draft", async () => {
    const res = await f.createRequest({ description: "open the port" });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      state: "draft",
      title: "Serve on 8080",
      description: "open the port",
      author_id: f.member.id,
      sandbox_id: f.sandboxId,
      source: { kind: "image", vm: "debian-12", source_host_id: null, captured_at: null },
      diff_hash: testDiff().hash,
      playbook: generatedPlaybook,
      playbook_hash: playbookHash(generatedPlaybook),
      playbook_origin: "generated",
      playbook_notes: ["/etc/shadow is redacted"],
      verification: null,
      approvals: [],
    });
    expect(res.body.diff.changes).toEqual(testDiff().changes);
    const sent = f.daemon.commands("diffSandbox")[0];
    expect(sent?.payload.case === "diffSandbox" && sent.payload.value).toMatchObject({
      sandboxId: f.sandboxId,
      withPlaybook: true,
    });
  });

  it("create with raw YAML or an authored playbook: no playbook asked of the host, origin authored", async () => {
    const yaml = "---\n- hosts: all\n  tasks: []\n";
    const raw = await f.createRequest({ playbook: { yaml } });
    expect(raw.body).toMatchObject({ playbook: yaml, playbook_origin: "authored", playbook_hash: playbookHash(yaml) });
    const sent = f.daemon.commands("diffSandbox")[0];
    expect(sent?.payload.case === "diffSandbox" && sent.payload.value.withPlaybook).toBe(false);

    const pb = await f.t.call("POST", "/v1/orgs/acme/playbooks", { as: f.member.caller, body: { name: "web" } });
    const authored = await f.createRequest({ playbook: { playbook_id: pb.body.id } });
    expect(authored.status).toBe(201);
    expect(authored.body.playbook).toMatch(/^---\n- name: "web"\n {2}hosts: "all"\n/);
  });

  it("create refuses YAML that is not a list of plays, a viewer, and another member's sandbox", async () => {
    const notList = await f.createRequest({ playbook: { yaml: "hosts: all\n" } });
    expect(notList.status).toBe(400);
    expect(notList.body.error.code).toBe("invalid_request");
    expect((await f.createRequest({}, f.viewer.caller)).status).toBe(403);
    const other = await f.t.fastUser("other");
    await f.t.member(f.owner, "acme", other, "member");
    const res = await f.createRequest({}, { cookie: other.cookie });
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe("forbidden");
  });

  it("list filters by state and pages; get shows contents to the author and admins only", async () => {
    const first = await f.createRequest();
    await f.createRequest({ title: "second" });
    await f.t.call("POST", url(first.body.id, "/reject"), { as: f.admin.caller, body: {} });
    const drafts = await f.t.call("GET", f.base, { as: f.viewer.caller, query: { state: "draft" } });
    expect(drafts.body).toMatchObject({ count: 1, has_more: false, next_offset: null });
    expect(drafts.body.change_requests[0].title).toBe("second");
    const paged = await f.t.call("GET", f.base, { as: f.viewer.caller, query: { limit: "1" } });
    expect(paged.body).toMatchObject({ count: 1, has_more: true, next_offset: 1 });

    const asViewer = await f.t.call("GET", url(first.body.id), { as: f.viewer.caller });
    expect(asViewer.body).toMatchObject({ state: "rejected", diff: null, playbook: null });
    const asAdmin = await f.t.call("GET", url(first.body.id), { as: f.admin.caller });
    expect(asAdmin.body.playbook).toBe(generatedPlaybook);
    expect(asAdmin.body.approvals).toMatchObject([{ approver_id: f.admin.id, decision: "reject", current: false }]);
  });

  it("approve: a second admin approves a verified request at its hashes; the approval is current", async () => {
    const cr = await f.verified();
    expect(cr.state).toBe("verified");
    const res = await f.t.call("POST", url(cr.id, "/approve"), {
      as: f.admin.caller,
      body: { diff_hash: cr.diff_hash, playbook_hash: cr.playbook_hash, comment: "looks right" },
    });
    expect(res.status).toBe(200);
    expect(res.body.state).toBe("approved");
    expect(res.body.approvals).toMatchObject([{ approver_id: f.admin.id, decision: "approve", current: true }]);
  });

  it("approve refuses the author (two-person rule) unless the org allows self-approval", async () => {
    const cr = await f.verified(f.admin.caller);
    const body = { diff_hash: cr.diff_hash, playbook_hash: cr.playbook_hash };
    const self = await f.t.call("POST", url(cr.id, "/approve"), { as: f.admin.caller, body });
    expect(self.status).toBe(403);
    expect(self.body.error.code).toBe("forbidden");
    await f.t.server.ctx.db.updateTable("orgs").set({ allow_self_approval: true }).where("slug", "=", "acme").execute();
    expect((await f.t.call("POST", url(cr.id, "/approve"), { as: f.admin.caller, body })).status).toBe(200);
  });

  it("approve refuses members and viewers with 403", async () => {
    const cr = await f.verified();
    const body = { diff_hash: cr.diff_hash, playbook_hash: cr.playbook_hash };
    for (const as of [f.member.caller, f.viewer.caller]) {
      const res = await f.t.call("POST", url(cr.id, "/approve"), { as, body });
      expect(res.status).toBe(403);
    }
    expect((await f.t.call("GET", url(cr.id), { as: f.admin.caller })).body.state).toBe("verified");
  });

  it("approve answers 409 for stale hashes and for a request not verified", async () => {
    const cr = await f.verified();
    const stale = await f.t.call("POST", url(cr.id, "/approve"), {
      as: f.admin.caller,
      body: { diff_hash: cr.diff_hash, playbook_hash: "0".repeat(64) },
    });
    expect(stale.status).toBe(409);
    expect(stale.body.error.code).toBe("conflict");
    const draft = (await f.createRequest()).body;
    const early = await f.t.call("POST", url(draft.id, "/approve"), {
      as: f.admin.caller,
      body: { diff_hash: draft.diff_hash, playbook_hash: draft.playbook_hash },
    });
    expect(early.status).toBe(409);
    expect(early.body.error.code).toBe("invalid_state");
  });

  it("an edit after approval: new hash, verification cleared, approval no longer current, back to draft", async () => {
    const cr = await f.verified();
    await f.t.call("POST", url(cr.id, "/approve"), {
      as: f.admin.caller,
      body: { diff_hash: cr.diff_hash, playbook_hash: cr.playbook_hash },
    });
    const yaml = `${generatedPlaybook}# reviewed\n`;
    const res = await f.t.call("PUT", url(cr.id, "/playbook"), { as: f.member.caller, body: { yaml } });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      state: "draft",
      playbook: yaml,
      playbook_hash: playbookHash(yaml),
      playbook_origin: "edited",
      verification: null,
    });
    expect(res.body.approvals).toMatchObject([{ decision: "approve", current: false }]);
  });

  it("edit is refused to another member (403), for non-YAML (400), and once applied (409)", async () => {
    const cr = (await f.createRequest()).body;
    const other = await f.t.fastUser("other");
    await f.t.member(f.owner, "acme", other, "member");
    const yaml = "---\n- hosts: all\n";
    expect(
      (await f.t.call("PUT", url(cr.id, "/playbook"), { as: { cookie: other.cookie }, body: { yaml } })).status,
    ).toBe(403);
    expect(
      (await f.t.call("PUT", url(cr.id, "/playbook"), { as: f.member.caller, body: { yaml: "- [" } })).status,
    ).toBe(400);
    await f.t.server.ctx.db.updateTable("change_requests").set({ state: "applied" }).where("id", "=", cr.id).execute();
    const applied = await f.t.call("PUT", url(cr.id, "/playbook"), { as: f.admin.caller, body: { yaml } });
    expect(applied.status).toBe(409);
    expect(applied.body.error.code).toBe("invalid_state");
  });

  it("verify answers 202 verifying, and a second verify while it runs is 409", async () => {
    f.daemon.handlers.runPlaybook = () => "hold";
    const cr = (await f.createRequest()).body;
    const first = await f.t.call("POST", url(cr.id, "/verify"), { as: f.member.caller });
    expect(first.status).toBe(202);
    expect(first.body.state).toBe("verifying");
    expect(Date.parse(first.body.verification_started_at)).toBeLessThanOrEqual(Date.now());
    const second = await f.t.call("POST", url(cr.id, "/verify"), { as: f.member.caller });
    expect(second.status).toBe(409);
    expect(second.body.error.code).toBe("invalid_state");
  });

  it("reject: admin+ only; the request is rejected and the decision kept", async () => {
    const cr = (await f.createRequest()).body;
    expect((await f.t.call("POST", url(cr.id, "/reject"), { as: f.member.caller, body: {} })).status).toBe(403);
    const res = await f.t.call("POST", url(cr.id, "/reject"), { as: f.admin.caller, body: { comment: "no" } });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ state: "rejected", approvals: [{ decision: "reject", comment: "no" }] });
  });

  it("another org's caller gets 404 for every change request route", async () => {
    const cr = (await f.createRequest()).body;
    const stranger = await f.t.fastUser("stranger");
    await f.t.org(stranger, "globex");
    const as = { cookie: stranger.cookie };
    const hashes = { diff_hash: cr.diff_hash, playbook_hash: cr.playbook_hash };
    const calls = [
      ["GET", `/v1/orgs/globex/change-requests/${cr.id}`, undefined],
      ["GET", url(cr.id), undefined],
      ["PUT", `/v1/orgs/globex/change-requests/${cr.id}/playbook`, { yaml: "- hosts: all\n" }],
      ["POST", `/v1/orgs/globex/change-requests/${cr.id}/verify`, undefined],
      ["POST", `/v1/orgs/globex/change-requests/${cr.id}/approve`, hashes],
      ["POST", `/v1/orgs/globex/change-requests/${cr.id}/reject`, {}],
      ["POST", "/v1/orgs/globex/change-requests", { sandbox_id: f.sandboxId, title: "x" }],
    ] as const;
    for (const [method, path, body] of calls) {
      const res = await f.t.call(method, path, { as, ...(body ? { body } : {}) });
      expect(res.status, `${method} ${path}`).toBe(404);
    }
  });

  it("every step of a request's life is in the org's audit chain, with its actor and hashes", async () => {
    const request = await f.verified();
    const hashes = { diff_hash: request.diff_hash, playbook_hash: request.playbook_hash };
    await f.t.call("POST", url(request.id, "/approve"), { as: f.admin.caller, body: hashes });
    const yaml = "---\n- hosts: all\n  tasks: []\n";
    await f.t.call("PUT", url(request.id, "/playbook"), { as: f.member.caller, body: { yaml } });
    const trail = await f.t.call("GET", "/v1/orgs/acme/audit", {
      as: f.admin.caller,
      query: { target_type: "change_request", target_id: request.id },
    });
    const events = [...trail.body.events].reverse();
    expect(events.map((e: { action: string }) => e.action)).toEqual([
      "change_request.created",
      "change_request.verification_started",
      "change_request.verified",
      "change_request.approved",
      "change_request.playbook_edited",
    ]);
    expect(events[3]).toMatchObject({ actor_user_id: f.admin.id, details: { ...hashes, state: "approved" } });
    expect(events[4].details).toMatchObject({
      previous_playbook_hash: request.playbook_hash,
      playbook_hash: playbookHash(yaml),
      state: "draft",
    });
    expect((await f.t.call("GET", "/v1/orgs/acme/audit/verify", { as: f.admin.caller })).body.valid).toBe(true);
  });
});
