import { type Kysely, sql } from "kysely";

/**
 * A fork remembers the sandbox it was forked from and the snapshot it started from, so a set of
 * forks can be traced back to its parent after the parent has ended.
 */
const up_ = [
  "ALTER TABLE sandboxes ADD COLUMN forked_from uuid REFERENCES sandboxes (id)",
  "ALTER TABLE sandboxes ADD COLUMN fork_snapshot_id uuid REFERENCES snapshots (id)",
  "CREATE INDEX sandboxes_forked_from ON sandboxes (forked_from) WHERE forked_from IS NOT NULL",
];

const down_ = [
  "DROP INDEX IF EXISTS sandboxes_forked_from",
  "ALTER TABLE sandboxes DROP COLUMN IF EXISTS fork_snapshot_id, DROP COLUMN IF EXISTS forked_from",
];

export async function up(db: Kysely<unknown>): Promise<void> {
  for (const statement of up_) await sql.raw(statement).execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const statement of down_) await sql.raw(statement).execute(db);
}
