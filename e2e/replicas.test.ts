import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTwoReplicas, type TwoReplicas } from "./lib/replicas.js";

describe.skipIf(!process.env.FLUID_TEST_DATABASE_URL)(
  "two fluid-server replicas on one PostgreSQL, a real daemon on one of them (needs FLUID_TEST_DATABASE_URL)",
  () => {
    let replicas: TwoReplicas | undefined;
    const running = () => {
      if (!replicas) throw new Error("the replicas did not start");
      return replicas;
    };

    beforeAll(async () => {
      replicas = await startTwoReplicas((_a, b) => [b.grpc]);
    });

    afterAll(async () => {
      await replicas?.dispose();
    });

    it("create and exec through replica A reach the VM on the daemon streaming to replica B", async () => {
      const { a, b, daemon, key, hostId } = running();
      const created = await a.call("POST", "/v1/orgs/acme/sandboxes", {
        key,
        body: { source_vm: "tiny", memory_mb: 256, ttl_seconds: 600 },
      });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      expect(created.body).toMatchObject({ state: "RUNNING", host_id: hostId });
      const id = created.body.id as string;
      expect((await daemon.api.call("GET", `/v1/sandboxes/${id}`))?.body.state).toBe("RUNNING");

      const run = await a.call("POST", `/v1/orgs/acme/sandboxes/${id}/run`, {
        key,
        body: { command: "echo hi from $(hostname); exit 3", timeout_seconds: 30 },
      });
      expect(run.status, JSON.stringify(run.body)).toBe(200);
      expect(run.body).toMatchObject({ stdout: `hi from ${created.body.name}\n`, exit_code: 3 });

      // B answers the same sandbox from its own stream.
      const viaB = await b.call("POST", `/v1/orgs/acme/sandboxes/${id}/run`, { key, body: { command: "echo b" } });
      expect(viaB?.body).toMatchObject({ stdout: "b\n", exit_code: 0 });

      const destroyed = await a.call("DELETE", `/v1/orgs/acme/sandboxes/${id}`, { key });
      expect(destroyed.body).toMatchObject({ state: "DESTROYED", end_reason: "user_request" });
      expect((await daemon.api.call("GET", `/v1/sandboxes/${id}`))?.body.state).toBe("DESTROYED");
    });

    it("once replica B is gone, commands through A for its host fail at once with host_unavailable", async () => {
      const { a, b, key } = running();
      const created = await a.call("POST", "/v1/orgs/acme/sandboxes", {
        key,
        body: { source_vm: "tiny", memory_mb: 256, ttl_seconds: 600 },
      });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      await b.dispose();
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
