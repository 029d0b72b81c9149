import { randomBytes } from "node:crypto";
import type { ControlMessage } from "@fluid/proto";
import { type Caller, databaseKinds, startTestServer, TestDaemon, type TestServer } from "@fluid/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { OrgScope } from "../orgs/access.js";
import { SourceRelay } from "./relay.js";

const privateKey = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n";
const playbook = "- hosts: all\n  tasks:\n    - ansible.builtin.copy: {dest: /etc/motd, content: hi}\n";

describe.each(databaseKinds)("applying to source VMs: opt-in per source host (%s)", (kind) => {
  let t: TestServer;
  let owner: Caller & { id: string };
  let admin: Awaited<ReturnType<TestServer["fastUser"]>>;
  let daemon: TestDaemon;
  let sourceHostId: string;
  let scope: OrgScope;
  let relay: SourceRelay;
  const base = () => `/v1/orgs/acme/source-hosts/${sourceHostId}`;
  const sent = (kind: ControlMessage["payload"]["case"]) => daemon.received.filter((m) => m.payload.case === kind);
  const setApply = (as: Caller, enabled: boolean) => t.call("PUT", `${base()}/apply`, { as, body: { enabled } });
  const apply = (check: boolean) =>
    relay.applyPlaybook(scope, sourceHostId, "web-1", {
      playbookYaml: playbook,
      check,
      timeoutSeconds: 120,
      description: "change request 1",
    });
  const lastAudit = async () =>
    (await t.call("GET", "/v1/orgs/acme/source-commands?vm=web-1", { as: owner })).body.source_commands[0];

  beforeAll(async () => {
    t = await startTestServer(kind, { encryptionKey: randomBytes(32) });
    owner = await t.fastUser("owner");
    const org = await t.org(owner, "acme");
    admin = await t.fastUser("admin");
    await t.member(owner, "acme", admin, "admin");
    const created = await t.call("POST", "/v1/orgs/acme/source-hosts", {
      as: owner,
      body: { type: "libvirt", name: "kvm-1", hostname: "10.0.0.5", ssh_user: "ops", ssh_private_key: privateKey },
    });
    sourceHostId = created.body.id;
    daemon = await TestDaemon.connect(t.grpcUrl, {
      token: (await t.hostToken(owner, "acme")).token,
      handlers: {
        prepareSourceVm: (m) => {
          const cmd = m.payload.case === "prepareSourceVm" ? m.payload.value : undefined;
          return {
            case: "sourceVmPrepared",
            value: { sourceVm: cmd?.sourceVm, prepared: true, applyAccessInstalled: cmd?.enableApply },
          };
        },
        applyPlaybook: () => ({
          case: "playbookRun",
          value: {
            exitCode: 0,
            recap: { ok: 2, changed: 1 },
            log: "PLAY RECAP",
          },
        }),
      },
    });
    relay = new SourceRelay(t.server.ctx);
    scope = {
      orgId: org.id,
      slug: "acme",
      name: "acme",
      ownerId: owner.id,
      role: "owner",
      principal: { kind: "user", userId: owner.id, sessionId: "test" },
    };
  });

  afterAll(async () => {
    daemon.abort();
    await t.close();
  });

  it("a new source host is read-only: apply_enabled is false on its JSON", async () => {
    const res = await t.call("GET", base(), { as: admin });
    expect(res.body.apply_enabled).toBe(false);
  });

  it("only an owner turns apply on or off (audited); an admin gets 403 and nothing changes", async () => {
    const denied = await setApply(admin, true);
    expect(denied.status).toBe(403);
    expect(denied.body.error.code).toBe("forbidden");
    expect((await t.call("GET", base(), { as: owner })).body.apply_enabled).toBe(false);
    const on = await setApply(owner, true);
    expect(on.status).toBe(200);
    expect(on.body.apply_enabled).toBe(true);
    const off = await setApply(owner, false);
    expect(off.body.apply_enabled).toBe(false);
    expect((await t.call("GET", base(), { as: admin })).body.apply_enabled).toBe(false);
    expect((await t.call("PUT", `${base()}/apply`, { as: owner, body: { enabled: "yes" } })).status).toBe(400);
    const audit = await t.call("GET", "/v1/orgs/acme/audit", { as: owner, query: { action: "source_host" } });
    expect(
      audit.body.events.map((e: { action: string; actor_user_id: string }) => [e.action, e.actor_user_id]),
    ).toEqual([
      ["source_host.apply_disabled", owner.id],
      ["source_host.apply_enabled", owner.id],
      ["source_host.created", owner.id],
    ]);
  });

  it("preparing with apply is refused (403, audited) while the host does not enable it, and no host is asked", async () => {
    const before = sent("prepareSourceVm").length;
    const res = await t.call("POST", `${base()}/vms/web-1/prepare`, { as: owner, body: { apply: true } });
    expect(res.status).toBe(403);
    expect(res.body.error).toEqual({
      code: "forbidden",
      message: expect.stringContaining("applying changes is not enabled for source host kvm-1"),
    });
    expect(sent("prepareSourceVm")).toHaveLength(before);
    expect(await lastAudit()).toMatchObject({
      kind: "prepare",
      outcome: "refused",
      command: "prepare as root with apply",
    });
  });

  it("applying is refused by the server while the host does not enable it, and audited", async () => {
    await expect(apply(false)).rejects.toMatchObject({ code: "forbidden" });
    expect(sent("applyPlaybook")).toHaveLength(0);
    expect(await lastAudit()).toMatchObject({ kind: "apply", outcome: "refused", command: "change request 1" });
  });

  it("enabled, a VM prepared with apply is applied through the host that prepared it; the command says apply is enabled", async () => {
    await setApply(owner, true);
    const prepared = await t.call("POST", `${base()}/vms/web-1/prepare`, { as: admin, body: { apply: true } });
    expect(prepared.status, JSON.stringify(prepared.body)).toBe(200);
    expect(prepared.body.steps.apply_access_installed).toBe(true);
    const prepare = sent("prepareSourceVm").at(-1);
    expect(prepare?.payload.case === "prepareSourceVm" && prepare.payload.value.enableApply).toBe(true);

    const run = await apply(true);
    expect(run).toMatchObject({ exitCode: 0, recap: { changed: 1 } });
    const command = sent("applyPlaybook").at(-1);
    const value = command?.payload.case === "applyPlaybook" ? command.payload.value : undefined;
    expect(value).toMatchObject({
      sourceVm: "web-1",
      playbookYaml: playbook,
      check: true,
      timeoutSeconds: 120,
      actor: `user:${owner.id}`,
      sourceHostConnection: { applyEnabled: true, sourceHostId },
    });
    expect(await lastAudit()).toMatchObject({ kind: "apply", outcome: "ok", command: "check change request 1" });
  });

  it("preparing again without apply asks the host to remove the apply access", async () => {
    const res = await t.call("POST", `${base()}/vms/web-1/prepare`, { as: admin, body: {} });
    expect(res.body.steps.apply_access_installed).toBe(false);
    const prepare = sent("prepareSourceVm").at(-1);
    expect(prepare?.payload.case === "prepareSourceVm" && prepare.payload.value.enableApply).toBe(false);
  });

  it("turning apply off refuses the next apply at once, and read-only commands carry apply_enabled false", async () => {
    await setApply(owner, false);
    const before = sent("applyPlaybook").length;
    await expect(apply(false)).rejects.toMatchObject({ code: "forbidden" });
    expect(sent("applyPlaybook")).toHaveLength(before);
    await t.call("POST", `${base()}/vms/web-1/run`, { as: owner, body: { command: "id" } });
    const run = sent("runSourceCommand").at(-1);
    expect(run?.payload.case === "runSourceCommand" && run.payload.value.sourceHostConnection?.applyEnabled).toBe(
      false,
    );
  });
});
