import { createHash } from "node:crypto";
import { changeRequestFixture, databaseKinds, sourceVmClone } from "@fluid/testkit";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { expectedFiles } from "./apply.js";

const sha = (text: string) => createHash("sha256").update(text).digest("hex");
const privateKey = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n";

describe("expectedFiles: what production must still hold for a change to apply as verified", () => {
  it("added files absent, changed and removed regular files at their captured sha256; dirs and links left out", () => {
    const changes = [
      { kind: "file", action: "added", path: "/etc/new.conf", type: "file", sha256: sha("n") },
      {
        kind: "file",
        action: "changed",
        path: "/etc/motd",
        type: "file",
        sha256: sha("b"),
        from: { sha256: sha("a") },
      },
      { kind: "file", action: "changed", path: "/etc/key", type: "file", sha256: sha("k"), from: { mode: "0644" } },
      { kind: "file", action: "removed", path: "/etc/issue.net", type: "file", sha256: sha("i") },
      { kind: "file", action: "removed", path: "/opt/old", type: "dir" },
      { kind: "file", action: "changed", path: "/etc/link", type: "symlink", from: { target: "/a" } },
      { kind: "user", action: "added", name: "deploy" },
    ];
    const summary = { total: 7, added: 2, changed: 3, removed: 2, by_kind: {} };
    expect(expectedFiles({ hash: "h", summary, changes })).toEqual([
      { path: "/etc/new.conf", sha256: "absent" },
      { path: "/etc/motd", sha256: sha("a") },
      { path: "/etc/key", sha256: sha("k") },
      { path: "/etc/issue.net", sha256: sha("i") },
    ]);
  });
});

describe.each(databaseKinds)("applying a change request to its source VM (%s)", (kind) => {
  let f: Awaited<ReturnType<typeof changeRequestFixture>>;
  /** The source VM's files as its read-only access reports them (the test host answers sha256sum/stat). */
  let vmFiles: Record<string, string>;
  let sourceHostId: string;

  beforeEach(async () => {
    f = await changeRequestFixture(kind);
    vmFiles = {};
    f.daemon.handlers.runSourceCommand = (m) => {
      const command = m.payload.case === "runSourceCommand" ? m.payload.value.command : "";
      const paths = [...command.matchAll(/'([^']*)'/g)].map((match) => match[1] as string);
      const present = paths.filter((p) => vmFiles[p] !== undefined);
      const lines = command.startsWith("sha256sum")
        ? present.map((p) => `${sha(vmFiles[p] as string)}  ${p}`)
        : present.map((p) => `regular file:${p}`);
      return {
        case: "sourceCommandResult",
        value: {
          sourceVm: "web-1",
          exitCode: present.length === paths.length ? 0 : 1,
          stdout: `${lines.join("\n")}\n`,
        },
      };
    };
    f.daemon.handlers.prepareSourceVm = () => ({
      case: "sourceVmPrepared",
      value: { sourceVm: "web-1", prepared: true, applyAccessInstalled: true },
    });
    f.daemon.handlers.applyPlaybook = (m) => {
      const check = m.payload.case === "applyPlaybook" && m.payload.value.check;
      return {
        case: "playbookRun",
        value: {
          exitCode: 0,
          recap: { ok: 2, changed: 1 },
          log: check ? "--- before\n+++ after\n" : "ok",
          durationMs: 9n,
        },
      };
    };
    f.daemon.handlers.createSandbox = sourceVmClone("2026-11-29T01:02:03.000Z", "10.0.0.50");
    const source = await f.t.call("POST", "/v1/orgs/acme/source-hosts", {
      as: f.owner,
      body: { type: "libvirt", name: "kvm-1", hostname: "10.0.0.5", ssh_user: "ops", ssh_private_key: privateKey },
    });
    sourceHostId = source.body.id;
  });
  afterEach(async () => {
    f.daemon.abort();
    await f.t.close();
  });

  /** A change request from a clone of web-1, verified and approved by the second admin. */
  const approvedFromSource = async () => {
    const sandbox = await f.t.call("POST", "/v1/orgs/acme/sandboxes", {
      as: f.member.caller,
      body: { source_vm: "web-1", source_host_id: sourceHostId },
    });
    const created = await f.t.call("POST", f.base, {
      as: f.member.caller,
      body: { sandbox_id: sandbox.body.id, title: "from production" },
    });
    await f.t.call("POST", `${f.base}/${created.body.id}/verify`, { as: f.member.caller });
    await f.t.server.ctx.changeRequests.settle();
    const verified = (await f.t.call("GET", `${f.base}/${created.body.id}`, { as: f.member.caller })).body;
    expect(verified.state).toBe("verified");
    const approved = await f.t.call("POST", `${f.base}/${created.body.id}/approve`, {
      as: f.admin.caller,
      body: { diff_hash: verified.diff_hash, playbook_hash: verified.playbook_hash },
    });
    expect(approved.body.state).toBe("approved");
    return approved.body as { id: string; playbook: string };
  };
  const enableApply = async () => {
    await f.t.call("PUT", `/v1/orgs/acme/source-hosts/${sourceHostId}/apply`, { as: f.owner, body: { enabled: true } });
    const prepared = await f.t.call("POST", `/v1/orgs/acme/source-hosts/${sourceHostId}/vms/web-1/prepare`, {
      as: f.admin.caller,
      body: { apply: true },
    });
    expect(prepared.status, JSON.stringify(prepared.body)).toBe(200);
  };
  const applyRuns = () =>
    f.daemon.commands("applyPlaybook").map((m) => (m.payload.case === "applyPlaybook" ? m.payload.value : undefined));

  it("checks drift, runs check mode, then applies once: state applied, a second apply refused, all audited", async () => {
    await enableApply();
    const request = await approvedFromSource();
    const url = `${f.base}/${request.id}/apply`;

    const checked = await f.t.call("POST", url, { as: f.admin.caller, body: { check_only: true } });
    expect(checked.status, JSON.stringify(checked.body)).toBe(200);
    expect(checked.body.result).toMatchObject({ outcome: "checked", drift: [], check: { exit_code: 0 }, apply: null });
    expect(checked.body.change_request.state).toBe("approved");
    expect(applyRuns().map((run) => run?.check)).toEqual([true]);

    const applied = await f.t.call("POST", url, { as: f.admin.caller, body: {} });
    expect(applied.body.result).toMatchObject({ outcome: "applied", apply: { exit_code: 0, recap: { changed: 1 } } });
    expect(applied.body.change_request).toMatchObject({ state: "applied", apply_result: { outcome: "applied" } });
    expect(applied.body.change_request.applied_at).not.toBeNull();
    expect(applyRuns().map((run) => run?.check)).toEqual([true, true, false]);
    expect(applyRuns()[2]).toMatchObject({ sourceVm: "web-1", playbookYaml: request.playbook });

    const again = await f.t.call("POST", url, { as: f.admin.caller, body: {} });
    expect(again.status).toBe(409);
    expect(applyRuns()).toHaveLength(3);

    const trail = await f.t.call("GET", "/v1/orgs/acme/audit", {
      as: f.admin.caller,
      query: { target_type: "change_request", target_id: request.id },
    });
    expect(trail.body.events.slice(0, 2).map((e: { action: string }) => e.action)).toEqual([
      "change_request.applied",
      "change_request.apply_checked",
    ]);
  });

  it("refuses when production drifted from the capture, naming the file, and runs nothing", async () => {
    await enableApply();
    const request = await approvedFromSource();
    // The change adds /etc/app.conf: someone has since created it on the VM.
    vmFiles["/etc/app.conf"] = "written by hand\n";
    const res = await f.t.call("POST", `${f.base}/${request.id}/apply`, { as: f.admin.caller, body: {} });
    expect(res.status).toBe(409);
    expect(res.body.error).toEqual({ code: "conflict", message: expect.stringContaining("/etc/app.conf") });
    expect(applyRuns()).toEqual([]);
    const shown = (await f.t.call("GET", `${f.base}/${request.id}`, { as: f.admin.caller })).body;
    expect(shown).toMatchObject({ state: "approved", apply_result: { outcome: "drift" } });
    expect(shown.apply_result.drift).toEqual([
      { path: "/etc/app.conf", expected: "absent", actual: sha("written by hand\n") },
    ]);
  });

  it("a source host without apply enabled cannot be written: 403, and nothing reaches the host", async () => {
    const request = await approvedFromSource();
    const res = await f.t.call("POST", `${f.base}/${request.id}/apply`, { as: f.admin.caller, body: {} });
    expect(res.status).toBe(403);
    expect(applyRuns()).toEqual([]);
    expect((await f.t.call("GET", `${f.base}/${request.id}`, { as: f.admin.caller })).body.state).toBe("approved");
  });

  it("members cannot apply; an image-based request has no production to apply to (409)", async () => {
    await enableApply();
    const request = await approvedFromSource();
    expect((await f.t.call("POST", `${f.base}/${request.id}/apply`, { as: f.member.caller, body: {} })).status).toBe(
      403,
    );
    const fromImage = await f.verified();
    await f.t.call("POST", `${f.base}/${fromImage.id}/approve`, {
      as: f.admin.caller,
      body: { diff_hash: fromImage.diff_hash, playbook_hash: fromImage.playbook_hash },
    });
    const res = await f.t.call("POST", `${f.base}/${fromImage.id}/apply`, { as: f.admin.caller, body: {} });
    expect(res.status).toBe(409);
    expect(res.body.error.message).toContain("export it instead");
  });

  it("export: the playbook, an inventory naming the VM, the diff, verification and current approvals, hashed", async () => {
    const request = await approvedFromSource();
    const bundle = await f.t.call("GET", `${f.base}/${request.id}/export`, { as: f.member.caller });
    expect(bundle.status).toBe(200);
    expect(bundle.body).toMatchObject({
      format: "fluid.change-bundle/v1",
      playbook: request.playbook,
      playbook_hash: sha(request.playbook),
      verification: { passed: true },
    });
    expect(bundle.body.inventory).toContain("[fluid_target]\nweb-1\n");
    expect(bundle.body.approvals).toHaveLength(1);
    expect(bundle.body.diff.hash).toBe(bundle.body.diff_hash);
    expect((await f.t.call("GET", `${f.base}/${request.id}/export`, { as: f.viewer.caller })).status).toBe(403);
  });
});
