import { type Kysely, sql } from "kysely";

/**
 * Several replicas on one PostgreSQL: each replica heart-beats its row; the replica holding a
 * host's stream holds its lease (the epoch fences a replica that lost it); a command for a host
 * whose stream is on another replica travels as a durable row, announced by NOTIFY.
 */
const up_ = [
  `CREATE TABLE replicas (
    id text PRIMARY KEY,
    started_at timestamptz NOT NULL DEFAULT now(),
    heartbeat_at timestamptz NOT NULL DEFAULT now(),
    stopped_at timestamptz
  )`,
  `CREATE TABLE host_leases (
    host_id uuid PRIMARY KEY REFERENCES hosts (id) ON DELETE CASCADE,
    replica_id text NOT NULL REFERENCES replicas (id),
    epoch bigint NOT NULL,
    connected_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
  )`,
  "CREATE INDEX host_leases_replica ON host_leases (replica_id)",
  `CREATE TABLE host_commands (
    id uuid PRIMARY KEY,
    host_id uuid NOT NULL REFERENCES hosts (id) ON DELETE CASCADE,
    requested_by text NOT NULL REFERENCES replicas (id),
    command bytea NOT NULL,
    state text NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'sent', 'done', 'failed')),
    reply bytea,
    error_code text,
    error_message text,
    deadline_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz
  )`,
  "CREATE INDEX host_commands_open ON host_commands (host_id, created_at) WHERE state IN ('queued', 'sent')",
  "CREATE INDEX host_commands_finished ON host_commands (finished_at) WHERE finished_at IS NOT NULL",
];

const down_ = [
  "DROP TABLE IF EXISTS host_commands",
  "DROP TABLE IF EXISTS host_leases",
  "DROP TABLE IF EXISTS replicas",
];

export async function up(db: Kysely<unknown>): Promise<void> {
  for (const statement of up_) await sql.raw(statement).execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const statement of down_) await sql.raw(statement).execute(db);
}
