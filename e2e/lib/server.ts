import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { repoRoot } from "./global-setup.js";
import { freePort, type Started, startUntilReady } from "./processes.js";

export interface TestServerProcess {
  url: string;
  grpc: string;
  /** The PostgreSQL database it runs on (undefined on PGlite); another server may start on it. */
  databaseUrl: string | undefined;
  process: Started;
  /** JSON call with an API key or session cookie. */
  call<T = any>(
    method: string,
    path: string,
    options?: { body?: unknown; key?: string; cookie?: string },
  ): Promise<{ status: number; body: T; setCookie: string | null }>;
  /** A user, an org and an admin API key: the usual start for a test. */
  bootstrap(slug: string): Promise<{ cookie: string; key: string }>;
  /** Runs SQL on the server's database behind its back (PostgreSQL only: PGlite is held by the server). */
  sql<R = Record<string, unknown>>(text: string): Promise<R[]>;
  dispose(): Promise<void>;
}

/**
 * A real `fluid-server` process: on PostgreSQL when the run has a cluster (FLUID_TEST_DATABASE_URL,
 * a fresh database per server), otherwise on PGlite in a temporary directory. With `databaseUrl` it
 * joins another server's database as a further replica (`replicaId` names it); the database then
 * stays with the server that created it, so dispose the joining server first. The host stream is
 * plaintext unless `tls` names a certificate and key.
 */
export async function startServer(
  options: {
    env?: Record<string, string>;
    databaseUrl?: string | undefined;
    replicaId?: string;
    /** A cluster of the test's own instead of the run's. */
    adminUrl?: string;
    tls?: { cert: string; key: string };
  } = {},
): Promise<TestServerProcess> {
  const dataDir = await mkdtemp(join(tmpdir(), "fluid-e2e-server-"));
  const adminUrl = options.adminUrl ?? process.env.FLUID_TEST_DATABASE_URL;
  let databaseUrl = options.databaseUrl;
  let database: string | undefined;
  if (adminUrl && !databaseUrl) {
    database = `fluid_e2e_${randomBytes(5).toString("hex")}`;
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${database}`);
    await admin.end();
    const url = new URL(adminUrl);
    url.pathname = `/${database}`;
    databaseUrl = url.toString();
  }
  const [restPort, grpcPort] = [await freePort(), await freePort()];
  const started = await startUntilReady(
    [
      process.execPath,
      join(repoRoot, "packages/server/bin/fluid-server.js"),
      "--listen",
      `127.0.0.1:${restPort}`,
      "--grpc-listen",
      `127.0.0.1:${grpcPort}`,
      "--data-dir",
      dataDir,
      ...(options.tls ? ["--tls-cert", options.tls.cert, "--tls-key", options.tls.key] : ["--insecure"]),
      "--migrate",
      ...(options.replicaId ? ["--replica-id", options.replicaId] : []),
    ],
    {
      env: {
        ...(databaseUrl ? { DATABASE_URL: databaseUrl } : { DATABASE_URL: "" }),
        FLUID_LOG_LEVEL: "warn",
        ...options.env,
      },
    },
  );
  const url = `http://127.0.0.1:${restPort}`;
  const server: TestServerProcess = {
    url,
    grpc: `127.0.0.1:${grpcPort}`,
    databaseUrl,
    process: started,
    async call(method, path, options = {}) {
      const response = await fetch(`${url}${path}`, {
        method,
        headers: {
          ...(options.body === undefined ? {} : { "content-type": "application/json" }),
          ...(options.key ? { authorization: `Bearer ${options.key}` } : {}),
          ...(options.cookie ? { cookie: options.cookie } : {}),
        },
        ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
      });
      const text = await response.text();
      return {
        status: response.status,
        body: text ? JSON.parse(text) : undefined,
        setCookie: response.headers.get("set-cookie"),
      };
    },
    async bootstrap(slug) {
      const registered = await server.call("POST", "/v1/auth/register", {
        body: { email: `${slug}@example.com`, password: "correct horse battery", display_name: slug },
      });
      const cookie = (registered.setCookie ?? "").split(";")[0] ?? "";
      await server.call("POST", "/v1/orgs", { cookie, body: { name: slug, slug } });
      const key = await server.call("POST", `/v1/orgs/${slug}/api-keys`, {
        cookie,
        body: { name: "e2e", role: "admin" },
      });
      return { cookie, key: key.body.key as string };
    },
    async sql(text) {
      if (!databaseUrl) throw new Error("the server runs on PGlite, which only the server process can open");
      const client = new pg.Client({ connectionString: databaseUrl });
      await client.connect();
      try {
        return (await client.query(text)).rows;
      } finally {
        await client.end();
      }
    },
    async dispose() {
      await started.stop();
      await rm(dataDir, { recursive: true, force: true });
      if (adminUrl && database) {
        const admin = new pg.Client({ connectionString: adminUrl });
        await admin.connect();
        await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
        await admin.end();
      }
    },
  };
  return server;
}
