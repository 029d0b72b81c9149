import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TestDaemonProcess } from "../lib/daemon.js";
import { startTwoReplicas, type TwoReplicas } from "../lib/replicas.js";
import type { TestServerProcess } from "../lib/server.js";
import { until } from "../lib/wait.js";
import { report, timeUntil } from "./measure.js";

/** The control-plane addresses the daemon's log says it registered with, oldest first. */
function registrations(daemon: TestDaemonProcess): string[] {
  return daemon.process
    .output()
    .split("\n")
    .filter((line) => line.startsWith("{") && line.includes('"registered with the control plane"'))
    .map((line) => JSON.parse(line).server as string);
}

/**
 * Two real `fluid-server` replicas on one PostgreSQL and a real daemon listing both: it streams to B
 * (first in its list) while every request goes through A, so A reaches the VM through B's stream.
 * Then B is killed with commands in flight; the daemon moves to A.
 */
describe.skipIf(!process.env.FLUID_TEST_DATABASE_URL)(
  "replica kill -9 with commands in flight, and the daemon's failover to the surviving replica (needs FLUID_TEST_DATABASE_URL: two processes cannot share PGlite)",
  () => {
    let replicas: TwoReplicas | undefined;

    beforeAll(async () => {
      replicas = await startTwoReplicas((a, b) => [b.grpc, a.grpc]);
    });

    afterAll(async () => {
      await replicas?.dispose();
    });

    it("create and exec through A while the daemon streams to B; kill -9 B mid-exec: the exec fails fast and runs once, the daemon moves to A, the sandbox still runs and answers", async () => {
      if (!replicas) throw new Error("the replicas did not start");
      const { a, b, daemon, key, hostId } = replicas;
      expect(registrations(daemon)).toEqual([b.grpc]);
      const exec = (server: TestServerProcess, id: string, command: string) =>
        server.call("POST", `/v1/orgs/acme/sandboxes/${id}/run`, { key, body: { command, timeout_seconds: 30 } });

      const created = await a.call("POST", "/v1/orgs/acme/sandboxes", {
        key,
        body: { source_vm: "tiny", memory_mb: 256, ttl_seconds: 900 },
      });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      expect(created.body).toMatchObject({ state: "RUNNING", host_id: hostId });
      const id = created.body.id as string;
      expect((await exec(a, id, "echo one")).body).toMatchObject({ stdout: "one\n", exit_code: 0 });

      // One exec through A (carried to B in host_commands) and one through B itself, both still running.
      let killedAt = 0;
      const sinceKill = () => Math.round(performance.now() - killedAt);
      const viaA = exec(a, id, "echo ran >> /tmp/inflight; sleep 8; echo finished").then((r) => ({
        ...r,
        ms: sinceKill(),
      }));
      const viaB = exec(b, id, "sleep 8").then(
        (r) => ({ outcome: `HTTP ${r.status}`, ms: sinceKill() }),
        (err: Error) => ({ outcome: err.message, ms: sinceKill() }),
      );
      await until(
        async () =>
          (await a.sql<{ n: string }>("SELECT count(*) AS n FROM host_commands WHERE state = 'sent'"))[0]?.n === "1",
      );
      await until(async () => (await exec(a, id, "cat /tmp/inflight")).body.stdout === "ran\n");

      killedAt = performance.now();
      await b.process.crash();
      const [failoverMs, throughA, throughB] = await Promise.all([
        timeUntil(async () => registrations(daemon).length === 2, 30_000, 50),
        viaA,
        viaB,
      ]);
      expect(registrations(daemon)).toEqual([b.grpc, a.grpc]);

      expect(throughA.status).toBe(503);
      expect(throughA.body.error).toMatchObject({
        code: "host_unavailable",
        message: expect.stringContaining("may have run"),
      });
      // Bounded by the surviving replica noticing (the stream moving, or B's lease going silent), not the exec's timeout.
      expect(throughA.ms).toBeLessThan(15_000);
      expect(throughB.outcome).toBe("fetch failed");

      await until(async () => (await a.call("GET", `/v1/orgs/acme/hosts/${hostId}`, { key })).body.status === "ONLINE");
      expect((await a.call("GET", `/v1/orgs/acme/sandboxes/${id}`, { key })).body).toMatchObject({
        state: "RUNNING",
        host_id: hostId,
      });
      expect((await daemon.api.call("GET", `/v1/sandboxes/${id}`)).body.state).toBe("RUNNING");
      const after = await exec(a, id, "echo still-here from $(hostname)");
      expect(after.status, JSON.stringify(after.body)).toBe(200);
      expect(after.body).toMatchObject({ stdout: `still-here from ${created.body.name}\n`, exit_code: 0 });
      // Long enough for the interrupted exec to have finished on the VM: it ran exactly once.
      await new Promise((resolve) => setTimeout(resolve, 8_000));
      expect((await exec(a, id, "cat /tmp/inflight")).body.stdout).toBe("ran\n");

      report("replica kill -9 with commands in flight", {
        execThroughA: `${throughA.status} ${throughA.body.error.code} ${throughA.ms} ms after the kill`,
        execThroughB: `${throughB.outcome} ${throughB.ms} ms after the kill`,
        daemonRegisteredWithAMs: failoverMs,
        runsOfTheInterruptedExec: 1,
        sandboxState: "RUNNING",
      });
    });
  },
);
