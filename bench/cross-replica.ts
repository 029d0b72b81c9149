/**
 * Several replicas on one PostgreSQL (issue 13): the round trip of a host command from the replica holding the
 * host's stream (memory only) vs from another replica (host_commands row + NOTIFY → owner → stream → row +
 * NOTIFY), both measured in the same run against the same protocol-level host:
 *   sequential   one command at a time: p50 / p99 per round trip
 *   concurrent   64 in flight: commands/s
 * Usage: FLUID_BENCH_DATABASE_URL=postgres://… node --import tsx bench/cross-replica.ts
 */

import { create } from "@bufbuild/protobuf";
import { RunCommandCommandSchema } from "@fluid/proto";
import { openDatabase } from "../packages/server/src/db/database.ts";
import { createLogger } from "../packages/server/src/log/logger.ts";
import { type RunningServer, startServer } from "../packages/server/src/server.ts";
import { testConfig } from "../packages/testkit/src/config.ts";
import { TestDaemon } from "../packages/testkit/src/test-daemon.ts";
import { createBenchDatabase } from "./lib/bench-database.ts";

const percentile = (xs: number[], p: number) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
};

const command = () => ({
  case: "runCommand" as const,
  value: create(RunCommandCommandSchema, { sandboxId: "bench", command: "true", timeoutSeconds: 5 }),
});

async function sequential(server: RunningServer, hostId: string, count: number): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    const started = performance.now();
    await server.ctx.hosts.request(hostId, command(), 10_000);
    samples.push(performance.now() - started);
  }
  return samples;
}

async function concurrent(server: RunningServer, hostId: string, total: number, width: number): Promise<number> {
  const started = performance.now();
  let next = 0;
  const lane = async () => {
    while (next < total) {
      next++;
      await server.ctx.hosts.request(hostId, command(), 30_000);
    }
  };
  await Promise.all(Array.from({ length: width }, lane));
  return total / ((performance.now() - started) / 1000);
}

async function main() {
  const adminUrl = process.env.FLUID_BENCH_DATABASE_URL;
  if (!adminUrl) throw new Error("replicas share PostgreSQL: set FLUID_BENCH_DATABASE_URL");
  const own = await createBenchDatabase(adminUrl, `fluid_bench_replicas_${process.pid}`);
  const database = await openDatabase({ kind: "postgres", url: own.url });
  const servers: RunningServer[] = [];
  let daemon: TestDaemon | undefined;
  const rows: Array<[string, string, string, string]> = [];
  try {
    for (const replicaId of ["bench-a", "bench-b"]) {
      const config = testConfig({ migrate: true, replicaId, log: { level: "silent" } });
      servers.push(await startServer(config, { log: createLogger(config.log), database }));
    }
    const [a, b] = servers as [RunningServer, RunningServer];
    const inject = async (method: string, url: string, body: unknown, headers: Record<string, string> = {}) => {
      const res = await a.app.inject({ method: method as "POST", url, payload: body as object, headers });
      return { body: JSON.parse(res.body || "null"), cookie: res.cookies.find((c) => c.name === "fluid_session") };
    };
    const registered = await inject("POST", "/v1/auth/register", {
      email: "bench@example.com",
      password: "correct horse battery",
      display_name: "bench",
    });
    const cookie = { cookie: `fluid_session=${registered.cookie?.value ?? ""}` };
    await inject("POST", "/v1/orgs", { name: "bench", slug: "bench" }, cookie);
    const token = (await inject("POST", "/v1/orgs/bench/hosts/tokens", { name: "bench" }, cookie)).body as {
      id: string;
      token: string;
    };
    daemon = await TestDaemon.connect(`http://127.0.0.1:${b.grpc.address.port}`, { token: token.token });

    await sequential(b, token.id, 200);
    await sequential(a, token.id, 200);
    const same = await sequential(b, token.id, 1000);
    const cross = await sequential(a, token.id, 1000);
    for (const p of [50, 99]) {
      const ratio = percentile(cross, p) / percentile(same, p);
      rows.push([
        `round trip p${p}, one at a time`,
        `${percentile(cross, p).toFixed(2)} ms`,
        `${percentile(same, p).toFixed(2)} ms`,
        `${ratio.toFixed(1)}x`,
      ]);
    }
    const sameRate = await concurrent(b, token.id, 5000, 64);
    const crossRate = await concurrent(a, token.id, 5000, 64);
    rows.push([
      "commands/s, 64 in flight",
      `${crossRate.toFixed(0)} /s`,
      `${sameRate.toFixed(0)} /s`,
      `${(crossRate / sameRate).toFixed(2)}`,
    ]);
  } finally {
    daemon?.abort();
    for (const server of servers.reverse()) await server.close();
    await database.close();
    await own.drop();
  }

  console.log("host commands: cross-replica (A → PostgreSQL → B → host) vs same-replica (B → host)");
  console.log(["metric".padEnd(32), "cross-replica".padEnd(16), "same-replica".padEnd(16), "ratio"].join(" "));
  for (const [metric, cross, same, ratio] of rows) {
    console.log([metric.padEnd(32), cross.padEnd(16), same.padEnd(16), ratio].join(" "));
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
