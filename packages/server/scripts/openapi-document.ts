/**
 * Writes the REST API's OpenAPI document to a file without a database or listeners: the SDK's
 * types are generated from it (`npm run generate -w @fluid/sdk`). Usage: openapi-document.ts OUT
 */
import { mkdir, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { Kysely, PostgresDialect } from "kysely";
import pg from "pg";
import pino from "pino";
import { buildApp } from "../src/app.js";
import { loadConfig } from "../src/config/config.js";
import type { DB } from "../src/db/schema.js";
import { Readiness } from "../src/health/readiness.js";
import { SecretBox } from "../src/lib/secret-box.js";
import { FleetStats } from "../src/metrics/fleet-stats.js";
import { ServerMetrics } from "../src/metrics/metrics.js";
import { SandboxService } from "../src/sandboxes/service.js";
import { HostRegistry } from "../src/stream/registry.js";

const out = process.argv[2];
if (!out) throw new Error("usage: openapi-document.ts OUT.json");
const config = loadConfig([], { FLUID_GRPC_INSECURE: "1" });
if ("help" in config) throw new Error("unexpected --help");
const log = pino({ level: "silent" });
// Building the app registers routes only; this pool is never connected.
const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool: new pg.Pool() }) });
const hosts = new HostRegistry();
const metrics = new ServerMetrics({ streams: () => hosts.stats(), fleet: new FleetStats(db) });
const app = await buildApp({
  db,
  config,
  log,
  cookies: { secure: false, ttlMs: config.sessionTtlMs },
  hosts,
  sandboxes: new SandboxService({ db, config, log, hosts }),
  secrets: new SecretBox(undefined, { allowPlaintext: false }),
  readiness: new Readiness({ db, log }),
  metrics,
});
await mkdir(dirname(out), { recursive: true });
await writeFile(out, `${JSON.stringify(app.swagger(), null, 2)}\n`);
await app.close();
await db.destroy();
