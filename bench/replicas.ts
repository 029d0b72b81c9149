/**
 * Several control-plane replicas on one PostgreSQL (SPEC §6, §10), in one run against a private cluster
 * the bench starts:
 *   rest        GET one sandbox with 1, 2 and 3 real `fluid-server` processes behind a connection-level
 *               round robin: req/s, and 2 replicas vs 1 (target ≥ 1.6×)
 *   heartbeats  1,000 simulated daemons spread over 2 replicas: connect all / one heartbeat round
 * Usage: node --import tsx bench/replicas.ts [rest|heartbeats …] [--seconds N] [--concurrency N]
 *        (all sections when none named; defaults 5 s, 32 connections)
 */

import { parseArgs } from "node:util";
import pg from "pg";
import { startServer, type TestServerProcess } from "../e2e/lib/server.ts";
import { startPrivatePostgres } from "../packages/testkit/src/private-postgres.ts";
import { TestDaemon } from "../packages/testkit/src/test-daemon.ts";
import { throughput } from "./lib/load.ts";
import { printResults, type ResultRow } from "./lib/results.ts";

/** Answers the body of a call that must succeed. */
async function ok(reply: Promise<{ status: number; body: any }>, what: string) {
  const { status, body } = await reply;
  if (status >= 300) throw new Error(`${what}: ${status} ${JSON.stringify(body)}`);
  return body;
}

const SECTIONS = ["rest", "heartbeats"];

async function main() {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { seconds: { type: "string", default: "5" }, concurrency: { type: "string", default: "32" } },
  });
  const unknown = positionals.filter((n) => !SECTIONS.includes(n));
  if (unknown.length > 0) throw new Error(`unknown section ${unknown.join(", ")}; choose from ${SECTIONS.join(", ")}`);
  const want = (section: string) => positionals.length === 0 || positionals.includes(section);
  const seconds = Number(values.seconds);
  const concurrency = Number(values.concurrency);

  const postgres = await startPrivatePostgres();
  const replicas: TestServerProcess[] = [];
  const startReplica = async () =>
    replicas.push(await startServer({ databaseUrl: postgres.url, replicaId: `bench-${replicas.length + 1}` }));
  const grpcUrl = (replica: TestServerProcess) => `http://${replica.grpc}`;
  const daemons: TestDaemon[] = [];
  const results: ResultRow[] = [];
  try {
    await startReplica();
    const first = replicas[0] as TestServerProcess;
    const { key } = await first.bootstrap("bench");
    const newToken = async (name: string) =>
      (await ok(first.call("POST", "/v1/orgs/bench/hosts/tokens", { key, body: { name } }), "host token"))
        .token as string;
    daemons.push(await TestDaemon.connect(grpcUrl(first), { token: await newToken("bench"), keepAlive: true }));
    const sandbox = (await ok(
      first.call("POST", "/v1/orgs/bench/sandboxes", { key, body: { source_vm: "debian-12" } }),
      "create sandbox",
    )) as { id: string };
    const path = `/v1/orgs/bench/sandboxes/${sandbox.id}`;
    const headers = { authorization: `Bearer ${key}` };

    if (want("rest")) {
      const rps: number[] = [];
      for (const count of [1, 2, 3]) {
        while (replicas.length < count) await startReplica();
        const urls = replicas.slice(0, count).map((r) => `${r.url}${path}`);
        await throughput(urls, headers, 1, concurrency);
        rps.push(await throughput(urls, headers, seconds, concurrency));
      }
      const [one = 0, two = 0, three = 0] = rps;
      results.push(["REST GET sandbox, 1 replica", `${one.toFixed(0)} req/s`, "-", "-", "-"]);
      results.push([
        "REST GET sandbox, 2 replicas",
        `${two.toFixed(0)} req/s`,
        `${one.toFixed(0)} req/s`,
        (two / one).toFixed(2),
        two / one >= 1.6 ? "yes" : "NO",
      ]);
      results.push([
        "REST GET sandbox, 3 replicas",
        `${three.toFixed(0)} req/s`,
        `${one.toFixed(0)} req/s`,
        (three / one).toFixed(2),
        "-",
      ]);
    }

    if (want("heartbeats")) {
      while (replicas.length < 2) await startReplica();
      const pair = replicas.slice(0, 2);
      const connectStarted = performance.now();
      for (let i = 0; i < 1000; i++) {
        const target = pair[i % 2] as TestServerProcess;
        daemons.push(
          await TestDaemon.connect(grpcUrl(target), { token: await newToken(`fleet-${i}`), keepAlive: true }),
        );
      }
      const connectSeconds = (performance.now() - connectStarted) / 1000;
      const beatStarted = performance.now();
      for (const daemon of daemons) daemon.heartbeat();
      const db = new pg.Client({ connectionString: postgres.url });
      await db.connect();
      let online = 0;
      try {
        for (let i = 0; i < 300 && online < daemons.length; i++) {
          await new Promise((r) => setTimeout(r, 100));
          const { rows } = await db.query<{ n: string }>(
            "SELECT count(*) AS n FROM hosts WHERE status = 'ONLINE' AND last_heartbeat > now() - interval '60 seconds'",
          );
          online = Number(rows[0]?.n ?? 0);
        }
      } finally {
        await db.end();
      }
      const beatSeconds = (performance.now() - beatStarted) / 1000;
      results.push([
        "1,000 daemons on 2 replicas: connect / beat",
        `${connectSeconds.toFixed(1)} s / ${beatSeconds.toFixed(2)} s`,
        `${online} ONLINE`,
        "-",
        online >= daemons.length ? "yes" : "NO",
      ]);
    }
  } finally {
    for (const daemon of daemons) daemon.abort();
    for (const replica of replicas) await replica.dispose();
    await postgres.destroy();
  }
  printResults(`${replicas.length} fluid-server replicas on one PostgreSQL (private cluster)`, results);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
