import { randomBytes } from "node:crypto";
import type { ServerConfig } from "@fluid/server/testing-api";

/** Server config for tests: ephemeral ports, plaintext gRPC, quiet logs; override per test. */
export function testConfig(overrides: Partial<ServerConfig> = {}): ServerConfig {
  return {
    listen: { host: "127.0.0.1", port: 0 },
    grpcListen: { host: "127.0.0.1", port: 0 },
    database: { kind: "pglite", dataDir: "memory://" },
    replicaId: `test-${process.pid}-${randomBytes(4).toString("hex")}`,
    migrate: false,
    grpc: { insecure: true },
    publicUrl: undefined,
    corsOrigins: [],
    trustedProxies: [],
    secureCookies: false,
    sessionTtlMs: 7 * 86_400_000,
    accessCacheTtlMs: 5_000,
    encryptionKey: undefined,
    insecureDev: false,
    docs: true,
    // API tests run without a dashboard; web/static.test.ts builds its own.
    webDir: "/nonexistent/fluid-web",
    headersTimeoutMs: 10_000,
    requestTimeoutMs: 60_000,
    heartbeatIntervalMs: 10_000,
    missedHeartbeats: 3,
    defaultTtlMs: 24 * 3_600_000,
    maxTtlMs: 7 * 86_400_000,
    hostLostGraceMs: 10 * 60_000,
    reaperIntervalMs: 3_600_000,
    cpuOvercommit: 4,
    quotas: { sandboxes: null, vcpus: null, memoryMb: null, snapshotBytes: null },
    metricsToken: undefined,
    oauth: {},
    log: { level: "silent" },
    ...overrides,
  };
}
