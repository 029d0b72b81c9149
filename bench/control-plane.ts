/**
 * Control-plane benchmarks (SPEC §10), each against a reference measured in the same run:
 *   placement      rankHosts over 1,000 hosts: p99 per decision (target < 1 ms)
 *   rest           GET one sandbox through auth, org scoping and the database, vs a bare fastify handler
 *                  returning the same JSON (target ≥ 30 % of its throughput)
 *   stream         command round trips server → gRPC stream → host → server, pipelined: messages/s
 *                  (target ≥ 10k/s) and p99 added latency vs an unloaded round trip (target < 5 ms)
 *   heartbeats     1,000 simulated daemons connected and heart-beating to one replica
 * Usage: node --import tsx bench/control-plane.ts [placement|rest|stream|heartbeats …]   (all when none named;
 *        PostgreSQL when FLUID_BENCH_DATABASE_URL is set)
 */

import { create } from "@bufbuild/protobuf";
import { RunCommandCommandSchema } from "@fluid/proto";
import Fastify from "fastify";
import { openDatabase } from "../packages/server/src/db/database.ts";
import { createLogger } from "../packages/server/src/log/logger.ts";
import { type PlacementHost, rankHosts } from "../packages/server/src/sandboxes/placement.ts";
import { startServer } from "../packages/server/src/server.ts";
import { testConfig } from "../packages/testkit/src/config.ts";
import { TestDaemon } from "../packages/testkit/src/test-daemon.ts";
import { createBenchDatabase } from "./lib/bench-database.ts";
import { throughput } from "./lib/load.ts";
import { printResults, type ResultRow } from "./lib/results.ts";

const percentile = (xs: number[], p: number) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
};

function placementBench() {
  const hosts: PlacementHost[] = Array.from({ length: 1000 }, (_, i) => ({
    id: `host-${String(i).padStart(4, "0")}`,
    totalCpus: 32,
    totalMemoryMb: 65_536,
    availableMemoryMb: 20_000 + ((i * 7919) % 40_000),
    availableDiskMb: 500_000,
    committedVcpus: i % 64,
    committedMemoryMb: (i * 104_729) % 30_000,
  }));
  const samples: number[] = [];
  for (let i = 0; i < 2000; i++) {
    const started = performance.now();
    rankHosts(hosts, { vcpus: 2, memoryMb: 2048, diskMb: 1024 }, { cpuOvercommit: 4 });
    samples.push(performance.now() - started);
  }
  return { p50: percentile(samples, 50), p99: percentile(samples, 99) };
}

/** A real control plane in this process (REST and gRPC on loopback) so commands can be timed at the registry. */
async function startControlPlane(adminUrl: string | undefined) {
  // On PostgreSQL the bench gets a database of its own, dropped afterwards.
  const own = adminUrl ? await createBenchDatabase(adminUrl, `fluid_bench_${process.pid}`) : undefined;
  const database = own
    ? await openDatabase({ kind: "postgres", url: own.url })
    : await openDatabase({ kind: "pglite", dataDir: "memory://" });
  const config = testConfig({ migrate: true, log: { level: "silent" } });
  const server = await startServer(config, { log: createLogger(config.log), database });
  const call = async (method: string, url: string, options: { cookie?: string; key?: string; body?: unknown } = {}) => {
    const res = await server.app.inject({
      method: method as "GET",
      url,
      headers: {
        ...(options.cookie ? { cookie: `fluid_session=${options.cookie}` } : {}),
        ...(options.key ? { authorization: `Bearer ${options.key}` } : {}),
      },
      ...(options.body === undefined ? {} : { payload: options.body as object }),
    });
    return {
      status: res.statusCode,
      body: JSON.parse(res.body || "null"),
      cookie: res.cookies.find((c) => c.name === "fluid_session")?.value,
    };
  };
  return {
    server,
    call,
    restUrl: `http://127.0.0.1:${server.restAddress.port}`,
    grpcUrl: `http://127.0.0.1:${server.grpc.address.port}`,
    close: async () => {
      await server.close();
      await database.close();
      await own?.drop();
    },
  };
}

const SECTIONS = ["placement", "rest", "stream", "heartbeats"];

async function main() {
  const named = process.argv.slice(2);
  const unknown = named.filter((n) => !SECTIONS.includes(n));
  if (unknown.length > 0) throw new Error(`unknown section ${unknown.join(", ")}; choose from ${SECTIONS.join(", ")}`);
  const want = (section: string) => named.length === 0 || named.includes(section);
  const url = process.env.FLUID_BENCH_DATABASE_URL;
  const kind = url ? "postgres" : "pglite";
  const results: ResultRow[] = [];

  if (want("placement")) {
    const placement = placementBench();
    results.push([
      "placement (1,000 hosts)",
      `p99 ${placement.p99.toFixed(3)} ms`,
      "-",
      "-",
      placement.p99 < 1 ? "yes" : "NO",
    ]);
  }

  const t = await startControlPlane(url);
  const daemons: TestDaemon[] = [];
  try {
    const registered = await t.call("POST", "/v1/auth/register", {
      body: { email: "bench@example.com", password: "correct horse battery", display_name: "bench" },
    });
    const cookie = registered.cookie ?? "";
    await t.call("POST", "/v1/orgs", { cookie, body: { name: "bench", slug: "bench" } });
    const key = (await t.call("POST", "/v1/orgs/bench/api-keys", { cookie, body: { name: "bench", role: "admin" } }))
      .body.key as string;
    const newToken = async (name: string) =>
      (await t.call("POST", "/v1/orgs/bench/hosts/tokens", { key, body: { name } })).body as {
        id: string;
        token: string;
      };
    const token = await newToken("bench");
    const host = await TestDaemon.connect(t.grpcUrl, { token: token.token });
    daemons.push(host);
    const sandbox = await t.call("POST", "/v1/orgs/bench/sandboxes", { key, body: { source_vm: "debian-12" } });

    if (want("rest")) {
      const bare = Fastify();
      const body = sandbox.body;
      bare.get("/sandbox", async () => body);
      await bare.listen({ port: 0, host: "127.0.0.1" });
      const bareRps = await throughput(
        [`http://127.0.0.1:${(bare.server.address() as { port: number }).port}/sandbox`],
        {},
      );
      await bare.close();
      const restRps = await throughput([`${t.restUrl}/v1/orgs/bench/sandboxes/${sandbox.body.id}`], {
        authorization: `Bearer ${key}`,
      });
      const restRatio = restRps / bareRps;
      results.push([
        "REST GET sandbox vs bare fastify",
        `${restRps.toFixed(0)} req/s`,
        `${bareRps.toFixed(0)} req/s`,
        restRatio.toFixed(2),
        restRatio >= 0.3 ? "yes" : "NO",
      ]);
    }

    if (want("stream")) {
      const command = () => ({
        case: "runCommand" as const,
        value: create(RunCommandCommandSchema, { sandboxId: sandbox.body.id, command: "true", timeoutSeconds: 5 }),
      });
      for (let i = 0; i < 500; i++) await t.server.ctx.hosts.request(token.id, command(), 10_000);
      const unloaded: number[] = [];
      for (let i = 0; i < 2000; i++) {
        const started = performance.now();
        await t.server.ctx.hosts.request(token.id, command(), 10_000);
        unloaded.push(performance.now() - started);
      }
      const total = 20_000;
      const loaded: number[] = [];
      const started = performance.now();
      let inFlight = 0;
      let sent = 0;
      await new Promise<void>((resolve, reject) => {
        const pump = () => {
          while (inFlight < 256 && sent < total) {
            inFlight++;
            sent++;
            const at = performance.now();
            t.server.ctx.hosts.request(token.id, command(), 30_000).then(() => {
              loaded.push(performance.now() - at);
              inFlight--;
              if (loaded.length === total) resolve();
              else pump();
            }, reject);
          }
        };
        pump();
      });
      const seconds = (performance.now() - started) / 1000;
      const perSecond = (total * 2) / seconds;
      results.push([
        "stream messages/s (command + reply)",
        `${perSecond.toFixed(0)} msg/s`,
        "10000 msg/s",
        (perSecond / 10_000).toFixed(2),
        perSecond >= 10_000 ? "yes" : "NO",
      ]);
      const added = percentile(unloaded, 99) - percentile(unloaded, 50);
      results.push([
        "stream p99 vs p50 round trip (unloaded)",
        `${percentile(unloaded, 99).toFixed(2)} ms`,
        `${percentile(unloaded, 50).toFixed(2)} ms`,
        `+${added.toFixed(2)} ms`,
        added < 5 ? "yes" : "NO",
      ]);
    }

    if (want("heartbeats")) {
      const connectStarted = performance.now();
      for (let i = 0; i < 1000; i++) {
        const fleetToken = await newToken(`fleet-${i}`);
        daemons.push(await TestDaemon.connect(t.grpcUrl, { token: fleetToken.token }));
      }
      const connectSeconds = (performance.now() - connectStarted) / 1000;
      const beatStarted = performance.now();
      for (const daemon of daemons) daemon.heartbeat();
      let online = 0;
      for (let i = 0; i < 300 && online < 1001; i++) {
        await new Promise((r) => setTimeout(r, 100));
        const rows = await t.server.ctx.db
          .selectFrom("hosts")
          .select((eb) => eb.fn.countAll<string>().as("n"))
          .where("status", "=", "ONLINE")
          .where("last_heartbeat", ">", new Date(Date.now() - 60_000))
          .executeTakeFirstOrThrow();
        online = Number(rows.n);
      }
      const beatSeconds = (performance.now() - beatStarted) / 1000;
      results.push([
        "1,000 daemons: connect all / one heartbeat round",
        `${connectSeconds.toFixed(1)} s / ${beatSeconds.toFixed(2)} s`,
        `${online} ONLINE`,
        "-",
        online >= 1001 ? "yes" : "NO",
      ]);
    }
  } finally {
    for (const daemon of daemons) daemon.abort();
    await t.close();
  }

  printResults(`control plane on ${kind}`, results);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
