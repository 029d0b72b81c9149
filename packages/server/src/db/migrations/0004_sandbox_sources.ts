import { type Kysely, sql } from "kysely";

/**
 * A sandbox cloned from a source VM remembers which source host it came from and when that VM's disk
 * was captured (how stale the clone is), and while it is being created (a pull can take minutes) it
 * shows how far the host has got. A prepared source VM trusts the SSH CA of the sandbox host that
 * prepared it, so that host is recorded and answers for the VM.
 */
const statements = [
  `ALTER TABLE sandboxes ADD COLUMN source_host_id uuid`,
  `ALTER TABLE sandboxes ADD COLUMN progress jsonb`,
  `ALTER TABLE sandboxes ADD COLUMN source_captured_at timestamptz`,
  `CREATE TABLE source_vm_preparations (
    source_host_id uuid NOT NULL REFERENCES source_hosts (id) ON DELETE CASCADE,
    vm text NOT NULL,
    org_id uuid NOT NULL REFERENCES orgs (id),
    host_id uuid NOT NULL,
    prepared_by uuid NOT NULL REFERENCES users (id),
    prepared_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source_host_id, vm)
  )`,
];

export async function up(db: Kysely<unknown>): Promise<void> {
  for (const statement of statements) await sql.raw(statement).execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql.raw("DROP TABLE IF EXISTS source_vm_preparations").execute(db);
  await sql
    .raw(
      "ALTER TABLE sandboxes DROP COLUMN IF EXISTS progress, DROP COLUMN IF EXISTS source_host_id, DROP COLUMN IF EXISTS source_captured_at",
    )
    .execute(db);
}
