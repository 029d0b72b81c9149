import { mkdir } from "node:fs/promises";
import { PGlite } from "@electric-sql/pglite";
import { createPgConfig } from "@electric-sql/pglite/node-postgres";
import { Kysely, PostgresDialect } from "kysely";
import pg from "pg";
import { lockDataDir } from "./data-dir-lock.js";
import type { DB } from "./schema.js";

export interface Database {
  db: Kysely<DB>;
  kind: "pglite" | "postgres";
  /** PostgreSQL only: where a replica opens its dedicated LISTEN connection. */
  url?: string;
  close(): Promise<void>;
}

export type DatabaseTarget =
  | { kind: "pglite"; dataDir: string; loadDataDir?: Blob }
  | {
      kind: "postgres";
      url: string;
      maxConnections?: number;
      /** An idle pooled connection failing (server restart, admin kill) is reported here, not thrown. */
      onIdleError?: (err: Error) => void;
    };

/**
 * Opens either database behind the same Kysely dialect: PGlite through its node-postgres
 * adapter (one connection, so transactions serialise) or a pg pool for PostgreSQL.
 */
export async function openDatabase(target: DatabaseTarget): Promise<Database> {
  if (target.kind === "postgres") {
    const pool = new pg.Pool({
      connectionString: target.url,
      max: target.maxConnections ?? 16,
      connectionTimeoutMillis: 10_000,
    });
    // Without a listener an idle client's error (e.g. PostgreSQL restarting) would crash the process;
    // the pool drops that client and the next query opens a fresh one.
    pool.on("error", (err) =>
      (target.onIdleError ?? ((e: Error) => process.stderr.write(`database: ${e.message}\n`)))(err),
    );
    const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool }) });
    return { db, kind: "postgres", url: target.url, close: () => db.destroy() };
  }
  let lock: { release(): void } | undefined;
  if (!target.dataDir.startsWith("memory://")) {
    await mkdir(target.dataDir, { recursive: true });
    lock = lockDataDir(target.dataDir);
  }
  let pglite: PGlite;
  try {
    pglite = await PGlite.create(target.dataDir, target.loadDataDir ? { loadDataDir: target.loadDataDir } : undefined);
  } catch (err) {
    lock?.release();
    throw err;
  }
  const pool = new pg.Pool(createPgConfig(pglite));
  const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool }) });
  return {
    db,
    kind: "pglite",
    close: async () => {
      await db.destroy();
      await pglite.close();
      lock?.release();
    },
  };
}
