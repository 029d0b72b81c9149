import { type Kysely, type Migration, type MigrationResultSet, Migrator } from "kysely";
import * as m0001 from "./migrations/0001_init.js";
import * as m0002 from "./migrations/0002_playbooks.js";
import * as m0003 from "./migrations/0003_source_commands.js";
import * as m0004 from "./migrations/0004_sandbox_sources.js";
import * as m0005 from "./migrations/0005_org_invitations.js";
import * as m0006 from "./migrations/0006_change_requests.js";
import * as m0007 from "./migrations/0007_audit_events.js";
import * as m0008 from "./migrations/0008_source_host_apply.js";
import * as m0009 from "./migrations/0009_sandbox_forks.js";
import * as m0010 from "./migrations/0010_quotas_usage.js";
import * as m0011 from "./migrations/0011_replicas.js";
import * as m0012 from "./migrations/0012_work_keepalive.js";
import * as m0013 from "./migrations/0013_command_claims.js";
import * as m0014 from "./migrations/0014_egress_allowlist.js";
import * as m0015 from "./migrations/0015_e2b.js";

/** Versioned migrations, applied in name order. Add a file and list it here; never edit a shipped one. */
const migrations: Record<string, Migration> = {
  "0001_init": m0001,
  "0002_playbooks": m0002,
  "0003_source_commands": m0003,
  "0004_sandbox_sources": m0004,
  "0005_org_invitations": m0005,
  "0006_change_requests": m0006,
  "0007_audit_events": m0007,
  "0008_source_host_apply": m0008,
  "0009_sandbox_forks": m0009,
  "0010_quotas_usage": m0010,
  "0011_replicas": m0011,
  "0012_work_keepalive": m0012,
  "0013_command_claims": m0013,
  "0014_egress_allowlist": m0014,
  "0015_e2b": m0015,
};

export function migrator(db: Kysely<any>): Migrator {
  return new Migrator({
    db,
    provider: { getMigrations: async () => migrations },
    migrationTableName: "schema_migrations",
    migrationLockTableName: "schema_migrations_lock",
  });
}

export async function migrateToLatest(db: Kysely<any>): Promise<string[]> {
  const result: MigrationResultSet = await migrator(db).migrateToLatest();
  if (result.error) {
    const failed = result.results?.find((r) => r.status === "Error")?.migrationName ?? "unknown";
    throw new Error(`migration ${failed} failed: ${String(result.error)}`, { cause: result.error });
  }
  return (result.results ?? []).filter((r) => r.status === "Success").map((r) => r.migrationName);
}

/** Names of migrations not yet applied; the server refuses to start on a stale schema. */
export async function pendingMigrations(db: Kysely<any>): Promise<string[]> {
  const all = await migrator(db).getMigrations();
  return all.filter((m) => m.executedAt === undefined).map((m) => m.name);
}
