import { type Kysely, sql } from "kysely";

/**
 * Applying approved changes to a source host's VMs is opt-in per host (its owner enables it); every
 * host starts, and existing hosts stay, read-only. Apply runs are audited with the other source
 * commands, as kind `apply`.
 */
const up_ = [
  "ALTER TABLE source_hosts ADD COLUMN apply_enabled boolean NOT NULL DEFAULT false",
  "ALTER TABLE source_commands DROP CONSTRAINT source_commands_kind_check",
  `ALTER TABLE source_commands ADD CONSTRAINT source_commands_kind_check
    CHECK (kind IN ('list', 'prepare', 'run', 'read_file', 'apply'))`,
];

const down_ = [
  "DELETE FROM source_commands WHERE kind = 'apply'",
  "ALTER TABLE source_commands DROP CONSTRAINT source_commands_kind_check",
  `ALTER TABLE source_commands ADD CONSTRAINT source_commands_kind_check
    CHECK (kind IN ('list', 'prepare', 'run', 'read_file'))`,
  "ALTER TABLE source_hosts DROP COLUMN apply_enabled",
];

export async function up(db: Kysely<unknown>): Promise<void> {
  for (const statement of up_) await sql.raw(statement).execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const statement of down_) await sql.raw(statement).execute(db);
}
