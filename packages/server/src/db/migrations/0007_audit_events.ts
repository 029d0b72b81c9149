import { type Kysely, sql } from "kysely";

/**
 * The org's tamper-evident audit log (SPEC §2): one chain per org, numbered 1, 2, 3… by `seq`;
 * each row stores the previous row's hash and the SHA-256 of its own canonical content
 * (audit/canonical.ts). No foreign keys on the actor or target: the record outlives what it names.
 */
const statements = [
  `CREATE TABLE audit_events (
    id uuid PRIMARY KEY,
    org_id uuid NOT NULL REFERENCES orgs (id),
    seq bigint NOT NULL CHECK (seq > 0),
    at timestamptz NOT NULL,
    actor_user_id uuid,
    actor_key_id uuid,
    action text NOT NULL,
    target_type text NOT NULL,
    target_id text NOT NULL,
    details jsonb NOT NULL,
    prev_hash text NOT NULL,
    hash text NOT NULL,
    UNIQUE (org_id, seq)
  )`,
  `CREATE INDEX audit_events_org_action ON audit_events (org_id, action, seq)`,
  `CREATE INDEX audit_events_org_target ON audit_events (org_id, target_type, target_id, seq)`,
];

export async function up(db: Kysely<unknown>): Promise<void> {
  for (const statement of statements) await sql.raw(statement).execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql.raw("DROP TABLE IF EXISTS audit_events").execute(db);
}
