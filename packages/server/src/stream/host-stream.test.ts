import { Code } from "@connectrpc/connect";
import {
  type Caller,
  databaseKinds,
  openRawStream,
  startTestServer,
  TestDaemon,
  type TestServer,
} from "@fluid/testkit";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

const until = async (check: () => Promise<boolean> | boolean, timeoutMs = 5_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe.each(databaseKinds)("host stream (%s)", (kind) => {
  let t: TestServer;
  let owner: Caller;
  const daemons: TestDaemon[] = [];

  const start = async (overrides: Parameters<typeof startTestServer>[1] = {}) => {
    t = await startTestServer(kind, overrides);
    owner = await t.user("owner@example.com");
    await t.org(owner, "acme");
  };

  const connect = async (token: string, options: Partial<Parameters<typeof TestDaemon.connect>[1]> = {}) => {
    const daemon = await TestDaemon.connect(t.grpcUrl, { token, ...options });
    daemons.push(daemon);
    return daemon;
  };

  const hostRow = (id: string) =>
    t.server.ctx.db.selectFrom("hosts").selectAll().where("id", "=", id).executeTakeFirst();

  afterEach(async () => {
    for (const d of daemons.splice(0)) d.abort();
    await t?.close();
  });

  describe("registration", () => {
    beforeEach(() => start());

    it("host-id-not-trusted-from-registration: identity is the token id, whatever host_id the daemon claims", async () => {
      const token = await t.hostToken(owner, "acme");
      const daemon = await connect(token.token, { registration: { hostId: "someone-elses-host" } });
      expect(daemon.ack).toMatchObject({ accepted: true, assignedHostId: token.id });
      expect(daemon.ack?.heartbeatIntervalSeconds).toBe(10);
      const hosts = await t.call("GET", "/v1/orgs/acme/hosts", { as: owner });
      expect(hosts.body.count).toBe(1);
      expect(hosts.body.hosts[0]).toMatchObject({
        host_id: token.id,
        hostname: "test-host",
        status: "ONLINE",
        available_cpus: 4,
        available_memory_mb: 8192,
        base_images: ["debian-12", "tiny"],
      });
      const rows = await t.server.ctx.db.selectFrom("hosts").select("id").execute();
      expect(rows.map((r) => r.id)).toEqual([token.id]);
    });

    it("stream-connect-requires-authentication: an invalid token is refused with UNAUTHENTICATED", async () => {
      await expect(connect("flh_not-a-real-token")).rejects.toMatchObject({ code: Code.Unauthenticated });
    });

    it("stream-connect-requires-authentication: no authorization header is refused with UNAUTHENTICATED", async () => {
      const result = await openRawStream(t.grpcUrl, undefined, { payload: { case: "registration", value: {} } });
      expect(result.error?.code).toBe(Code.Unauthenticated);
    });

    it("bearer-prefix-parsing-robust: a non-Bearer scheme is refused without crashing the server", async () => {
      const token = await t.hostToken(owner, "acme");
      for (const header of [`Basic ${token.token}`, "Bearer", "Bearer ", token.token]) {
        const result = await openRawStream(t.grpcUrl, header, { payload: { case: "registration", value: {} } });
        expect(result.error?.code).toBe(Code.Unauthenticated);
      }
      const daemon = await connect(token.token);
      expect(daemon.ack?.accepted).toBe(true);
    });

    it("refuses a stream whose first message is not a registration", async () => {
      const token = await t.hostToken(owner, "acme");
      const result = await openRawStream(t.grpcUrl, `Bearer ${token.token}`, {
        payload: { case: "heartbeat", value: {} },
      });
      expect(result.error?.code).toBe(Code.InvalidArgument);
      expect(result.error?.rawMessage).toMatch(/first message must be a registration/);
      expect(await hostRow(token.id)).toBeUndefined();
    });

    it("refuses a registration with impossible figures", async () => {
      const token = await t.hostToken(owner, "acme");
      const result = await openRawStream(t.grpcUrl, `Bearer ${token.token}`, {
        payload: { case: "registration", value: { hostname: "h", totalMemoryMb: -5n } },
      });
      expect(result.error?.code).toBe(Code.InvalidArgument);
    });

    it("a token from a deleted organization cannot connect", async () => {
      const token = await t.hostToken(owner, "acme");
      expect((await t.call("DELETE", "/v1/orgs/acme", { as: owner })).status).toBe(200);
      await expect(connect(token.token)).rejects.toMatchObject({ code: Code.Unauthenticated });
    });
  });

  describe("liveness", () => {
    it("heartbeats refresh resources and last_heartbeat", async () => {
      await start();
      const token = await t.hostToken(owner, "acme");
      const daemon = await connect(token.token);
      const before = (await hostRow(token.id))?.last_heartbeat;
      await new Promise((r) => setTimeout(r, 10));
      daemon.heartbeat({ availableMemoryMb: 1234n, activeSandboxes: 2 });
      await until(async () => (await hostRow(token.id))?.available_memory_mb === 1234);
      const row = await hostRow(token.id);
      expect(row?.active_sandboxes).toBe(2);
      expect(row?.last_heartbeat?.getTime()).toBeGreaterThan(before?.getTime() ?? 0);
    });

    it("stale-host-evicted-after-missed-heartbeats: 3 missed heartbeats mark the host OFFLINE and fail its requests", async () => {
      await start({ heartbeatIntervalMs: 150 });
      const token = await t.hostToken(owner, "acme");
      const daemon = await connect(token.token);
      const ended = await daemon.ended;
      expect(ended?.code).toBe(Code.Unavailable);
      expect(ended?.rawMessage).toMatch(/missed its heartbeats/);
      await until(async () => (await hostRow(token.id))?.status === "OFFLINE");
      expect(await t.server.ctx.hosts.isConnected(token.id)).toBe(false);
    });

    it("a heartbeating host stays connected past the liveness window", async () => {
      await start({ heartbeatIntervalMs: 100 });
      const token = await t.hostToken(owner, "acme");
      const daemon = await connect(token.token);
      for (let i = 0; i < 8; i++) {
        daemon.heartbeat();
        await new Promise((r) => setTimeout(r, 60));
      }
      expect(await t.server.ctx.hosts.isConnected(token.id)).toBe(true);
      expect((await hostRow(token.id))?.status).toBe("ONLINE");
    });
  });

  describe("reconnects and revocation", () => {
    beforeEach(() => start());

    it("stale-cleanup-does-not-clobber-new-connection: a reconnect replaces the old stream without losing the host", async () => {
      const token = await t.hostToken(owner, "acme");
      const first = await connect(token.token);
      const second = await connect(token.token);
      const firstEnd = await first.ended;
      expect(firstEnd?.code).toBe(Code.Aborted);
      await new Promise((r) => setTimeout(r, 100));
      expect(await t.server.ctx.hosts.isConnected(token.id)).toBe(true);
      expect((await hostRow(token.id))?.status).toBe("ONLINE");
      const reply = await t.server.ctx.hosts.request(
        token.id,
        { case: "startSandbox", value: { $typeName: "fluid.v1.StartSandboxCommand", sandboxId: "x" } },
        5_000,
      );
      expect(reply.payload.case).toBe("sandboxStarted");
      expect(second.commands("startSandbox")).toHaveLength(1);
      expect(first.commands("startSandbox")).toHaveLength(0);
    });

    it("old-stream-stopped-on-duplicate-reconnect: a command in flight on the replaced stream fails with a clear reason", async () => {
      const token = await t.hostToken(owner, "acme");
      await connect(token.token, { handlers: { startSandbox: () => "hold" } });
      const outcome = t.server.ctx.hosts
        .request(
          token.id,
          { case: "startSandbox", value: { $typeName: "fluid.v1.StartSandboxCommand", sandboxId: "x" } },
          60_000,
        )
        .catch((err: unknown) => err);
      await connect(token.token);
      expect(await outcome).toMatchObject({ reason: "host_replaced" });
    });

    it("revoking a host token closes its live stream and refuses reconnects", async () => {
      const token = await t.hostToken(owner, "acme");
      const daemon = await connect(token.token);
      expect((await t.call("DELETE", `/v1/orgs/acme/hosts/tokens/${token.id}`, { as: owner })).status).toBe(200);
      const ended = await daemon.ended;
      expect(ended?.code).toBe(Code.Unauthenticated);
      expect(ended?.rawMessage).toMatch(/revoked/);
      await until(async () => (await hostRow(token.id))?.status === "OFFLINE");
      await expect(connect(token.token)).rejects.toMatchObject({ code: Code.Unauthenticated });
    });

    it("a revocation made elsewhere (another replica) closes the stream at the next heartbeat", async () => {
      const token = await t.hostToken(owner, "acme");
      const daemon = await connect(token.token);
      await t.server.ctx.db
        .updateTable("host_tokens")
        .set({ revoked_at: new Date() })
        .where("id", "=", token.id)
        .execute();
      daemon.heartbeat();
      expect((await daemon.ended)?.code).toBe(Code.Unauthenticated);
    });

    it("killing a stream mid-request fails that request promptly with a clear error", async () => {
      const token = await t.hostToken(owner, "acme");
      const daemon = await connect(token.token, { handlers: { startSandbox: () => "hold" } });
      const inFlight = t.server.ctx.hosts.request(
        token.id,
        { case: "startSandbox", value: { $typeName: "fluid.v1.StartSandboxCommand", sandboxId: "x" } },
        120_000,
      );
      await daemon.waitFor((m) => m.payload.case === "startSandbox");
      const cutAt = Date.now();
      daemon.abort();
      await expect(inFlight).rejects.toMatchObject({ reason: "host_disconnected", message: "host disconnected" });
      expect(Date.now() - cutAt).toBeLessThan(2_000);
      await until(async () => (await hostRow(token.id))?.status === "OFFLINE");
    });

    it("a clean end of the host's stream marks it OFFLINE", async () => {
      const token = await t.hostToken(owner, "acme");
      const daemon = await connect(token.token);
      daemon.end();
      expect(await daemon.ended).toBeUndefined();
      await until(async () => (await hostRow(token.id))?.status === "OFFLINE");
    });

    it("stream-send-serialized-per-host: many concurrent commands each get their own reply", async () => {
      const token = await t.hostToken(owner, "acme");
      await connect(token.token);
      const replies = await Promise.all(
        Array.from({ length: 200 }, (_, i) =>
          t.server.ctx.hosts.request(
            token.id,
            {
              case: "runCommand",
              value: {
                $typeName: "fluid.v1.RunCommandCommand",
                sandboxId: "s",
                command: `echo ${i}`,
                timeoutSeconds: 5,
                streamOutput: false,
                env: {},
              },
            },
            10_000,
          ),
        ),
      );
      replies.forEach((reply, i) => {
        expect(reply.payload.case === "commandResult" && reply.payload.value.stdout).toBe(`ran: echo ${i}\n`);
      });
    });
  });
});
