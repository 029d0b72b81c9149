import { type Kysely, sql } from "kysely";

/**
 * E2B compatibility: a sandbox's metadata (labels shown in lists and filtered on) and env vars (set
 * for every command run through the E2B API); and the E2B view of background processes, which envd
 * names by guest pid and describes by the argv, envs and cwd it was started with.
 */
const up_ = [
  "ALTER TABLE sandboxes ADD COLUMN metadata jsonb NOT NULL DEFAULT '{}'::jsonb",
  "ALTER TABLE sandboxes ADD COLUMN env_vars jsonb NOT NULL DEFAULT '{}'::jsonb",
  `CREATE TABLE e2b_processes (
    org_id uuid NOT NULL REFERENCES orgs (id),
    sandbox_id uuid NOT NULL REFERENCES sandboxes (id) ON DELETE CASCADE,
    process_id text NOT NULL,
    pid integer NOT NULL,
    config jsonb NOT NULL,
    tag text,
    stdin boolean NOT NULL,
    signal text,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (sandbox_id, process_id)
  )`,
  "CREATE INDEX e2b_processes_pid ON e2b_processes (sandbox_id, pid, created_at)",
];

const down_ = [
  "DROP TABLE IF EXISTS e2b_processes",
  "ALTER TABLE sandboxes DROP COLUMN IF EXISTS env_vars",
  "ALTER TABLE sandboxes DROP COLUMN IF EXISTS metadata",
];

export async function up(db: Kysely<unknown>): Promise<void> {
  for (const statement of up_) await sql.raw(statement).execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const statement of down_) await sql.raw(statement).execute(db);
}
