import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer, type TestServerProcess } from "../lib/server.js";
import { report, timed, timeUntil } from "./measure.js";
import { type PrivateCluster, startPrivateCluster } from "./postgres-cluster.js";

/** An answer during the outage must come within this bound (the pool's connect timeout is 10 s). */
const OUTAGE_ANSWER_BOUND_MS = 15_000;

describe("fault: PostgreSQL restarts under a running server (a private cluster)", () => {
  let cluster: PrivateCluster;
  let server: TestServerProcess;
  let key: string;

  beforeAll(async () => {
    cluster = await startPrivateCluster();
    server = await startServer({ adminUrl: cluster.url });
    ({ key } = await server.bootstrap("pgfault"));
  });

  afterAll(async () => {
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

    cluster.start();
    const recoverMs = await timeUntil(
      async () => (await server.call("GET", "/v1/orgs/pgfault/sandboxes", { key })).status === 200,
      60_000,
    );
    const after = await server.call("POST", "/v1/orgs/pgfault/hosts/tokens", { key, body: { name: "after" } });

    report("postgres restart", { outage, health: health.status, recoverMs, writeAfter: after.status });
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
