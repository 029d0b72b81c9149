import type { AddressInfo } from "node:net";
import { buildApp } from "./app.js";
import { AccessCache } from "./auth/access-cache.js";
import { ChangeRequestService } from "./changes/service.js";
import type { ServerConfig } from "./config/config.js";
import type { AppContext } from "./context.js";
import { type Database, openDatabase } from "./db/database.js";
import { migrateToLatest, pendingMigrations } from "./db/migrate.js";
import { databaseErrorFields } from "./db/unavailable.js";
import { Readiness, type ReadinessOptions } from "./health/readiness.js";
import type { App } from "./http/types.js";
import { type Reaper, startReaper } from "./jobs/reaper.js";
import { type JobLocks, jobLocks } from "./jobs/singleton.js";
import { SecretBox } from "./lib/secret-box.js";
import { createLogger, type Logger, redactDatabaseUrl } from "./log/logger.js";
import { FleetStats } from "./metrics/fleet-stats.js";
import { ServerMetrics } from "./metrics/metrics.js";
import { ReplicaCluster } from "./replicas/cluster.js";
import { HostRouter } from "./replicas/hosts.js";
import { SandboxService } from "./sandboxes/service.js";
import { SourceRelay } from "./sources/relay.js";
import { StreamClosedError } from "./stream/errors.js";
import { type GrpcServer, startGrpcServer } from "./stream/grpc-server.js";
import { hostService } from "./stream/host-service.js";
import { HostRegistry } from "./stream/registry.js";

export interface RunningServer {
  app: App;
  ctx: AppContext;
  database: Database;
  grpc: GrpcServer;
  jobs: JobLocks;
  reaper: Reaper;
  restAddress: AddressInfo;
  close(): Promise<void>;
}

const HTTP_DRAIN_MS = 10_000;
const GRPC_DRAIN_MS = 5_000;

/**
 * Starts the control plane: database (migrated only when asked), REST API, host stream and the
 * reaper. Shutdown drains HTTP first (its requests may still need host streams), then the streams.
 */
export async function startServer(
  config: ServerConfig,
  options: { log?: Logger; database?: Database; readiness?: Partial<ReadinessOptions> } = {},
): Promise<RunningServer> {
  const log = options.log ?? createLogger(config.log);
  let connectionFailed = () => {};
  const database =
    options.database ??
    (await (async () => {
      if (config.database.kind === "postgres") {
        log.info({ database: redactDatabaseUrl(config.database.url) }, "connecting to PostgreSQL");
        return openDatabase({
          kind: "postgres",
          url: config.database.url,
          onIdleError: (err) => {
            log.warn({ err: databaseErrorFields(err) }, "idle database connection failed; it will be replaced");
            connectionFailed();
          },
        });
      }
      log.info({ dataDir: config.database.dataDir }, "opening embedded PGlite database");
      return openDatabase({ kind: "pglite", dataDir: config.database.dataDir });
    })());

  try {
    if (config.migrate) {
      const applied = await migrateToLatest(database.db);
      if (applied.length > 0) log.info({ applied }, "migrations applied");
    } else {
      const pending = await pendingMigrations(database.db);
      if (pending.length > 0) {
        throw new Error(`database schema is out of date (pending: ${pending.join(", ")}); start with --migrate`);
      }
    }
  } catch (err) {
    if (!options.database) await database.close();
    throw err;
  }

  const local = new HostRegistry();
  // PGlite is one process's database: only PostgreSQL has replicas to share hosts with.
  const cluster =
    database.kind === "postgres" && database.url
      ? new ReplicaCluster({ db: database.db, log, replicaId: config.replicaId, url: database.url, local })
      : undefined;
  await cluster?.start().catch(async (err: unknown) => {
    if (!options.database) await database.close();
    throw err;
  });
  const registry = new HostRouter(local, cluster);
  const readiness = new Readiness({
    db: database.db,
    log,
    options: options.readiness,
    // Daemons whose stream is here reconnect, and land on a replica that can serve them.
    onUnready: () => local.closeAll(new StreamClosedError("database_unavailable")),
  });
  connectionFailed = () => readiness.connectionFailed();
  const metrics = new ServerMetrics({ streams: () => local.stats(), fleet: new FleetStats(database.db) });
  const sandboxes = new SandboxService({ db: database.db, config, log, hosts: registry, metrics });
  const secrets = new SecretBox(config.encryptionKey, { allowPlaintext: config.insecureDev });
  const changeRequests = new ChangeRequestService({
    db: database.db,
    log,
    sandboxes,
    sources: new SourceRelay({ db: database.db, secrets, hosts: registry }),
  });
  const startedAt = new Date();
  const ctx: AppContext = {
    db: database.db,
    access: new AccessCache(config.accessCacheTtlMs),
    config,
    log,
    cookies: { secure: config.secureCookies, ttlMs: config.sessionTtlMs },
    hosts: registry,
    sandboxes,
    secrets,
    changeRequests,
    readiness,
    metrics,
  };
  const jobs = jobLocks(database);
  // One process per PGlite directory: whatever it had claimed before this start was interrupted. On
  // PostgreSQL other replicas may be running work right now, so only work nobody renews is ended.
  if (database.kind === "pglite") await changeRequests.failInterrupted(startedAt);
  else await jobs.runExclusive("interrupted-work", () => changeRequests.failStale());
  const app = await buildApp(ctx);
  await app.listen({ host: config.listen.host, port: config.listen.port });
  const streams = hostService({
    db: database.db,
    log,
    registry,
    heartbeatIntervalMs: config.heartbeatIntervalMs,
    missedHeartbeats: config.missedHeartbeats,
    refusal: () =>
      readiness.databaseReady ? undefined : "this control-plane replica cannot reach its database; try another",
    observeCommand: metrics.observeHostCommand,
    events: {
      resourceReport: (session, report) => sandboxes.onResourceReport(session, report),
      stateChanged: (session, change) => sandboxes.onStateChanged(session, change),
      progress: (session, progress) => sandboxes.onProgress(session, progress),
    },
  });
  const grpc = await startGrpcServer(config, streams.impl);
  readiness.start();
  const reaper = startReaper({
    db: database.db,
    log,
    sandboxes,
    changeRequests,
    jobs,
    intervalMs: config.reaperIntervalMs,
    livenessMs: config.heartbeatIntervalMs * config.missedHeartbeats,
  });

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      readiness.drain();
      await reaper.stop();
      await Promise.race([app.close(), new Promise((resolve) => setTimeout(resolve, HTTP_DRAIN_MS).unref())]);
      registry.closeAll(new StreamClosedError("server_shutdown"));
      await streams.drained();
      await cluster?.stop();
      await grpc.close(GRPC_DRAIN_MS);
      await sandboxes.settle();
      await changeRequests.settle();
      await readiness.stop();
      if (!options.database) await database.close();
    })();
    return closing;
  };

  return { app, ctx, database, grpc, jobs, reaper, restAddress: app.server.address() as AddressInfo, close };
}
