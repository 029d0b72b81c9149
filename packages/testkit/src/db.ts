import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { type Database, openDatabase } from "@fluid/server/testing-api";
import pg from "pg";
import { inject } from "vitest";

// What the global setup provides to every test file; read here through inject().
declare module "vitest" {
  export interface ProvidedContext {
    /** A migrated PGlite data directory dump; each test database starts from a copy. */
    pgliteTemplate: string;
    /** Admin URL of the test PostgreSQL cluster and the migrated template database on it, if any. */
    postgres: { adminUrl: string; template: string; prefix: string } | null;
  }
}

export type DatabaseKind = "pglite" | "postgres";

/** The databases this run covers: PGlite always, PostgreSQL when the run has a cluster. */
export const databaseKinds: DatabaseKind[] = inject("postgres") ? ["pglite", "postgres"] : ["pglite"];

let templateBytes: Promise<Buffer> | undefined;

/** A fresh, migrated, private database of the given kind; close() removes it. */
export async function openTestDatabase(kind: DatabaseKind): Promise<Database> {
  if (kind === "pglite") {
    templateBytes ??= readFile(inject("pgliteTemplate"));
    const bytes = await templateBytes;
    return openDatabase({ kind: "pglite", dataDir: "memory://", loadDataDir: new Blob([new Uint8Array(bytes)]) });
  }
  const postgres = inject("postgres");
  if (!postgres) throw new Error("PostgreSQL is not available in this run");
  const name = `${postgres.prefix}${randomBytes(6).toString("hex")}`;
  const admin = new pg.Client({ connectionString: postgres.adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name} TEMPLATE ${postgres.template}`);
  await admin.end();
  const url = new URL(postgres.adminUrl);
  url.pathname = `/${name}`;
  const database = await openDatabase({ kind: "postgres", url: url.toString(), maxConnections: 8 });
  return {
    ...database,
    close: async () => {
      await database.close();
      const dropper = new pg.Client({ connectionString: postgres.adminUrl });
      await dropper.connect();
      await dropper.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await dropper.end();
    },
  };
}
