import { type Kysely, sql } from "kysely";

/** The first schema. SQL stays within PostgreSQL 15 so PGlite (18) and Debian's server run it alike. */
const statements = [
  `CREATE TABLE users (
    id uuid PRIMARY KEY,
    email text NOT NULL CHECK (email = lower(email)),
    display_name text NOT NULL,
    avatar_url text,
    password_hash text,
    email_verified boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz
  )`,
  `CREATE UNIQUE INDEX users_email_active ON users (email) WHERE deleted_at IS NULL`,

  `CREATE TABLE oauth_accounts (
    id uuid PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES users (id),
    provider text NOT NULL,
    provider_user_id text NOT NULL,
    email text,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (provider, provider_user_id)
  )`,

  `CREATE TABLE sessions (
    id uuid PRIMARY KEY,
    token_hash text NOT NULL UNIQUE,
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    ip_address text,
    user_agent text,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
  )`,
  `CREATE INDEX sessions_expires_at ON sessions (expires_at)`,
  `CREATE INDEX sessions_user_id ON sessions (user_id)`,

  `CREATE TABLE orgs (
    id uuid PRIMARY KEY,
    name text NOT NULL,
    slug text NOT NULL,
    owner_id uuid NOT NULL REFERENCES users (id),
    allow_self_approval boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz
  )`,
  `CREATE UNIQUE INDEX orgs_slug_active ON orgs (slug) WHERE deleted_at IS NULL`,

  `CREATE TABLE org_members (
    id uuid PRIMARY KEY,
    org_id uuid NOT NULL REFERENCES orgs (id),
    user_id uuid NOT NULL REFERENCES users (id),
    role text NOT NULL CHECK (role IN ('owner', 'admin', 'member', 'viewer')),
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (org_id, user_id)
  )`,
  `CREATE INDEX org_members_user_id ON org_members (user_id)`,

  `CREATE TABLE api_keys (
    id uuid PRIMARY KEY,
    org_id uuid NOT NULL REFERENCES orgs (id),
    created_by uuid NOT NULL REFERENCES users (id),
    name text NOT NULL,
    role text NOT NULL CHECK (role IN ('owner', 'admin', 'member', 'viewer')),
    key_hash text NOT NULL UNIQUE,
    key_prefix text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz,
    last_used_at timestamptz,
    revoked_at timestamptz
  )`,
  `CREATE INDEX api_keys_org_id ON api_keys (org_id)`,

  `CREATE TABLE host_tokens (
    id uuid PRIMARY KEY,
    org_id uuid NOT NULL REFERENCES orgs (id),
    name text NOT NULL,
    token_hash text NOT NULL UNIQUE,
    created_by uuid REFERENCES users (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz,
    last_used_at timestamptz,
    revoked_at timestamptz
  )`,
  `CREATE INDEX host_tokens_org_id ON host_tokens (org_id)`,

  `CREATE TABLE hosts (
    id uuid PRIMARY KEY REFERENCES host_tokens (id),
    org_id uuid NOT NULL REFERENCES orgs (id),
    hostname text NOT NULL DEFAULT '',
    version text NOT NULL DEFAULT '',
    total_cpus integer NOT NULL DEFAULT 0,
    total_memory_mb integer NOT NULL DEFAULT 0,
    total_disk_mb integer NOT NULL DEFAULT 0,
    available_cpus integer NOT NULL DEFAULT 0,
    available_memory_mb integer NOT NULL DEFAULT 0,
    available_disk_mb integer NOT NULL DEFAULT 0,
    active_sandboxes integer NOT NULL DEFAULT 0,
    base_images jsonb NOT NULL DEFAULT '[]',
    source_vms jsonb NOT NULL DEFAULT '[]',
    bridges jsonb NOT NULL DEFAULT '[]',
    status text NOT NULL DEFAULT 'OFFLINE' CHECK (status IN ('ONLINE', 'OFFLINE')),
    connected_at timestamptz,
    last_heartbeat timestamptz,
    disconnected_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
  )`,
  `CREATE INDEX hosts_org_id ON hosts (org_id)`,

  `CREATE TABLE sandboxes (
    id uuid PRIMARY KEY,
    org_id uuid NOT NULL REFERENCES orgs (id),
    host_id uuid NOT NULL REFERENCES hosts (id),
    name text NOT NULL,
    created_by uuid NOT NULL REFERENCES users (id),
    agent_id text,
    source_vm text NOT NULL,
    state text NOT NULL CHECK (state IN ('CREATING', 'RUNNING', 'STOPPED', 'DESTROYED', 'ERROR')),
    vcpus integer NOT NULL,
    memory_mb integer NOT NULL,
    allow_egress boolean NOT NULL DEFAULT false,
    ip_address text,
    mac_address text,
    bridge text,
    pid integer,
    error text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    ended_at timestamptz,
    end_reason text CHECK (end_reason IN
      ('user_request', 'lease_expired', 'host_lost', 'create_failed', 'crashed', 'reconciled_missing')),
    CHECK ((ended_at IS NULL) = (end_reason IS NULL))
  )`,
  `CREATE INDEX sandboxes_org_created ON sandboxes (org_id, created_at DESC)`,
  `CREATE INDEX sandboxes_host_active ON sandboxes (host_id) WHERE ended_at IS NULL`,
  `CREATE INDEX sandboxes_expiry_active ON sandboxes (expires_at) WHERE ended_at IS NULL`,

  `CREATE TABLE commands (
    id uuid PRIMARY KEY,
    org_id uuid NOT NULL REFERENCES orgs (id),
    sandbox_id uuid NOT NULL REFERENCES sandboxes (id),
    command text NOT NULL,
    env_names jsonb NOT NULL DEFAULT '[]',
    timeout_seconds integer NOT NULL,
    status text NOT NULL CHECK (status IN ('running', 'completed', 'failed', 'timed_out')),
    stdout text,
    stderr text,
    exit_code integer,
    duration_ms integer,
    stdout_truncated boolean NOT NULL DEFAULT false,
    stderr_truncated boolean NOT NULL DEFAULT false,
    error text,
    created_by uuid NOT NULL REFERENCES users (id),
    started_at timestamptz NOT NULL,
    ended_at timestamptz
  )`,
  `CREATE INDEX commands_sandbox_started ON commands (sandbox_id, started_at)`,

  `CREATE TABLE snapshots (
    id uuid PRIMARY KEY,
    org_id uuid NOT NULL REFERENCES orgs (id),
    sandbox_id uuid NOT NULL REFERENCES sandboxes (id),
    host_id uuid NOT NULL REFERENCES hosts (id),
    name text NOT NULL,
    host_snapshot_id text NOT NULL,
    has_memory boolean NOT NULL DEFAULT false,
    size_bytes bigint NOT NULL DEFAULT 0,
    created_by uuid NOT NULL REFERENCES users (id),
    created_at timestamptz NOT NULL DEFAULT now()
  )`,
  `CREATE INDEX snapshots_sandbox ON snapshots (sandbox_id, created_at)`,

  `CREATE TABLE source_hosts (
    id uuid PRIMARY KEY,
    org_id uuid NOT NULL REFERENCES orgs (id),
    name text NOT NULL,
    type text NOT NULL CHECK (type IN ('libvirt', 'proxmox')),
    hostname text NOT NULL,
    ssh_port integer NOT NULL DEFAULT 22,
    ssh_user text NOT NULL DEFAULT 'root',
    ssh_private_key text,
    ssh_host_key text,
    proxmox_token_id text,
    proxmox_secret text,
    proxmox_node text,
    proxmox_verify_tls boolean NOT NULL DEFAULT true,
    created_by uuid NOT NULL REFERENCES users (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (org_id, name)
  )`,

  `CREATE TABLE rate_limits (
    key text PRIMARY KEY,
    window_start timestamptz NOT NULL,
    count integer NOT NULL
  )`,
];

export async function up(db: Kysely<unknown>): Promise<void> {
  for (const statement of statements) await sql.raw(statement).execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of [
    "rate_limits",
    "source_hosts",
    "snapshots",
    "commands",
    "sandboxes",
    "hosts",
    "host_tokens",
    "api_keys",
    "org_members",
    "orgs",
    "sessions",
    "oauth_accounts",
    "users",
  ]) {
    await sql.raw(`DROP TABLE IF EXISTS ${table}`).execute(db);
  }
}
