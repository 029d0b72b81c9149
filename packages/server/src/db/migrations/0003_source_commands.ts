import { type Kysely, sql } from "kysely";

/**
 * The audit trail of read-only access to production (SPEC §5): every command run on, file read
 * from, listing of and preparation of a source VM, refused ones included. Rows outlive the source
 * host they name (no foreign key), so removing a host does not erase what was done on it.
 */
const statements = [
  `CREATE TABLE source_commands (
    id uuid PRIMARY KEY,
    org_id uuid NOT NULL REFERENCES orgs (id),
    source_host_id uuid NOT NULL,
    source_host_name text NOT NULL,
    host_id uuid,
    vm text NOT NULL,
    kind text NOT NULL CHECK (kind IN ('list', 'prepare', 'run', 'read_file')),
    command text NOT NULL,
    outcome text NOT NULL CHECK (outcome IN ('ok', 'refused', 'failed')),
    exit_code integer,
    detail text,
    actor_user_id uuid NOT NULL REFERENCES users (id),
    actor_key_id uuid,
    started_at timestamptz NOT NULL DEFAULT now(),
    duration_ms integer NOT NULL DEFAULT 0
  )`,
  `CREATE INDEX source_commands_org_started ON source_commands (org_id, started_at DESC)`,
];

export async function up(db: Kysely<unknown>): Promise<void> {
  for (const statement of statements) await sql.raw(statement).execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql.raw("DROP TABLE IF EXISTS source_commands").execute(db);
}
