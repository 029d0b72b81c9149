import type { AddressInfo } from "node:net";
import { buildApp } from "./app.js";
import { AccessCache } from "./auth/access-cache.js";
import { ChangeRequestService } from "./changes/service.js";
import type { ServerConfig } from "./config/config.js";
import type { AppContext } from "./context.js";
import { type Database, openDatabase } from "./db/database.js";
import { migrateToLatest, pendingMigrations } from "./db/migrate.js";
import type { App } from "./http/types.js";
import { startReaper } from "./jobs/reaper.js";
import { SecretBox } from "./lib/secret-box.js";
import { createLogger, type Logger, redactDatabaseUrl } from "./log/logger.js";
import { FleetStats } from "./metrics/fleet-stats.js";
import { ServerMetrics } from "./metrics/metrics.js";
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
  options: { log?: Logger; database?: Database } = {},
): Promise<RunningServer> {
  const log = options.log ?? createLogger(config.log);
  const database =
    options.database ??
    (await (async () => {
      if (config.database.kind === "postgres") {
        log.info({ database: redactDatabaseUrl(config.database.url) }, "connecting to PostgreSQL");
        return openDatabase({
          kind: "postgres",
          url: config.database.url,
          onIdleError: (err) => log.warn({ err }, "idle database connection failed; it will be replaced"),
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

  const registry = new HostRegistry();
  const metrics = new ServerMetrics({ streams: () => registry.stats(), fleet: new FleetStats(database.db) });
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
    metrics,
  };
  await changeRequests.failInterrupted(startedAt);
  const app = await buildApp(ctx);
  await app.listen({ host: config.listen.host, port: config.listen.port });
  const streams = hostService({
    db: database.db,
    log,
    registry,
    heartbeatIntervalMs: config.heartbeatIntervalMs,
    missedHeartbeats: config.missedHeartbeats,
    observeCommand: metrics.observeHostCommand,
    events: {
      resourceReport: (session, report) => sandboxes.onResourceReport(session, report),
      stateChanged: (session, change) => sandboxes.onStateChanged(session, change),
      progress: (session, progress) => sandboxes.onProgress(session, progress),
    },
  });
  const grpc = await startGrpcServer(config, streams.impl);
  const reaper = startReaper({
    db: database.db,
    log,
    sandboxes,
    intervalMs: config.reaperIntervalMs,
    livenessMs: config.heartbeatIntervalMs * config.missedHeartbeats,
  });

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      await reaper.stop();
      await Promise.race([app.close(), new Promise((resolve) => setTimeout(resolve, HTTP_DRAIN_MS).unref())]);
      registry.closeAll(new StreamClosedError("server_shutdown"));
      await streams.drained();
      await grpc.close(GRPC_DRAIN_MS);
      await sandboxes.settle();
      await changeRequests.settle();
      if (!options.database) await database.close();
    })();
    return closing;
  };

  return { app, ctx, database, grpc, restAddress: app.server.address() as AddressInfo, close };
}
