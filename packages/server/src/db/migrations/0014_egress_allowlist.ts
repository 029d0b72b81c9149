import { type Kysely, sql } from "kysely";

/** A sandbox's egress allowlist (entries as the host validated them); null while egress is all or nothing. */
const up_ = ["ALTER TABLE sandboxes ADD COLUMN egress_allow text[]"];

const down_ = ["ALTER TABLE sandboxes DROP COLUMN IF EXISTS egress_allow"];

export async function up(db: Kysely<unknown>): Promise<void> {
  for (const statement of up_) await sql.raw(statement).execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const statement of down_) await sql.raw(statement).execute(db);
}
