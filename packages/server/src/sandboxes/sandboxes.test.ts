import { type Caller, databaseKinds, startTestServer, TestDaemon, type TestServer, testDiff } from "@fluid/testkit";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

const until = async (check: () => Promise<boolean> | boolean, timeoutMs = 5_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe.each(databaseKinds)("sandboxes over the host stream (%s)", (kind) => {
  let t: TestServer;
  let owner: Caller;
  let daemon: TestDaemon;
  let hostId: string;
  const daemons: TestDaemon[] = [];

  const connectHost = async (
    slug: string,
    caller: Caller,
    options: Partial<Parameters<typeof TestDaemon.connect>[1]> = {},
  ) => {
    const token = await t.hostToken(caller, slug);
    const d = await TestDaemon.connect(t.grpcUrl, { token: token.token, ...options });
    daemons.push(d);
    return { daemon: d, hostId: token.id };
  };

  const createSandbox = (body: Record<string, unknown> = {}, as: Caller = owner, query?: Record<string, string>) =>
    t.call("POST", "/v1/orgs/acme/sandboxes", {
      as,
      body: { source_vm: "debian-12", ...body },
      ...(query ? { query } : {}),
    });

  beforeEach(async () => {
    t = await startTestServer(kind, { deadlines: { createMs: 3_000, destroyMs: 3_000, commandGraceMs: 1_000 } });
    owner = await t.user("owner@example.com");
    await t.org(owner, "acme");
    ({ daemon, hostId } = await connectHost("acme", owner));
  });

  afterEach(async () => {
    for (const d of daemons.splice(0)) d.abort();
    await t.close();
  });

  describe("create", () => {
    it("creates a RUNNING sandbox on the host with a lease", async () => {
      const before = Date.now();
      const res = await createSandbox({ name: "web-1", vcpus: 2, memory_mb: 1024, ttl_seconds: 600 });
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({
        name: "web-1",
        state: "RUNNING",
        host_id: hostId,
        vcpus: 2,
        memory_mb: 1024,
        source_vm: "debian-12",
        end_reason: null,
      });
      expect(res.body.ip_address).toMatch(/^10\.0\.0\./);
      const expires = Date.parse(res.body.expires_at);
      expect(expires).toBeGreaterThanOrEqual(before + 600_000 - 1000);
      expect(expires).toBeLessThanOrEqual(Date.now() + 600_000);
      const command = daemon.commands("createSandbox")[0];
      expect(command?.payload.case === "createSandbox" && command.payload.value).toMatchObject({
        sandboxId: res.body.id,
        baseImage: "debian-12",
        vcpus: 2,
        memoryMb: 1024,
        allowEgress: false,
      });
    });

    it("create-sandbox-not-blocking-api-5min: wait=false answers 202 CREATING at once and finishes in the background", async () => {
      daemon.handlers.createSandbox = () => "hold";
      const res = await createSandbox({}, owner, { wait: "false" });
      expect(res.status).toBe(202);
      expect(res.body.state).toBe("CREATING");
      const command = await daemon.waitFor((m) => m.payload.case === "createSandbox");
      daemon.reply(command.requestId, {
        case: "sandboxCreated",
        value: { sandboxId: res.body.id, state: "RUNNING", ipAddress: "10.1.1.1" },
      });
      await until(
        async () =>
          (await t.call("GET", `/v1/orgs/acme/sandboxes/${res.body.id}`, { as: owner })).body.state === "RUNNING",
      );
    });

    it("records create_failed with the host's reason when the host refuses", async () => {
      daemon.handlers.createSandbox = () => ({ error: "base image is corrupt", code: "host_error" });
      const res = await createSandbox();
      expect(res.status).toBe(502);
      expect(res.body.error).toEqual({
        code: "host_error",
        message: "create sandbox failed on the host: base image is corrupt",
      });
      const list = await t.call("GET", "/v1/orgs/acme/sandboxes", { as: owner, query: { include_ended: "true" } });
      expect(list.body.sandboxes[0]).toMatchObject({
        state: "ERROR",
        end_reason: "create_failed",
        error: expect.stringContaining("corrupt"),
      });
    });

    it("fails with a clear timeout when the host never answers, and ends the record", async () => {
      daemon.handlers.createSandbox = () => "hold";
      const res = await createSandbox();
      expect(res.status).toBe(504);
      expect(res.body.error.code).toBe("timeout");
      expect(res.body.error.message).toMatch(/did not answer createSandbox within 3s/);
    });

    it("placement-errors-distinguish-causes: missing image and missing capacity are told apart", async () => {
      const missing = await createSandbox({ source_vm: "no-such-image" });
      expect(missing.status).toBe(503);
      expect(missing.body.error).toEqual({
        code: "no_capacity",
        message: 'no connected host has the image or source VM "no-such-image"',
      });
      const huge = await createSandbox({ memory_mb: 65_536 });
      expect(huge.status).toBe(503);
      expect(huge.body.error.message).toMatch(/no host has 65536 MB of memory free/);
    });

    it("answers no_capacity when no host of the org is connected", async () => {
      daemon.abort();
      await until(async () => !(await t.server.ctx.hosts.isConnected(hostId)));
      const res = await createSandbox();
      expect(res.status).toBe(503);
      expect(res.body.error.message).toBe("no sandbox host of this organization is connected");
    });

    it("concurrent creates on one host never overcommit its memory", async () => {
      const { daemon: small } = await connectHost("acme", owner, {
        registration: { baseImages: ["small-only"], totalMemoryMb: 2048n, availableMemoryMb: 2048n },
      });
      const results = await Promise.all(
        Array.from({ length: 10 }, () => createSandbox({ source_vm: "small-only", memory_mb: 512 })),
      );
      expect(results.filter((r) => r.status === 201)).toHaveLength(4);
      expect(results.filter((r) => r.status === 503)).toHaveLength(6);
      expect(small.commands("createSandbox")).toHaveLength(4);
      const committed = await t.server.ctx.db
        .selectFrom("sandboxes")
        .select((eb) => eb.fn.sum<string>("memory_mb").as("mb"))
        .where("source_vm", "=", "small-only")
        .where("ended_at", "is", null)
        .executeTakeFirstOrThrow();
      expect(Number(committed.mb)).toBe(2048);
    });

    it("placement-scoped-to-org: another org's roomier host is never used", async () => {
      const other = await t.user("other@example.com");
      await t.org(other, "globex");
      const token = await t.hostToken(other, "globex");
      const big = await TestDaemon.connect(t.grpcUrl, {
        token: token.token,
        registration: {
          baseImages: ["debian-12"],
          totalMemoryMb: 1_000_000n,
          availableMemoryMb: 1_000_000n,
          totalCpus: 64,
        },
      });
      daemons.push(big);
      for (let i = 0; i < 3; i++) expect((await createSandbox()).body.host_id).toBe(hostId);
      expect(big.commands("createSandbox")).toHaveLength(0);
    });

    it("placement-spreads-load: sandboxes alternate across equivalent hosts", async () => {
      const { hostId: second } = await connectHost("acme", owner);
      const hosts = [];
      for (let i = 0; i < 4; i++) hosts.push((await createSandbox({ memory_mb: 1024 })).body.host_id);
      expect(new Set(hosts)).toEqual(new Set([hostId, second]));
      expect(hosts.filter((h) => h === hostId)).toHaveLength(2);
    });

    it("rejects unknown fields and out-of-range values without touching the host", async () => {
      expect((await createSandbox({ colour: "blue" })).status).toBe(400);
      expect((await createSandbox({ vcpus: 0 })).status).toBe(400);
      expect((await createSandbox({ source_vm: "../etc/passwd" })).status).toBe(400);
      expect((await createSandbox({ ttl_seconds: 30 * 86_400 })).status).toBe(400);
      expect(daemon.commands("createSandbox")).toHaveLength(0);
    });

    it("a viewer cannot create sandboxes", async () => {
      const viewer = await t.user("viewer@example.com");
      await t.member(owner, "acme", viewer, "viewer");
      expect((await createSandbox({}, viewer)).status).toBe(403);
    });
  });

  describe("lifecycle", () => {
    let id: string;
    beforeEach(async () => {
      id = (await createSandbox()).body.id;
    });

    it("run-command-audit-record-persisted: runs a command and keeps it in the audit trail (env names, not values)", async () => {
      const res = await t.call("POST", `/v1/orgs/acme/sandboxes/${id}/run`, {
        as: owner,
        body: { command: "uname -a", timeout_seconds: 20, env: { API_TOKEN: "s3cret" } },
      });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({
        command: "uname -a",
        stdout: "ran: uname -a\n",
        exit_code: 0,
        duration_ms: 7,
        status: "completed",
        env_names: ["API_TOKEN"],
      });
      const sent = daemon.commands("runCommand")[0];
      expect(sent?.payload.case === "runCommand" && sent.payload.value).toMatchObject({
        timeoutSeconds: 20,
        env: { API_TOKEN: "s3cret" },
      });
      const history = await t.call("GET", `/v1/orgs/acme/sandboxes/${id}/commands`, { as: owner });
      expect(history.body.commands).toHaveLength(1);
      expect(JSON.stringify(history.body)).not.toContain("s3cret");
    });

    it("run-command-length-limited and run-command-timeout-capped: oversize input is refused before the host sees it", async () => {
      const tooLong = await t.call("POST", `/v1/orgs/acme/sandboxes/${id}/run`, {
        as: owner,
        body: { command: "x".repeat(65_537) },
      });
      expect(tooLong.status).toBe(400);
      const tooSlow = await t.call("POST", `/v1/orgs/acme/sandboxes/${id}/run`, {
        as: owner,
        body: { command: "true", timeout_seconds: 3601 },
      });
      expect(tooSlow.status).toBe(400);
      const badEnv = await t.call("POST", `/v1/orgs/acme/sandboxes/${id}/run`, {
        as: owner,
        body: { command: "true", env: { "A-B": "x" } },
      });
      expect(badEnv.status).toBe(400);
      expect(daemon.commands("runCommand")).toHaveLength(0);
    });

    it("records a failed command when the host does not answer in time", async () => {
      daemon.handlers.runCommand = () => "hold";
      const res = await t.call("POST", `/v1/orgs/acme/sandboxes/${id}/run`, {
        as: owner,
        body: { command: "sleep 100", timeout_seconds: 1 },
      });
      expect(res.status).toBe(504);
      const history = await t.call("GET", `/v1/orgs/acme/sandboxes/${id}/commands`, { as: owner });
      expect(history.body.commands[0]).toMatchObject({
        status: "failed",
        error: expect.stringMatching(/did not answer/),
      });
    });

    it("start-stop-validate-current-state: stop then start, and invalid transitions are refused without a host call", async () => {
      expect((await t.call("POST", `/v1/orgs/acme/sandboxes/${id}/start`, { as: owner })).status).toBe(409);
      expect(daemon.commands("startSandbox")).toHaveLength(0);
      const stopped = await t.call("POST", `/v1/orgs/acme/sandboxes/${id}/stop`, { as: owner, body: { force: true } });
      expect(stopped.body.state).toBe("STOPPED");
      const sent = daemon.commands("stopSandbox")[0];
      expect(sent?.payload.case === "stopSandbox" && sent.payload.value.force).toBe(true);
      expect((await t.call("POST", `/v1/orgs/acme/sandboxes/${id}/stop`, { as: owner })).status).toBe(409);
      const run = await t.call("POST", `/v1/orgs/acme/sandboxes/${id}/run`, { as: owner, body: { command: "true" } });
      expect(run.status).toBe(409);
      const started = await t.call("POST", `/v1/orgs/acme/sandboxes/${id}/start`, { as: owner });
      expect(started.body).toMatchObject({ state: "RUNNING", ip_address: "10.0.0.99" });
    });

    it("destroys with end_reason user_request and keeps the record readable", async () => {
      const res = await t.call("DELETE", `/v1/orgs/acme/sandboxes/${id}`, { as: owner });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ state: "DESTROYED", end_reason: "user_request" });
      expect(res.body.ended_at).toBeTruthy();
      expect(daemon.commands("destroySandbox")).toHaveLength(1);
      const again = await t.call("DELETE", `/v1/orgs/acme/sandboxes/${id}`, { as: owner });
      expect(again.body.end_reason).toBe("user_request");
      expect(daemon.commands("destroySandbox")).toHaveLength(1);
      const list = await t.call("GET", "/v1/orgs/acme/sandboxes", { as: owner });
      expect(list.body.sandboxes).toHaveLength(0);
    });

    it("destroy-sandbox-offline-host-handled: destroying while the host is away still ends the sandbox", async () => {
      daemon.abort();
      await until(async () => !(await t.server.ctx.hosts.isConnected(hostId)));
      const res = await t.call("DELETE", `/v1/orgs/acme/sandboxes/${id}`, { as: owner });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ state: "DESTROYED", end_reason: "user_request" });
    });

    it("a host error on destroy keeps the sandbox and reports the failure", async () => {
      daemon.handlers.destroySandbox = () => ({ error: "device busy", code: "host_error" });
      const res = await t.call("DELETE", `/v1/orgs/acme/sandboxes/${id}`, { as: owner });
      expect(res.status).toBe(502);
      expect((await t.call("GET", `/v1/orgs/acme/sandboxes/${id}`, { as: owner })).body.state).toBe("RUNNING");
    });

    it("sandbox-mutations-require-role: members change only their own sandboxes; admins any; viewers none", async () => {
      const member = await t.user("member@example.com");
      const admin = await t.user("admin@example.com");
      const viewer = await t.user("viewer@example.com");
      for (const [user, role] of [
        [member, "member"],
        [admin, "admin"],
        [viewer, "viewer"],
      ] as const) {
        await t.member(owner, "acme", user, role);
      }
      expect(
        (await t.call("POST", `/v1/orgs/acme/sandboxes/${id}/run`, { as: member, body: { command: "id" } })).status,
      ).toBe(403);
      expect((await t.call("DELETE", `/v1/orgs/acme/sandboxes/${id}`, { as: member })).status).toBe(403);
      expect((await t.call("DELETE", `/v1/orgs/acme/sandboxes/${id}`, { as: viewer })).status).toBe(403);
      expect((await t.call("GET", `/v1/orgs/acme/sandboxes/${id}`, { as: viewer })).status).toBe(200);
      const own = await createSandbox({}, member);
      expect((await t.call("DELETE", `/v1/orgs/acme/sandboxes/${own.body.id}`, { as: member })).status).toBe(200);
      expect((await t.call("DELETE", `/v1/orgs/acme/sandboxes/${id}`, { as: admin })).status).toBe(200);
    });

    describe("contents (files, command output) are as sensitive as the source VM", () => {
      const joined = async (role: string) => {
        const user = await t.fastUser(role);
        await t.member(owner, "acme", user, role);
        return user;
      };
      const readFile = (sandboxId: string, as: Caller) =>
        t.call("GET", `/v1/orgs/acme/sandboxes/${sandboxId}/files`, { as, query: { path: "/etc/shadow" } });
      const listDir = (sandboxId: string, as: Caller) =>
        t.call("GET", `/v1/orgs/acme/sandboxes/${sandboxId}/files/list`, { as, query: { path: "/root" } });

      it("viewers-read-sandbox-files: a viewer cannot read files or list directories, and the host is never asked", async () => {
        const viewer = await joined("viewer");
        for (const res of [await readFile(id, viewer), await listDir(id, viewer)]) {
          expect(res.status).toBe(403);
          expect(res.body.error.code).toBe("forbidden");
        }
        expect(daemon.commands("readFile")).toHaveLength(0);
        expect(daemon.commands("listFiles")).toHaveLength(0);
      });

      it("members-read-others-sandbox-files: a member cannot read another member's sandbox; its creator and admins can", async () => {
        const creator = await joined("member");
        const other = await joined("member");
        const admin = await joined("admin");
        const theirs = (await createSandbox({}, creator)).body.id as string;
        for (const res of [await readFile(theirs, other), await listDir(theirs, other)]) {
          expect(res.status).toBe(403);
          expect(res.body.error).toEqual({
            code: "forbidden",
            message: "only admins can read sandboxes created by someone else",
          });
        }
        expect(daemon.commands("readFile")).toHaveLength(0);
        expect(daemon.commands("listFiles")).toHaveLength(0);
        for (const reader of [creator, admin, owner]) {
          expect((await readFile(theirs, reader)).status).toBe(200);
          expect((await listDir(theirs, reader)).status).toBe(200);
        }
      });

      it("viewers-read-command-output: the trail shows viewers and other members what ran, not what it printed", async () => {
        const creator = await joined("member");
        const other = await joined("member");
        const viewer = await joined("viewer");
        const admin = await joined("admin");
        const theirs = (await createSandbox({}, creator)).body.id as string;
        const ran = await t.call("POST", `/v1/orgs/acme/sandboxes/${theirs}/run`, {
          as: creator,
          body: { command: "cat /etc/shadow" },
        });
        expect(ran.body.stdout).toBe("ran: cat /etc/shadow\n");
        const trail = (as: Caller) => t.call("GET", `/v1/orgs/acme/sandboxes/${theirs}/commands`, { as });

        for (const outsider of [viewer, other]) {
          const res = await trail(outsider);
          expect(res.status).toBe(200);
          expect(res.body.commands).toEqual([
            expect.objectContaining({ command: "cat /etc/shadow", exit_code: 0, stdout: null, stderr: null }),
          ]);
        }
        for (const reader of [creator, admin]) {
          const res = await trail(reader);
          expect(res.body.commands).toEqual([
            expect.objectContaining({ stdout: "ran: cat /etc/shadow\n", stderr: "" }),
          ]);
        }
      });
    });

    it("extends the lease and tells the host the same expiry", async () => {
      const res = await t.call("POST", `/v1/orgs/acme/sandboxes/${id}/extend`, {
        as: owner,
        body: { ttl_seconds: 7200 },
      });
      expect(res.status).toBe(200);
      const expiresAt = Date.parse(res.body.expires_at);
      expect(Math.abs(expiresAt - (Date.now() + 7_200_000))).toBeLessThan(5_000);
      const sent = daemon.commands("extendSandbox")[0];
      expect(sent?.payload.case === "extendSandbox" && Number(sent.payload.value.expiresAtUnix)).toBe(
        Math.floor(expiresAt / 1000),
      );
      expect(
        (
          await t.call("POST", `/v1/orgs/acme/sandboxes/${id}/extend`, {
            as: owner,
            body: { ttl_seconds: 30 * 86_400 },
          })
        ).status,
      ).toBe(400);
    });

    it("snapshots are recorded and listed", async () => {
      const res = await t.call("POST", `/v1/orgs/acme/sandboxes/${id}/snapshot`, {
        as: owner,
        body: { name: "before-fix", include_memory: true },
      });
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({ name: "before-fix", has_memory: true, size_bytes: 1024, sandbox_id: id });
      const list = await t.call("GET", `/v1/orgs/acme/sandboxes/${id}/snapshots`, { as: owner });
      expect(list.body.snapshots.map((s: { name: string }) => s.name)).toEqual(["before-fix"]);
    });

    it("reads, writes (with mode) and lists files through the host, binary-safe", async () => {
      const read = await t.call("GET", `/v1/orgs/acme/sandboxes/${id}/files`, {
        as: owner,
        query: { path: "/etc/hosts" },
      });
      expect(read.body).toEqual({
        path: "/etc/hosts",
        content_base64: Buffer.from([0, 1, 2, 255]).toString("base64"),
        size: 4,
        truncated: false,
      });
      const content = Buffer.from("#!/bin/sh\necho hi\n");
      const write = await t.call("PUT", `/v1/orgs/acme/sandboxes/${id}/files`, {
        as: owner,
        body: { path: "/usr/local/bin/hi", content_base64: content.toString("base64"), mode: "0755" },
      });
      expect(write.body).toEqual({ path: "/usr/local/bin/hi", size: content.length });
      const sent = daemon.commands("writeFile")[0];
      expect(sent?.payload.case === "writeFile" && sent.payload.value.mode).toBe(0o755);
      expect(sent?.payload.case === "writeFile" && Buffer.from(sent.payload.value.content).equals(content)).toBe(true);
      const list = await t.call("GET", `/v1/orgs/acme/sandboxes/${id}/files/list`, {
        as: owner,
        query: { path: "/etc" },
      });
      expect(list.body.entries).toEqual([
        { name: "hosts", type: "file", size: 42, modified_at: "2023-11-14T22:13:20.000Z" },
      ]);
      expect(
        (await t.call("GET", `/v1/orgs/acme/sandboxes/${id}/files`, { as: owner, query: { path: "relative" } })).status,
      ).toBe(400);
      expect(
        (
          await t.call("PUT", `/v1/orgs/acme/sandboxes/${id}/files`, {
            as: owner,
            body: { path: "/x", content_base64: "!!" },
          })
        ).status,
      ).toBe(400);
    });

    describe("diff", () => {
      const diff = (sandboxId: string, as: Caller, query: Record<string, string> = {}) =>
        t.call("GET", `/v1/orgs/acme/sandboxes/${sandboxId}/diff`, { as, query });

      it("sandbox-diff-through-the-host: answers the host's diff as {hash, summary, changes}", async () => {
        const res = await diff(id, owner);
        expect(res.status).toBe(200);
        expect(res.body).toEqual(testDiff());
        const sent = daemon.commands("diffSandbox")[0];
        expect(sent?.payload.case === "diffSandbox" && sent.payload.value).toMatchObject({
          sandboxId: id,
          noiseOverrideJson: "",
        });
      });

      it("sandbox-diff-stopped: a stopped sandbox is diffed too, an ended one is refused", async () => {
        const stopped = await t.call("POST", `/v1/orgs/acme/sandboxes/${id}/stop`, { as: owner, body: {} });
        expect(stopped.body.state).toBe("STOPPED");
        expect((await diff(id, owner)).status).toBe(200);
        await t.call("DELETE", `/v1/orgs/acme/sandboxes/${id}`, { as: owner });
        expect((await diff(id, owner)).body.error.code).toBe("invalid_state");
        expect(daemon.commands("diffSandbox")).toHaveLength(1);
      });

      it("sandbox-diff-noise-override: passes a valid ?noise= to the host and refuses a malformed one", async () => {
        const noise = { disable: ["logs"], add: [{ id: "app-cache", match: "/srv/cache/**" }] };
        expect((await diff(id, owner, { noise: JSON.stringify(noise) })).status).toBe(200);
        const sent = daemon.commands("diffSandbox")[0];
        expect(sent?.payload.case === "diffSandbox" && JSON.parse(sent.payload.value.noiseOverrideJson)).toEqual(noise);
        for (const bad of ["{nope", JSON.stringify({ drop: ["logs"] }), JSON.stringify({ add: [{ id: "x" }] })]) {
          const res = await diff(id, owner, { noise: bad });
          expect(res.status).toBe(400);
          expect(res.body.error.code).toBe("invalid_request");
        }
        expect(daemon.commands("diffSandbox")).toHaveLength(1);
      });

      it("sandbox-diff-viewers: a viewer or another member cannot diff a sandbox, and the host is never asked", async () => {
        const viewer = await t.fastUser("viewer");
        await t.member(owner, "acme", viewer, "viewer");
        const member = await t.fastUser("member");
        await t.member(owner, "acme", member, "member");
        expect((await diff(id, viewer)).body.error.code).toBe("forbidden");
        expect((await diff(id, member)).body.error).toEqual({
          code: "forbidden",
          message: "only admins can read sandboxes created by someone else",
        });
        expect(daemon.commands("diffSandbox")).toHaveLength(0);
      });

      it("sandbox-diff-org-scoped: another org's caller gets 404 and the host is never asked", async () => {
        const other = await t.user("intruder@example.com");
        await t.org(other, "globex");
        expect((await diff(id, other)).status).toBe(404);
        const res = await t.call("GET", `/v1/orgs/globex/sandboxes/${id}/diff`, { as: other });
        expect(res.status).toBe(404);
        expect(res.body.error).toEqual({ code: "not_found", message: "sandbox not found" });
        expect(daemon.commands("diffSandbox")).toHaveLength(0);
      });

      it("sandbox-diff-malformed-reply: a host diff that breaks the contract is a host error, not passed on", async () => {
        daemon.handlers.diffSandbox = () => ({
          case: "sandboxDiff",
          value: {
            diffJson: Buffer.from(JSON.stringify({ ...testDiff(), changes: [{ kind: "disk" }] })),
            hash: "a".repeat(64),
          },
        });
        const res = await diff(id, owner);
        expect(res.status).toBe(502);
        expect(res.body.error.code).toBe("host_error");
      });
    });

    it("restores one of its own snapshots on the host", async () => {
      const snap = await t.call("POST", `/v1/orgs/acme/sandboxes/${id}/snapshot`, { as: owner, body: { name: "s1" } });
      const res = await t.call("POST", `/v1/orgs/acme/sandboxes/${id}/restore`, {
        as: owner,
        body: { snapshot_id: snap.body.id },
      });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ state: "RUNNING", ip_address: "10.0.0.77" });
      const sent = daemon.commands("restoreSnapshot")[0];
      expect(sent?.payload.case === "restoreSnapshot" && sent.payload.value.snapshotId).toBe("snap-s1");
      const other = (await createSandbox()).body.id;
      expect(
        (
          await t.call("POST", `/v1/orgs/acme/sandboxes/${other}/restore`, {
            as: owner,
            body: { snapshot_id: snap.body.id },
          })
        ).status,
      ).toBe(404);
    });

    it("deletes one of its own snapshots on the host, which frees the org's snapshot storage", async () => {
      const snap = await t.call("POST", `/v1/orgs/acme/sandboxes/${id}/snapshot`, { as: owner, body: { name: "s1" } });
      const used = async () =>
        (await t.call("GET", "/v1/orgs/acme/quotas", { as: owner })).body.snapshot_bytes.used as number;
      const before = await used();
      expect(before).toBeGreaterThanOrEqual(1024);
      const res = await t.call("DELETE", `/v1/orgs/acme/sandboxes/${id}/snapshots/${snap.body.id}`, { as: owner });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ status: "deleted" });
      const sent = daemon.commands("deleteSnapshot")[0];
      expect(sent?.payload.case === "deleteSnapshot" && sent.payload.value.snapshotId).toBe("snap-s1");
      expect((await t.call("GET", `/v1/orgs/acme/sandboxes/${id}/snapshots`, { as: owner })).body.count).toBe(0);
      expect(await used()).toBe(before - 1024);
      const again = await t.call("DELETE", `/v1/orgs/acme/sandboxes/${id}/snapshots/${snap.body.id}`, { as: owner });
      expect(again.status).toBe(404);
    });

    it("keeps a snapshot the host refuses to delete (a disk is built on it), with the host's reason", async () => {
      const snap = await t.call("POST", `/v1/orgs/acme/sandboxes/${id}/snapshot`, { as: owner, body: { name: "s2" } });
      daemon.handlers.deleteSnapshot = () => ({ error: "snapshot is the base of sandbox x", code: "invalid_state" });
      const res = await t.call("DELETE", `/v1/orgs/acme/sandboxes/${id}/snapshots/${snap.body.id}`, { as: owner });
      expect(res.status).toBe(409);
      expect(res.body.error).toMatchObject({ code: "invalid_state", message: expect.stringContaining("base of") });
      expect((await t.call("GET", `/v1/orgs/acme/sandboxes/${id}/snapshots`, { as: owner })).body.count).toBe(1);
    });

    it("list-endpoints-paginated: lists page with has_more and next_offset", async () => {
      await createSandbox();
      await createSandbox();
      const first = await t.call("GET", "/v1/orgs/acme/sandboxes", { as: owner, query: { limit: "2" } });
      expect(first.body).toMatchObject({ count: 2, has_more: true, next_offset: 2 });
      const second = await t.call("GET", "/v1/orgs/acme/sandboxes", { as: owner, query: { limit: "2", offset: "2" } });
      expect(second.body).toMatchObject({ count: 1, has_more: false, next_offset: null });
      expect((await t.call("GET", "/v1/orgs/acme/sandboxes", { as: owner, query: { limit: "500" } })).status).toBe(400);
    });

    it("get-sandbox-org-scoped-at-data-layer: another org cannot read, run in or destroy it", async () => {
      const other = await t.user("intruder@example.com");
      await t.org(other, "globex");
      for (const [method, path] of [
        ["GET", `/v1/orgs/acme/sandboxes/${id}`],
        ["DELETE", `/v1/orgs/acme/sandboxes/${id}`],
        ["GET", `/v1/orgs/globex/sandboxes/${id}`],
        ["DELETE", `/v1/orgs/globex/sandboxes/${id}`],
        ["POST", `/v1/orgs/globex/sandboxes/${id}/stop`],
      ] as const) {
        expect((await t.call(method, path, { as: other })).status).toBe(404);
      }
      expect(daemon.commands("destroySandbox")).toHaveLength(0);
    });
  });

  describe("ends without a user", () => {
    it("create-sandbox-compensating-destroy-on-db-failure: a sandbox destroyed mid-create is torn down when the host finishes", async () => {
      daemon.handlers.createSandbox = () => "hold";
      const created = await createSandbox({}, owner, { wait: "false" });
      const command = await daemon.waitFor((m) => m.payload.case === "createSandbox");
      const destroyed = await t.call("DELETE", `/v1/orgs/acme/sandboxes/${created.body.id}`, { as: owner });
      expect(destroyed.body).toMatchObject({ state: "DESTROYED", end_reason: "user_request" });
      daemon.reply(command.requestId, {
        case: "sandboxCreated",
        value: { sandboxId: created.body.id, state: "RUNNING" },
      });
      await until(() => daemon.commands("destroySandbox").length >= 2);
      expect(
        daemon
          .commands("destroySandbox")
          .every((m) => m.payload.case === "destroySandbox" && m.payload.value.sandboxId === created.body.id),
      ).toBe(true);
      expect((await t.call("GET", `/v1/orgs/acme/sandboxes/${created.body.id}`, { as: owner })).body.state).toBe(
        "DESTROYED",
      );
    });

    it("the reaper ends expired leases with lease_expired and destroys them on the host", async () => {
      const created = await createSandbox({ ttl_seconds: 60 });
      await t.server.ctx.db
        .updateTable("sandboxes")
        .set({ expires_at: new Date(Date.now() - 1000) })
        .where("id", "=", created.body.id)
        .execute();
      expect(await t.server.ctx.sandboxes.reapExpired()).toBe(1);
      const row = await t.call("GET", `/v1/orgs/acme/sandboxes/${created.body.id}`, { as: owner });
      expect(row.body).toMatchObject({ state: "DESTROYED", end_reason: "lease_expired" });
      await daemon.waitFor((m) => m.payload.case === "destroySandbox" && m.payload.value.reason === "lease_expired");
      expect(await t.server.ctx.sandboxes.reapExpired()).toBe(0);
    });

    it("a host's janitor ending a lease is recorded as lease_expired", async () => {
      const created = await createSandbox();
      daemon.send({
        payload: {
          case: "stateChanged",
          value: {
            sandboxId: created.body.id,
            previousState: "RUNNING",
            newState: "DESTROYED",
            reason: "lease_expired",
          },
        },
      });
      await until(
        async () =>
          (await t.call("GET", `/v1/orgs/acme/sandboxes/${created.body.id}`, { as: owner })).body.end_reason ===
          "lease_expired",
      );
    });

    it("a crash reported by the host ends the sandbox as crashed, with the reason", async () => {
      const created = await createSandbox();
      daemon.send({
        payload: {
          case: "stateChanged",
          value: { sandboxId: created.body.id, newState: "ERROR", reason: "qemu exited with signal 9" },
        },
      });
      await until(
        async () =>
          (await t.call("GET", `/v1/orgs/acme/sandboxes/${created.body.id}`, { as: owner })).body.end_reason ===
          "crashed",
      );
      expect((await t.call("GET", `/v1/orgs/acme/sandboxes/${created.body.id}`, { as: owner })).body.error).toBe(
        "qemu exited with signal 9",
      );
    });

    it("resource-report-handled: reconciliation ends what the host lost and destroys what only the host has", async () => {
      const kept = (await createSandbox()).body.id;
      const lost = (await createSandbox()).body.id;
      daemon.send({
        payload: {
          case: "resourceReport",
          value: {
            totalCpus: 4,
            totalMemoryMb: 8192n,
            availableMemoryMb: 4096n,
            availableCpus: 2,
            baseImages: ["debian-12", "tiny"],
            sandboxStatuses: [
              { sandboxId: kept, state: "STOPPED" },
              { sandboxId: "stray-vm-from-before", state: "RUNNING" },
            ],
          },
        },
      });
      await until(
        async () =>
          (await t.call("GET", `/v1/orgs/acme/sandboxes/${lost}`, { as: owner })).body.end_reason ===
          "reconciled_missing",
      );
      expect((await t.call("GET", `/v1/orgs/acme/sandboxes/${kept}`, { as: owner })).body.state).toBe("STOPPED");
      await daemon.waitFor(
        (m) => m.payload.case === "destroySandbox" && m.payload.value.sandboxId === "stray-vm-from-before",
      );
      const host = await t.call("GET", `/v1/orgs/acme/hosts/${hostId}`, { as: owner });
      expect(host.body.available_memory_mb).toBe(4096);
    });

    it("sandboxes on a host that stays offline past the grace period end as host_lost", async () => {
      const created = await createSandbox();
      daemon.abort();
      await until(
        async () => (await t.call("GET", `/v1/orgs/acme/hosts/${hostId}`, { as: owner })).body.status === "OFFLINE",
      );
      expect(await t.server.ctx.sandboxes.endOnLostHosts()).toBe(0);
      await t.server.ctx.db
        .updateTable("hosts")
        .set({ disconnected_at: new Date(Date.now() - 11 * 60_000) })
        .where("id", "=", hostId)
        .execute();
      expect(await t.server.ctx.sandboxes.endOnLostHosts()).toBe(1);
      expect((await t.call("GET", `/v1/orgs/acme/sandboxes/${created.body.id}`, { as: owner })).body.end_reason).toBe(
        "host_lost",
      );
    });
  });
});
