import { type Kysely, sql } from "kysely";

/**
 * The server running a change request's verification or apply renews `worker_seen_at` while it works,
 * so with several replicas a stopped worker's claim is found by its age, without failing work another
 * live replica is still doing.
 */
const up_ = ["ALTER TABLE change_requests ADD COLUMN worker_seen_at timestamptz"];

const down_ = ["ALTER TABLE change_requests DROP COLUMN IF EXISTS worker_seen_at"];

export async function up(db: Kysely<unknown>): Promise<void> {
  for (const statement of up_) await sql.raw(statement).execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const statement of down_) await sql.raw(statement).execute(db);
}
