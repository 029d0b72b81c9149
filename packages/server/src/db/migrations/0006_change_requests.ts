import { type Kysely, sql } from "kysely";

/**
 * Change requests (SPEC §7): what a sandbox changed, as a diff and a playbook, pinned by their
 * hashes, with the verification run on a fresh clone and the approvals given. Approvals are history:
 * each records the hashes it approved, so an edit leaves them in place but no longer current.
 * `verification_run` names the verification in flight, so a result only lands on the run that
 * started it (an edit and a new verify meanwhile discard the old run's result). `applying_since` claims
 * an apply to production, so two admins cannot run one twice; `apply_result` keeps the last attempt.
 */
const statements = [
  `CREATE TABLE change_requests (
    id uuid PRIMARY KEY,
    org_id uuid NOT NULL REFERENCES orgs (id),
    sandbox_id uuid NOT NULL REFERENCES sandboxes (id),
    source_kind text NOT NULL CHECK (source_kind IN ('image', 'source_vm')),
    source_vm text NOT NULL,
    source_host_id uuid,
    source_captured_at timestamptz,
    title text NOT NULL,
    description text NOT NULL DEFAULT '',
    author_id uuid NOT NULL REFERENCES users (id),
    author_key_id uuid,
    diff jsonb NOT NULL,
    diff_hash text NOT NULL,
    playbook text NOT NULL,
    playbook_hash text NOT NULL,
    playbook_origin text NOT NULL CHECK (playbook_origin IN ('generated', 'authored', 'edited')),
    playbook_notes jsonb NOT NULL DEFAULT '[]',
    state text NOT NULL CHECK (state IN
      ('draft', 'verifying', 'verified', 'verification_failed', 'approved', 'rejected', 'applied')),
    verification jsonb,
    verification_run uuid,
    verification_started_at timestamptz,
    playbook_updated_at timestamptz NOT NULL DEFAULT now(),
    apply_result jsonb,
    applying_since timestamptz,
    applied_at timestamptz,
    applied_by uuid REFERENCES users (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (org_id, id)
  )`,
  `CREATE INDEX change_requests_org_created ON change_requests (org_id, created_at DESC)`,
  `CREATE INDEX change_requests_verifying ON change_requests (state) WHERE state = 'verifying'`,

  `CREATE TABLE change_request_approvals (
    id uuid PRIMARY KEY,
    org_id uuid NOT NULL,
    change_request_id uuid NOT NULL,
    approver_id uuid NOT NULL REFERENCES users (id),
    approver_key_id uuid,
    decision text NOT NULL CHECK (decision IN ('approve', 'reject')),
    diff_hash text NOT NULL,
    playbook_hash text NOT NULL,
    comment text NOT NULL DEFAULT '',
    at timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (org_id, change_request_id) REFERENCES change_requests (org_id, id) ON DELETE CASCADE
  )`,
  `CREATE INDEX change_request_approvals_request ON change_request_approvals (change_request_id, at)`,
];

export async function up(db: Kysely<unknown>): Promise<void> {
  for (const statement of statements) await sql.raw(statement).execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of ["change_request_approvals", "change_requests"]) {
    await sql.raw(`DROP TABLE IF EXISTS ${table}`).execute(db);
  }
}
