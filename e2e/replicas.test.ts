import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDaemon, type TestDaemonProcess } from "./lib/daemon.js";
import { startServer, type TestServerProcess } from "./lib/server.js";
import { until } from "./lib/wait.js";

describe.skipIf(!process.env.FLUID_TEST_DATABASE_URL)(
  "two fluid-server replicas on one PostgreSQL, a real daemon on one of them (needs FLUID_TEST_DATABASE_URL)",
  () => {
    let a: TestServerProcess;
    let b: TestServerProcess | undefined;
    let daemon: TestDaemonProcess | undefined;
    let key: string;
    let hostId: string;

    beforeAll(async () => {
      a = await startServer({ replicaId: "a" });
      b = await startServer({ replicaId: "b", databaseUrl: a.databaseUrl });
      ({ key } = await a.bootstrap("acme"));
      const token = await a.call("POST", "/v1/orgs/acme/hosts/tokens", { key, body: { name: "e2e-host" } });
      hostId = token.body.id;
      daemon = await startDaemon({ extraArgs: ["--server", b.grpc, "--insecure", "--token", token.body.token] });
      await until(
        async () => (await a.call("GET", "/v1/orgs/acme/hosts", { key })).body.hosts?.[0]?.status === "ONLINE",
      );
    });

    afterAll(async () => {
      await daemon?.dispose();
      await b?.dispose();
      await a?.dispose();
    });

    it("create and exec through replica A reach the VM on the daemon streaming to replica B", async () => {
      const created = await a.call("POST", "/v1/orgs/acme/sandboxes", {
        key,
        body: { source_vm: "tiny", memory_mb: 256, ttl_seconds: 600 },
      });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      expect(created.body).toMatchObject({ state: "RUNNING", host_id: hostId });
      const id = created.body.id as string;
      expect((await daemon?.api.call("GET", `/v1/sandboxes/${id}`))?.body.state).toBe("RUNNING");

      const run = await a.call("POST", `/v1/orgs/acme/sandboxes/${id}/run`, {
        key,
        body: { command: "echo hi from $(hostname); exit 3", timeout_seconds: 30 },
      });
      expect(run.status, JSON.stringify(run.body)).toBe(200);
      expect(run.body).toMatchObject({ stdout: `hi from ${created.body.name}\n`, exit_code: 3 });

      // B answers the same sandbox from its own stream.
      const viaB = await b?.call("POST", `/v1/orgs/acme/sandboxes/${id}/run`, { key, body: { command: "echo b" } });
      expect(viaB?.body).toMatchObject({ stdout: "b\n", exit_code: 0 });

      const destroyed = await a.call("DELETE", `/v1/orgs/acme/sandboxes/${id}`, { key });
      expect(destroyed.body).toMatchObject({ state: "DESTROYED", end_reason: "user_request" });
      expect((await daemon?.api.call("GET", `/v1/sandboxes/${id}`))?.body.state).toBe("DESTROYED");
    });

    it("once replica B is gone, commands through A for its host fail at once with host_unavailable", async () => {
      const created = await a.call("POST", "/v1/orgs/acme/sandboxes", {
        key,
        body: { source_vm: "tiny", memory_mb: 256, ttl_seconds: 600 },
      });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      await b?.dispose();
      b = undefined;
      const started = Date.now();
      const run = await a.call("POST", `/v1/orgs/acme/sandboxes/${created.body.id}/run`, {
        key,
        body: { command: "true" },
      });
      expect(Date.now() - started).toBeLessThan(2_000);
      expect(run.status).toBe(503);
      expect(run.body.error.code).toBe("host_unavailable");
    });
  },
);
