import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDaemon, type TestDaemonProcess } from "../lib/daemon.js";
import { startServer, type TestServerProcess } from "../lib/server.js";
import { until } from "../lib/wait.js";
import { report, timed, timeUntil } from "./measure.js";
import { type PrivateCluster, startPrivateCluster } from "./postgres-cluster.js";

/** An answer during the outage must come within this bound (the pool's connect timeout is 10 s). */
const OUTAGE_ANSWER_BOUND_MS = 15_000;
/** Long enough for several heartbeats (1 s here) to meet the outage. */
const OUTAGE_MS = 4_000;

describe("fault: PostgreSQL restarts under a running server (a private cluster)", () => {
  let cluster: PrivateCluster;
  let server: TestServerProcess;
  let daemon: TestDaemonProcess;
  let key: string;
  let hostId: string;
  const host = async () => (await server.call("GET", `/v1/orgs/pgfault/hosts/${hostId}`, { key })).body;

  beforeAll(async () => {
    cluster = await startPrivateCluster();
    server = await startServer({ adminUrl: cluster.url, env: { FLUID_HEARTBEAT_INTERVAL: "1s" } });
    ({ key } = await server.bootstrap("pgfault"));
    const token = await server.call("POST", "/v1/orgs/pgfault/hosts/tokens", { key, body: { name: "h" } });
    hostId = token.body.id;
    daemon = await startDaemon({ extraArgs: ["--server", server.grpc, "--insecure", "--token", token.body.token] });
    await until(async () => (await host()).status === "ONLINE");
  });

  afterAll(async () => {
    await daemon?.dispose();
    await server?.process.stop();
    cluster?.dispose();
  });

  it("requests during the outage fail cleanly and within a bound; the same process recovers once PostgreSQL is back", async () => {
    expect((await server.call("GET", "/v1/orgs/pgfault/sandboxes", { key })).status).toBe(200);
    const pid = server.process.child.pid;

    cluster.stop();
    const outage: Array<{ route: string; status: number; code: string; ms: number }> = [];
    for (const [method, path] of [
      ["GET", "/v1/orgs/pgfault/sandboxes"],
      ["GET", "/v1/orgs/pgfault/hosts"],
      ["POST", "/v1/orgs/pgfault/sandboxes"],
    ] as const) {
      const body = method === "POST" ? { source_vm: "tiny", memory_mb: 256 } : undefined;
      const { ms, value } = await timed(() => server.call(method, path, { key, body }));
      outage.push({ route: `${method} ${path}`, status: value.status, code: value.body?.error?.code, ms });
    }
    const health = await server.call("GET", "/v1/health");
    await new Promise((resolve) => setTimeout(resolve, OUTAGE_MS));

    cluster.start();
    const backAt = Date.now();
    const recoverMs = await timeUntil(
      async () => (await server.call("GET", "/v1/orgs/pgfault/sandboxes", { key })).status === 200,
      60_000,
    );
    const after = await server.call("POST", "/v1/orgs/pgfault/hosts/tokens", { key, body: { name: "after" } });
    // The host's stream lived through the outage (or came back): its heartbeats are recorded again.
    const hostFreshMs = await timeUntil(async () => {
      const row = await host();
      return row.status === "ONLINE" && Date.parse(row.last_heartbeat) > backAt;
    }, 30_000);

    report("postgres restart", {
      outageMs: OUTAGE_MS,
      outage,
      health: health.status,
      recoverMs,
      writeAfter: after.status,
      hostHeartbeatRecordedAfterMs: hostFreshMs,
    });
    for (const answer of outage) {
      expect(answer.status, answer.route).toBe(503);
      expect(answer.code, answer.route).toBe("service_unavailable");
      expect(answer.ms, answer.route).toBeLessThan(OUTAGE_ANSWER_BOUND_MS);
    }
    expect(health.status).toBe(200);
    expect(after.status).toBe(201);
    expect(server.process.child.exitCode).toBeNull();
    expect(server.process.child.pid).toBe(pid);
  });
});
