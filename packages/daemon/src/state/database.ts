import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import { Kysely, type Migration, Migrator, SqliteDialect, sql } from "kysely";
import type { DaemonDB } from "./schema.js";

const migrations: Record<string, Migration> = {
  "0001_init": {
    async up(db: Kysely<any>) {
      for (const statement of [
        `CREATE TABLE sandboxes (
          id TEXT PRIMARY KEY,
          name TEXT NOT NULL,
          image TEXT NOT NULL,
          state TEXT NOT NULL CHECK (state IN ('CREATING','RUNNING','STOPPED','DESTROYED','ERROR')),
          vcpus INTEGER NOT NULL,
          memory_mb INTEGER NOT NULL,
          allow_egress INTEGER NOT NULL DEFAULT 0,
          dir TEXT NOT NULL,
          pid INTEGER,
          ip TEXT,
          mac TEXT,
          tap TEXT,
          network TEXT,
          agent_id TEXT,
          created_at INTEGER NOT NULL,
          updated_at INTEGER NOT NULL,
          expires_at INTEGER,
          ended_at INTEGER,
          end_reason TEXT,
          error TEXT
        )`,
        "CREATE INDEX sandboxes_live ON sandboxes (ended_at, expires_at)",
        `CREATE TABLE snapshots (
          id TEXT PRIMARY KEY,
          sandbox_id TEXT NOT NULL,
          name TEXT NOT NULL,
          dir TEXT NOT NULL,
          image TEXT NOT NULL,
          vcpus INTEGER NOT NULL,
          memory_mb INTEGER NOT NULL,
          has_memory INTEGER NOT NULL,
          size_bytes INTEGER NOT NULL,
          created_at INTEGER NOT NULL
        )`,
        `CREATE TABLE ip_leases (
          sandbox_id TEXT PRIMARY KEY,
          ip TEXT NOT NULL UNIQUE,
          mac TEXT NOT NULL UNIQUE
        )`,
        `CREATE TABLE meta (
          key TEXT PRIMARY KEY,
          value TEXT NOT NULL,
          updated_at INTEGER NOT NULL DEFAULT (unixepoch() * 1000)
        )`,
      ]) {
        await sql.raw(statement).execute(db);
      }
    },
  },
  "0002_warm_pool": {
    async up(db: Kysely<any>) {
      // Warm pool entries are sandboxes no create has claimed yet: hidden from listings and reports.
      await sql.raw("ALTER TABLE sandboxes ADD COLUMN pooled INTEGER NOT NULL DEFAULT 0").execute(db);
    },
  },
  "0003_egress_allowlist": {
    async up(db: Kysely<any>) {
      // A JSON array of allowlist entries; allow_egress stays 0 while a sandbox has one.
      await sql.raw("ALTER TABLE sandboxes ADD COLUMN egress_allow TEXT").execute(db);
    },
  },
  "0004_processes": {
    async up(db: Kysely<any>) {
      // Background processes outlive requests and daemon restarts; their output stays in the guest.
      await sql
        .raw(`CREATE TABLE processes (
          id TEXT PRIMARY KEY,
          sandbox_id TEXT NOT NULL,
          name TEXT NOT NULL,
          command TEXT NOT NULL,
          pid INTEGER,
          state TEXT NOT NULL CHECK (state IN ('running','exited','lost')),
          exit_code INTEGER,
          started_at INTEGER NOT NULL,
          ended_at INTEGER
        )`)
        .execute(db);
      await sql.raw("CREATE INDEX processes_sandbox ON processes (sandbox_id, started_at)").execute(db);
    },
  },
};

export interface DaemonDatabase {
  db: Kysely<DaemonDB>;
  /** The raw connection, for the synchronous bits (IP lease store). */
  sqlite: Database.Database;
  close(): Promise<void>;
}

/** Opens (and migrates) the daemon's SQLite state in WAL mode. */
export async function openDaemonDatabase(path: string): Promise<DaemonDatabase> {
  if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const sqlite = new Database(path);
  sqlite.pragma("journal_mode = WAL");
  sqlite.pragma("synchronous = NORMAL");
  sqlite.pragma("busy_timeout = 5000");
  sqlite.pragma("foreign_keys = ON");
  const db = new Kysely<DaemonDB>({ dialect: new SqliteDialect({ database: sqlite }) });
  const result = await new Migrator({ db, provider: { getMigrations: async () => migrations } }).migrateToLatest();
  if (result.error) throw new Error(`daemon state migration failed: ${String(result.error)}`, { cause: result.error });
  return { db, sqlite, close: () => db.destroy() };
}
