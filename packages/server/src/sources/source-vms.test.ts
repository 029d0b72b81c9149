import { randomBytes } from "node:crypto";
import type { ControlMessage } from "@fluid/proto";
import {
  type Caller,
  databaseKinds,
  defaultHandlers,
  startTestServer,
  TestDaemon,
  type TestDaemonOptions,
  type TestServer,
} from "@fluid/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const privateKey = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n";

describe.each(databaseKinds)("source VMs through a sandbox host (%s)", (kind) => {
  let t: TestServer;
  let owner: Caller;
  let member: Caller & { id: string };
  let viewer: Caller;
  let daemon: TestDaemon;
  let sourceHostId: string;
  const base = () => `/v1/orgs/acme/source-hosts/${sourceHostId}`;
  const sent = (kind: ControlMessage["payload"]["case"]) => daemon.received.filter((m) => m.payload.case === kind);

  beforeAll(async () => {
    t = await startTestServer(kind, { encryptionKey: randomBytes(32) });
    owner = await t.fastUser("owner");
    await t.org(owner, "acme");
    const addMember = async (role: string) => {
      const user = await t.fastUser(role);
      await t.member(owner, "acme", user, role);
      return user;
    };
    member = await addMember("member");
    viewer = await addMember("viewer");
    const created = await t.call("POST", "/v1/orgs/acme/source-hosts", {
      as: owner,
      body: { type: "libvirt", name: "kvm-1", hostname: "10.0.0.5", ssh_user: "ops", ssh_private_key: privateKey },
    });
    sourceHostId = created.body.id;
    // The test host's default replies: one VM, web-1; `rm` refused; files echoed base64-encoded.
    daemon = await TestDaemon.connect(t.grpcUrl, { token: (await t.hostToken(owner, "acme")).token });
  });

  afterAll(async () => {
    daemon.abort();
    await t.close();
  });

  it("discovers VMs through the host, handing it the decrypted key for that command only", async () => {
    const res = await t.call("GET", `${base()}/vms`, { as: viewer });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      vms: [{ name: "web-1", state: "running", ip_address: "192.0.2.10", prepared: false, cached_captured_at: null }],
      count: 1,
    });
    const command = sent("listSourceVms").at(-1);
    const connection = command?.payload.case === "listSourceVms" ? command.payload.value.sourceHostConnection : null;
    expect(connection).toMatchObject({
      type: "libvirt",
      sshHost: "10.0.0.5",
      sshPort: 22,
      sshUser: "ops",
      sshPrivateKey: privateKey,
      sourceHostId,
    });
    expect(t.logs.join("")).not.toContain("OPENSSH");
  });

  it("runs an allowed command and records it in the audit trail", async () => {
    const res = await t.call("POST", `${base()}/vms/web-1/run`, { as: member, body: { command: "uptime" } });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ source_vm: "web-1", exit_code: 0, stdout: "ran uptime\n", stderr: "" });
    const audit = await t.call("GET", "/v1/orgs/acme/source-commands?vm=web-1", { as: viewer });
    expect(audit.body.source_commands[0]).toMatchObject({
      kind: "run",
      command: "uptime",
      outcome: "ok",
      exit_code: 0,
      vm: "web-1",
      source_host_name: "kvm-1",
      actor_user_id: member.id,
    });
  });

  it("a command the host refuses answers 403 command_refused and is audited as refused", async () => {
    const res = await t.call("POST", `${base()}/vms/web-1/run`, { as: member, body: { command: "rm -rf /" } });
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe("command_refused");
    expect(res.body.error.message).toContain("rm is not on the read-only allowlist");
    const audit = await t.call("GET", "/v1/orgs/acme/source-commands", { as: owner });
    expect(audit.body.source_commands[0]).toMatchObject({ command: "rm -rf /", outcome: "refused" });
  });

  it("typed inspections run the command line their arguments build, audited like any command", async () => {
    const res = await t.call("POST", `${base()}/vms/web-1/inspect`, {
      as: member,
      body: { kind: "journal", unit: "nginx.service", lines: 20 },
    });
    expect(res.status).toBe(200);
    const command = "journalctl --no-pager -n 20 -u 'nginx.service'";
    expect(res.body).toEqual({
      source_vm: "web-1",
      kind: "journal",
      command,
      exit_code: 0,
      stdout: `ran ${command}\n`,
      stderr: "",
    });
    const sentCommand = sent("runSourceCommand").at(-1);
    expect(sentCommand?.payload.case === "runSourceCommand" && sentCommand.payload.value.command).toBe(command);
    // Who asked travels with the command, for the login certificate's key id.
    expect(sentCommand?.payload.case === "runSourceCommand" && sentCommand.payload.value.actor).toMatch(
      new RegExp(`^user:${member.id}(/key:[0-9a-f-]+)?$`),
    );
    const audit = await t.call("GET", "/v1/orgs/acme/source-commands?vm=web-1", { as: viewer });
    expect(audit.body.source_commands[0]).toMatchObject({ kind: "run", command, outcome: "ok" });

    const before = daemon.received.length;
    const bad = await t.call("POST", `${base()}/vms/web-1/inspect`, {
      as: member,
      body: { kind: "stat", path: "relative/path" },
    });
    expect(bad.status).toBe(400);
    expect(
      (await t.call("POST", `${base()}/vms/web-1/inspect`, { as: viewer, body: { kind: "processes" } })).status,
    ).toBe(403);
    expect(daemon.received.length).toBe(before);
  });

  it("reads text files as text and binary files as base64", async () => {
    const text = await t.call("GET", `${base()}/vms/web-1/file?path=/etc/os-release`, { as: member });
    expect(text.body).toEqual({
      source_vm: "web-1",
      path: "/etc/os-release",
      encoding: "utf-8",
      content: "ID=debian\n",
    });
    const binary = await t.call("GET", `${base()}/vms/web-1/file?path=/bin/true`, { as: member });
    expect(binary.body).toMatchObject({
      encoding: "base64",
      content: Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 1]).toString("base64"),
    });
  });

  it("validates VM names and paths before anything reaches a host", async () => {
    const before = daemon.received.length;
    const badVm = await t.call("POST", `${base()}/vms/-rf/run`, { as: member, body: { command: "uptime" } });
    expect(badVm.status).toBe(400);
    const relative = await t.call("GET", `${base()}/vms/web-1/file?path=etc/passwd`, { as: member });
    expect(relative.status).toBe(400);
    const extra = await t.call("POST", `${base()}/vms/web-1/run`, { as: member, body: { command: "id", sudo: true } });
    expect(extra.status).toBe(400);
    expect(daemon.received.length).toBe(before);
  });

  it("roles: viewers may list but not run; only admins prepare", async () => {
    expect((await t.call("POST", `${base()}/vms/web-1/run`, { as: viewer, body: { command: "id" } })).status).toBe(403);
    expect((await t.call("POST", `${base()}/vms/web-1/prepare`, { as: member, body: {} })).status).toBe(403);
    const prepared = await t.call("POST", `${base()}/vms/web-1/prepare`, { as: owner, body: { ssh_user: "admin" } });
    expect(prepared.status).toBe(200);
    expect(prepared.body).toMatchObject({ source_vm: "web-1", prepared: true, steps: { sshd_restarted: true } });
    const command = sent("prepareSourceVm").at(-1);
    expect(command?.payload.case === "prepareSourceVm" && command.payload.value.sshUser).toBe("admin");
  });

  it("a sandbox from a source VM is placed on a host without that image, which gets the credentials to pull it", async () => {
    const res = await t.call("POST", "/v1/orgs/acme/sandboxes", {
      as: member,
      body: { source_vm: "web-1", source_host_id: sourceHostId, fresh: true },
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ source_vm: "web-1", state: "RUNNING" });
    const command = sent("createSandbox").at(-1);
    const value = command?.payload.case === "createSandbox" ? command.payload.value : undefined;
    expect(value).toMatchObject({ sourceVm: "web-1", snapshotMode: 1 });
    expect(value?.sourceHostConnection).toMatchObject({ sshHost: "10.0.0.5", sshPrivateKey: privateKey, sourceHostId });
    const stored = await t.server.ctx.db
      .selectFrom("sandboxes")
      .selectAll()
      .where("id", "=", res.body.id)
      .executeTakeFirst();
    expect(JSON.stringify(stored)).not.toContain("OPENSSH");
  });

  it("while the host pulls, the creating sandbox shows the host's progress; once running it shows none", async () => {
    daemon.handlers.createSandbox = () => "hold";
    const res = await t.call("POST", "/v1/orgs/acme/sandboxes?wait=false", {
      as: member,
      body: { source_vm: "web-1", source_host_id: sourceHostId },
    });
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ state: "CREATING", source_host_id: sourceHostId, progress: null });
    const command = await daemon.waitFor(
      (m) => m.payload.case === "createSandbox" && m.payload.value.sandboxId === res.body.id,
    );
    daemon.send({
      requestId: command.requestId,
      payload: {
        case: "sandboxProgress",
        value: { sandboxId: res.body.id, phase: "copy", bytesDone: 5n << 20n, bytesTotal: 20n << 20n },
      },
    });
    const url = `/v1/orgs/acme/sandboxes/${res.body.id}`;
    let seen = (await t.call("GET", url, { as: member })).body;
    for (let i = 0; i < 100 && seen.progress === null; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      seen = (await t.call("GET", url, { as: member })).body;
    }
    expect(seen).toMatchObject({
      state: "CREATING",
      progress: { phase: "copy", bytes_done: 5 << 20, bytes_total: 20 << 20 },
    });
    daemon.reply(command.requestId, {
      case: "sandboxCreated",
      value: {
        sandboxId: res.body.id,
        state: "RUNNING",
        ipAddress: "10.0.0.42",
        pid: 7,
        sourceCapturedAt: "2026-11-29T01:02:03.000Z",
      },
    });
    for (let i = 0; i < 100 && seen.state === "CREATING"; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      seen = (await t.call("GET", url, { as: member })).body;
    }
    // How stale the clone is: when the host's copy of the VM's disk was captured.
    expect(seen).toMatchObject({
      state: "RUNNING",
      source_host_id: sourceHostId,
      progress: null,
      source_captured_at: "2026-11-29T01:02:03.000Z",
    });
    daemon.handlers.createSandbox = defaultHandlers.createSandbox;
  });

  it("fresh without source_host_id is refused, and another org's source host is 404 for sandbox creation", async () => {
    const fresh = await t.call("POST", "/v1/orgs/acme/sandboxes", {
      as: member,
      body: { source_vm: "tiny", fresh: true },
    });
    expect(fresh.status).toBe(400);
    const other = await t.fastUser("creator");
    await t.org(other, "creator-org");
    const res = await t.call("POST", "/v1/orgs/creator-org/sandboxes", {
      as: other,
      body: { source_vm: "web-1", source_host_id: sourceHostId },
    });
    expect(res.status).toBe(404);
  });

  it("source-host-idor: another org's source host answers 404 and reaches no host", async () => {
    const other = await t.fastUser("other");
    await t.org(other, "other-org");
    const before = daemon.received.length;
    const res = await t.call("POST", `/v1/orgs/other-org/source-hosts/${sourceHostId}/vms/web-1/run`, {
      as: other,
      body: { command: "id" },
    });
    expect(res.status).toBe(404);
    expect(daemon.received.length).toBe(before);
  });

  it("proxmox hosts answer 501 not_implemented instead of pretending", async () => {
    const proxmox = await t.call("POST", "/v1/orgs/acme/source-hosts", {
      as: owner,
      body: {
        type: "proxmox",
        name: "pve-1",
        hostname: "pve.example.com",
        proxmox_token_id: "root@pam!fluid",
        proxmox_secret: "s3cret",
        proxmox_node: "pve",
      },
    });
    const res = await t.call("GET", `/v1/orgs/acme/source-hosts/${proxmox.body.id}/vms`, { as: owner });
    expect(res.status).toBe(501);
    expect(res.body.error.message).toContain("not supported yet");
  });
});

describe("source VMs without a connected host", () => {
  it("answer 503 with what to do, and the attempt is audited", async () => {
    const t = await startTestServer("pglite", { encryptionKey: randomBytes(32) });
    try {
      const owner = await t.fastUser("owner");
      await t.org(owner, "acme");
      const created = await t.call("POST", "/v1/orgs/acme/source-hosts", {
        as: owner,
        body: { type: "libvirt", name: "kvm-1", hostname: "10.0.0.5" },
      });
      const res = await t.call("GET", `/v1/orgs/acme/source-hosts/${created.body.id}/vms`, { as: owner });
      expect(res.status).toBe(503);
      expect(res.body.error.message).toContain("no sandbox host of this organization is connected");
      const audit = await t.call("GET", "/v1/orgs/acme/source-commands", { as: owner });
      expect(audit.body.source_commands[0]).toMatchObject({ kind: "list", outcome: "failed" });
    } finally {
      await t.close();
    }
  });
});

/**
 * An org with one source host (kvm-1) and two connected sandbox hosts, for `fn`; torn down after.
 * `handlers` apply to both hosts.
 */
async function withTwoHosts(
  fn: (f: { t: TestServer; owner: Caller; base: string; daemons: TestDaemon[] }) => Promise<void>,
  handlers: TestDaemonOptions["handlers"] = {},
): Promise<void> {
  const t = await startTestServer("pglite", { encryptionKey: randomBytes(32) });
  const daemons: TestDaemon[] = [];
  try {
    const owner = await t.fastUser("owner");
    await t.org(owner, "acme");
    const created = await t.call("POST", "/v1/orgs/acme/source-hosts", {
      as: owner,
      body: { type: "libvirt", name: "kvm-1", hostname: "10.0.0.5", ssh_private_key: privateKey },
    });
    for (let i = 0; i < 2; i++) {
      daemons.push(await TestDaemon.connect(t.grpcUrl, { token: (await t.hostToken(owner, "acme")).token, handlers }));
    }
    await fn({ t, owner, base: `/v1/orgs/acme/source-hosts/${created.body.id}`, daemons });
  } finally {
    for (const d of daemons) d.abort();
    await t.close();
  }
}

describe("source VMs with several sandbox hosts", () => {
  it("a prepared VM is listed as prepared and reached through the host that prepared it, or not at all", () =>
    withTwoHosts(async ({ t, owner, base, daemons }) => {
      const got = (kind: ControlMessage["payload"]["case"]) =>
        daemons.map((d) => d.received.filter((m) => m.payload.case === kind).length);

      expect((await t.call("POST", `${base}/vms/web-1/prepare`, { as: owner, body: {} })).status).toBe(200);
      const preparer = got("prepareSourceVm").indexOf(1);
      const other = 1 - preparer;
      expect((await t.call("GET", `${base}/vms`, { as: owner })).body.vms).toEqual([
        expect.objectContaining({ name: "web-1", prepared: true }),
      ]);
      for (let i = 0; i < 3; i++) {
        expect((await t.call("POST", `${base}/vms/web-1/run`, { as: owner, body: { command: "id" } })).status).toBe(
          200,
        );
      }
      expect(got("runSourceCommand")[preparer]).toBe(3);

      // Without the preparing host, the VM (which trusts only that host's CA) is not tried elsewhere.
      daemons[preparer]?.abort();
      const gone = daemons[preparer]?.ack?.assignedHostId ?? "";
      for (let i = 0; i < 100 && t.server.ctx.hosts.local.get(gone); i++) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const refused = await t.call("POST", `${base}/vms/web-1/run`, { as: owner, body: { command: "id" } });
      expect(refused.status).toBe(503);
      expect(refused.body.error.message).toContain("prepare the VM again through another");
      expect(got("runSourceCommand")[other]).toBe(0);

      expect((await t.call("POST", `${base}/vms/web-1/prepare`, { as: owner, body: {} })).status).toBe(200);
      expect((await t.call("POST", `${base}/vms/web-1/run`, { as: owner, body: { command: "id" } })).status).toBe(200);
      expect(got("runSourceCommand")[other]).toBe(1);
    }));

  it("a listing goes on to the next connected host when one fails as a host, and the attempt is recorded", () =>
    withTwoHosts(
      async ({ t, owner, base, daemons }) => {
        const order = await t.server.ctx.hosts.inOrg(
          t.server.ctx.hosts.local.get(daemons[0]?.ack?.assignedHostId ?? "")?.orgId ?? "",
        );
        const second = daemons.find((d) => d.ack?.assignedHostId === order[1]?.hostId);
        if (!second) throw new Error("no second host");
        second.handlers.listSourceVms = defaultHandlers.listSourceVms;

        const res = await t.call("GET", `${base}/vms`, { as: owner });
        expect(res.status, JSON.stringify(res.body)).toBe(200);
        expect(res.body.vms).toEqual([expect.objectContaining({ name: "web-1" })]);
        const audit = await t.call("GET", "/v1/orgs/acme/source-commands", { as: owner });
        expect(audit.body.source_commands[0]).toMatchObject({
          kind: "list",
          outcome: "ok",
          host_id: second.ack?.assignedHostId,
          detail: expect.stringContaining("does not reach source hosts"),
        });
      },
      // Both hosts answer "unavailable" until told otherwise; only the one tried second is fixed.
      { listSourceVms: () => ({ error: "this sandbox host does not reach source hosts", code: "unavailable" }) },
    ));
});
