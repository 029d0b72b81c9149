import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import pg from "pg";
import { inject } from "vitest";
import { type Database, openDatabase } from "../db/database.js";

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
