import { type Kysely, sql } from "kysely";

/**
 * People join an org by invitation (SPEC §3) instead of being added by email, which told anyone
 * whether an email had an account. Only the token's SHA-256 is stored; the raw token is shown once.
 * A row is pending until it is accepted, revoked or past expires_at.
 */
const statements = [
  `CREATE TABLE org_invitations (
    id uuid PRIMARY KEY,
    org_id uuid NOT NULL REFERENCES orgs (id),
    email text NOT NULL,
    role text NOT NULL CHECK (role IN ('admin', 'member', 'viewer')),
    token_hash text NOT NULL UNIQUE,
    invited_by uuid NOT NULL REFERENCES users (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    accepted_at timestamptz,
    accepted_by uuid REFERENCES users (id),
    revoked_at timestamptz
  )`,
  `CREATE INDEX org_invitations_org_created ON org_invitations (org_id, created_at)`,
];

export async function up(db: Kysely<unknown>): Promise<void> {
  for (const statement of statements) await sql.raw(statement).execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql.raw("DROP TABLE IF EXISTS org_invitations").execute(db);
}
