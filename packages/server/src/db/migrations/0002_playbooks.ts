import { type Kysely, sql } from "kysely";

/**
 * Playbooks (SPEC §7): an ordered list of Ansible tasks per org. A task carries its playbook's org
 * and the composite foreign key makes the pair agree, so a task can never hang off another org's
 * playbook. Positions are dense (0…n-1); the unique index is checked at the end of each statement
 * so one UPDATE can renumber (reorder, close a gap) without tripping over itself.
 */
const statements = [
  `CREATE TABLE playbooks (
    id uuid PRIMARY KEY,
    org_id uuid NOT NULL REFERENCES orgs (id),
    name text NOT NULL,
    description text NOT NULL DEFAULT '',
    hosts text NOT NULL DEFAULT 'all',
    become boolean NOT NULL DEFAULT false,
    created_by uuid NOT NULL REFERENCES users (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (org_id, name),
    UNIQUE (org_id, id)
  )`,
  `CREATE INDEX playbooks_org_created ON playbooks (org_id, created_at DESC)`,

  `CREATE TABLE playbook_tasks (
    id uuid PRIMARY KEY,
    org_id uuid NOT NULL REFERENCES orgs (id),
    playbook_id uuid NOT NULL,
    position integer NOT NULL CHECK (position >= 0),
    name text NOT NULL,
    module text NOT NULL,
    params jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(params) = 'object'),
    changed_when jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (org_id, playbook_id) REFERENCES playbooks (org_id, id) ON DELETE CASCADE,
    CONSTRAINT playbook_tasks_position UNIQUE (playbook_id, position) DEFERRABLE INITIALLY IMMEDIATE
  )`,
];

export async function up(db: Kysely<unknown>): Promise<void> {
  for (const statement of statements) await sql.raw(statement).execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of ["playbook_tasks", "playbooks"]) {
    await sql.raw(`DROP TABLE IF EXISTS ${table}`).execute(db);
  }
}
