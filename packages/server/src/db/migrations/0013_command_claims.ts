import { type Kysely, sql } from "kysely";

/**
 * A host command records which stream it was sent on (the replica and its lease epoch). Once that
 * stream no longer holds the host's live lease, nobody can answer the command any more, even though
 * the host itself may already be reachable again through another replica.
 */
const up_ = ["ALTER TABLE host_commands ADD COLUMN claimed_by text, ADD COLUMN claimed_epoch bigint"];

const down_ = ["ALTER TABLE host_commands DROP COLUMN IF EXISTS claimed_by, DROP COLUMN IF EXISTS claimed_epoch"];

export async function up(db: Kysely<unknown>): Promise<void> {
  for (const statement of up_) await sql.raw(statement).execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const statement of down_) await sql.raw(statement).execute(db);
}
