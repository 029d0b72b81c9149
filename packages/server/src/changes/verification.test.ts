import { type ControlMessage, SnapshotMode } from "@fluid/proto";
import {
  changeRequestFixture,
  databaseKinds,
  generatedPlaybook,
  sourceVmClone,
  TestDaemon,
  testConfig,
  testDiff,
} from "@fluid/testkit";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { startServer } from "../server.js";

type Fixture = Awaited<ReturnType<typeof changeRequestFixture>>;

/** A playbook run the test host reports: `changed` tasks changed, the rest as given. */
const run = (m: ControlMessage, changed: number, extra: { exitCode?: number; failed?: number } = {}) => ({
  case: "playbookRun" as const,
  value: {
    sandboxId: m.payload.case === "runPlaybook" ? m.payload.value.sandboxId : "",
    exitCode: extra.exitCode ?? 0,
    recap: { ok: 3, changed, failed: extra.failed ?? 0 },
    log: `run with changed=${changed}\n`,
    durationMs: 100n,
  },
});

describe.each(databaseKinds)("change request verification on a clone (%s)", (kind) => {
  let f: Fixture;
  let runs: number;

  beforeEach(async () => {
    f = await changeRequestFixture(kind);
    runs = 0;
    // A playbook that changes two things the first time and nothing the second.
    f.daemon.handlers.runPlaybook = (m) => run(m, ++runs === 1 ? 2 : 0);
  });
  afterEach(async () => {
    f.daemon.abort();
    await f.t.close();
  });

  /** Creates a request, verifies it, waits for the verification; returns it and the clone's id. */
  const verify = async () => {
    const created = (await f.createRequest()).body;
    const started = await f.t.call("POST", `${f.base}/${created.id}/verify`, { as: f.member.caller });
    expect(started.status).toBe(202);
    await f.t.server.ctx.changeRequests.settle();
    const cr = (await f.t.call("GET", `${f.base}/${created.id}`, { as: f.member.caller })).body;
    return { cr, cloneId: cr.verification?.clone_sandbox_id as string };
  };

  const destroyedOnHost = (sandboxId: string) =>
    f.daemon
      .commands("destroySandbox")
      .some((m) => m.payload.case === "destroySandbox" && m.payload.value.sandboxId === sandboxId);

  it("passes: a clone of the same base on the same host, two runs (second changed 0), an equivalent diff", async () => {
    const { cr, cloneId } = await verify();
    expect(cr.state).toBe("verified");
    expect(cr.verification).toMatchObject({
      passed: true,
      first_run_changed: 2,
      second_run_changed: 0,
      equivalent: true,
      mismatches: [],
      first_recap: { ok: 3, changed: 2, failed: 0, unreachable: 0 },
      second_recap: { changed: 0 },
    });
    expect(cr.verification.error).toBeUndefined();
    expect(cr.verification.log_excerpt).toContain("run with changed=2");
    const create = f.daemon
      .commands("createSandbox")
      .find((m) => m.payload.case === "createSandbox" && m.payload.value.sandboxId === cloneId);
    expect(create?.payload.case === "createSandbox" && create.payload.value).toMatchObject({
      baseImage: "debian-12",
      allowEgress: true,
      name: `verify-${cr.id.slice(-12)}`,
    });
    const playbooks = f.daemon.commands("runPlaybook").map((m) => m.payload.case === "runPlaybook" && m.payload.value);
    expect(playbooks).toMatchObject([
      { sandboxId: cloneId, playbookYaml: generatedPlaybook, check: false },
      { sandboxId: cloneId, playbookYaml: generatedPlaybook, check: false },
    ]);
    const cloneDiff = f.daemon
      .commands("diffSandbox")
      .find((m) => m.payload.case === "diffSandbox" && m.payload.value.sandboxId === cloneId);
    expect(cloneDiff?.payload.case === "diffSandbox" && cloneDiff.payload.value.withPlaybook).toBe(false);
    expect(destroyedOnHost(cloneId)).toBe(true);
    const clone = await f.t.call("GET", `/v1/orgs/acme/sandboxes/${cloneId}`, { as: f.member.caller });
    expect(clone.body).toMatchObject({ state: "DESTROYED", created_by: f.member.id });
  });

  it("boots the clone on the author's host even when another host has more room", async () => {
    const token = await f.t.hostToken(f.owner, "acme", "roomy");
    const roomy = await TestDaemon.connect(f.t.grpcUrl, {
      token: token.token,
      registration: { totalMemoryMb: 262_144n, availableMemoryMb: 262_144n, totalCpus: 64, availableCpus: 64 },
    });
    try {
      const placed = await f.t.call("POST", "/v1/orgs/acme/sandboxes", {
        as: f.member.caller,
        body: { source_vm: "debian-12" },
      });
      expect(placed.body.host_id).toBe(token.id);
      const { cr, cloneId } = await verify();
      expect(cr.state).toBe("verified");
      expect(
        f.daemon
          .commands("createSandbox")
          .some((m) => m.payload.case === "createSandbox" && m.payload.value.sandboxId === cloneId),
      ).toBe(true);
      // The roomy host got only the sandbox placed freely above: neither the clone nor its playbook runs.
      expect(roomy.commands("createSandbox")).toHaveLength(1);
      expect(roomy.commands("runPlaybook")).toHaveLength(0);
    } finally {
      roomy.abort();
    }
  });

  describe("from a source VM clone", () => {
    const capturedAt = "2026-11-29T01:02:03.000Z";
    /** A sandbox cloned from web-1 (the host's cached capture), and a change request made from it. */
    const fromSourceVm = async () => {
      const source = await f.t.call("POST", "/v1/orgs/acme/source-hosts", {
        as: f.owner,
        body: { type: "libvirt", name: "kvm-1", hostname: "10.0.0.5" },
      });
      f.daemon.handlers.createSandbox = sourceVmClone(capturedAt, "10.0.0.50");
      const sandbox = await f.t.call("POST", "/v1/orgs/acme/sandboxes", {
        as: f.member.caller,
        body: { source_vm: "web-1", source_host_id: source.body.id },
      });
      const created = await f.t.call("POST", f.base, {
        as: f.member.caller,
        body: { sandbox_id: sandbox.body.id, title: "from production" },
      });
      return { sourceHostId: source.body.id as string, cr: created.body };
    };

    it("records the source VM and capture time, and verifies on a clone of the same cached capture", async () => {
      const { sourceHostId, cr } = await fromSourceVm();
      expect(cr.source).toEqual({
        kind: "source_vm",
        vm: "web-1",
        source_host_id: sourceHostId,
        captured_at: capturedAt,
      });
      await f.t.call("POST", `${f.base}/${cr.id}/verify`, { as: f.member.caller });
      await f.t.server.ctx.changeRequests.settle();
      const verified = (await f.t.call("GET", `${f.base}/${cr.id}`, { as: f.member.caller })).body;
      expect(verified.state).toBe("verified");
      const cloneId = verified.verification.clone_sandbox_id;
      const create = f.daemon
        .commands("createSandbox")
        .find((m) => m.payload.case === "createSandbox" && m.payload.value.sandboxId === cloneId);
      const sent = create?.payload.case === "createSandbox" ? create.payload.value : undefined;
      expect(sent).toMatchObject({ sourceVm: "web-1", snapshotMode: SnapshotMode.CACHED });
      expect(sent?.sourceHostConnection?.sourceHostId).toBe(sourceHostId);
      expect(destroyedOnHost(cloneId)).toBe(true);
    });

    it("fails when the host's capture is no longer the one the request was made from", async () => {
      const { cr } = await fromSourceVm();
      f.daemon.handlers.createSandbox = sourceVmClone("2026-12-01T00:00:00.000Z");
      await f.t.call("POST", `${f.base}/${cr.id}/verify`, { as: f.member.caller });
      await f.t.server.ctx.changeRequests.settle();
      const failed = (await f.t.call("GET", `${f.base}/${cr.id}`, { as: f.member.caller })).body;
      expect(failed.state).toBe("verification_failed");
      expect(failed.verification.error).toContain("capture of the source VM is not the one");
      expect(f.daemon.commands("runPlaybook")).toHaveLength(0);
      expect(destroyedOnHost(failed.verification.clone_sandbox_id)).toBe(true);
    });
  });

  it("fails when the second run changes something (not idempotent), and destroys the clone", async () => {
    f.daemon.handlers.runPlaybook = (m) => run(m, 1);
    const { cr, cloneId } = await verify();
    expect(cr.state).toBe("verification_failed");
    expect(cr.verification).toMatchObject({ passed: false, first_run_changed: 1, second_run_changed: 1 });
    expect(cr.verification.error).toContain("second run changed 1");
    expect(destroyedOnHost(cloneId)).toBe(true);
  });

  it("fails when the first run fails a task, without a second run, and destroys the clone", async () => {
    f.daemon.handlers.runPlaybook = (m) => run(m, 1, { exitCode: 2, failed: 1 });
    const { cr, cloneId } = await verify();
    expect(cr.state).toBe("verification_failed");
    expect(cr.verification).toMatchObject({ passed: false, second_run_changed: null, equivalent: null });
    expect(cr.verification.error).toBe("the first run had 1 failed task(s)");
    expect(f.daemon.commands("runPlaybook")).toHaveLength(1);
    expect(destroyedOnHost(cloneId)).toBe(true);
  });

  it("fails with each mismatch listed when the clone's diff differs from the sandbox's", async () => {
    const original = f.daemon.handlers.diffSandbox;
    f.daemon.handlers.diffSandbox = (m) => {
      if (m.payload.case !== "diffSandbox" || m.payload.value.sandboxId === f.sandboxId) return original?.(m) ?? "hold";
      const diff = testDiff();
      const changes = [
        { ...diff.changes[0], mode: "0600" },
        { kind: "user", action: "added", name: "deploy" },
      ];
      const cloneDiff = { ...diff, hash: "b".repeat(64), changes };
      return {
        case: "sandboxDiff",
        value: {
          sandboxId: m.payload.value.sandboxId,
          diffJson: Buffer.from(JSON.stringify(cloneDiff)),
          hash: cloneDiff.hash,
        },
      };
    };
    const { cr, cloneId } = await verify();
    expect(cr.state).toBe("verification_failed");
    expect(cr.verification).toMatchObject({ passed: false, second_run_changed: 0, equivalent: false });
    expect(cr.verification.mismatches).toEqual([
      {
        kind: "file",
        key: "/etc/app.conf",
        problem: "differs",
        fields: [{ field: "mode", expected: "0644", actual: "0600" }],
      },
      { kind: "user", key: "deploy", problem: "extra_in_clone" },
    ]);
    expect(destroyedOnHost(cloneId)).toBe(true);
  });

  it("destroys the clone when the host fails mid-run, and records the failure", async () => {
    f.daemon.handlers.runPlaybook = () => ({ error: "ssh: connection refused", code: "internal" });
    const { cr, cloneId } = await verify();
    expect(cr.state).toBe("verification_failed");
    expect(cr.verification.error).toContain("ssh: connection refused");
    expect(destroyedOnHost(cloneId)).toBe(true);
  });

  it("discards the result when the playbook is edited while it verifies", async () => {
    const release: Array<() => void> = [];
    f.daemon.handlers.runPlaybook = (m) => new Promise((resolve) => release.push(() => resolve(run(m, 0))));
    const created = (await f.createRequest()).body;
    await f.t.call("POST", `${f.base}/${created.id}/verify`, { as: f.member.caller });
    await f.daemon.waitFor((m) => m.payload.case === "runPlaybook");
    const yaml = `${generatedPlaybook}# edited\n`;
    expect(
      (await f.t.call("PUT", `${f.base}/${created.id}/playbook`, { as: f.member.caller, body: { yaml } })).status,
    ).toBe(200);
    f.daemon.handlers.runPlaybook = (m) => run(m, 0);
    for (const go of release.splice(0)) go();
    await f.t.server.ctx.changeRequests.settle();
    const cr = (await f.t.call("GET", `${f.base}/${created.id}`, { as: f.member.caller })).body;
    expect(cr).toMatchObject({ state: "draft", verification: null, playbook: yaml });
  });

  it("a request left verifying by a stopped server is failed with a clear error when a server starts", async () => {
    const created = (await f.createRequest()).body;
    await f.t.server.ctx.db
      .updateTable("change_requests")
      .set({ state: "verifying", verification_started_at: new Date(Date.now() - 60_000) })
      .where("id", "=", created.id)
      .execute();
    const restarted = await startServer(testConfig(), { database: f.t.server.database });
    await restarted.close();
    const cr = (await f.t.call("GET", `${f.base}/${created.id}`, { as: f.member.caller })).body;
    expect(cr.state).toBe("verification_failed");
    expect(cr.verification.error).toBe("the server stopped while this verification ran; verify again");
  });
});
