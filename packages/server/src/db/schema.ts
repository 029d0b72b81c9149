import type { ColumnType, Generated, Insertable, Selectable, Updateable } from "kysely";

/** timestamptz: read as Date, written as Date or ISO string, defaulted by the database where Generated. */
type Timestamp = ColumnType<Date, Date | string, Date | string>;
type CreatedAt = ColumnType<Date, Date | string | undefined, never>;
type UpdatedAt = ColumnType<Date, Date | string | undefined, Date | string>;
/** jsonb: read as the parsed value; written as a JSON string (pg would otherwise send arrays as SQL arrays). */
type Json<T> = ColumnType<T, string, string>;

export type Role = "owner" | "admin" | "member" | "viewer";
export type HostStatus = "ONLINE" | "OFFLINE";
export type SandboxState = "CREATING" | "RUNNING" | "STOPPED" | "DESTROYED" | "ERROR";
export type EndReason =
  | "user_request"
  | "lease_expired"
  | "host_lost"
  | "create_failed"
  | "crashed"
  | "reconciled_missing";
export type CommandStatus = "running" | "completed" | "failed" | "timed_out";

export interface UsersTable {
  id: string;
  email: string;
  display_name: string;
  avatar_url: string | null;
  password_hash: string | null;
  email_verified: Generated<boolean>;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
  deleted_at: Timestamp | null;
}

export interface OAuthAccountsTable {
  id: string;
  user_id: string;
  provider: string;
  provider_user_id: string;
  email: string | null;
  created_at: CreatedAt;
}

export interface SessionsTable {
  id: string;
  token_hash: string;
  user_id: string;
  ip_address: string | null;
  user_agent: string | null;
  created_at: CreatedAt;
  expires_at: Timestamp;
}

export interface OrgsTable {
  id: string;
  name: string;
  slug: string;
  owner_id: string;
  allow_self_approval: Generated<boolean>;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
  deleted_at: Timestamp | null;
}

export interface OrgMembersTable {
  id: string;
  org_id: string;
  user_id: string;
  role: Role;
  created_at: CreatedAt;
}

export interface OrgInvitationsTable {
  id: string;
  org_id: string;
  /** Normalised like users.email; only this account may accept. */
  email: string;
  role: Exclude<Role, "owner">;
  token_hash: string;
  invited_by: string;
  created_at: CreatedAt;
  expires_at: Timestamp;
  accepted_at: Timestamp | null;
  accepted_by: string | null;
  revoked_at: Timestamp | null;
}

export interface ApiKeysTable {
  id: string;
  org_id: string;
  created_by: string;
  name: string;
  role: Role;
  key_hash: string;
  key_prefix: string;
  created_at: CreatedAt;
  expires_at: Timestamp | null;
  last_used_at: Timestamp | null;
  revoked_at: Timestamp | null;
}

export interface HostTokensTable {
  id: string;
  org_id: string;
  name: string;
  token_hash: string;
  created_by: string | null;
  created_at: CreatedAt;
  expires_at: Timestamp | null;
  last_used_at: Timestamp | null;
  revoked_at: Timestamp | null;
}

export interface SourceVmEntry {
  name: string;
  state: string;
  ip_address: string;
  prepared: boolean;
}

export interface BridgeEntry {
  name: string;
  subnet: string;
}

export interface HostsTable {
  id: string;
  org_id: string;
  hostname: string;
  version: string;
  total_cpus: number;
  total_memory_mb: number;
  total_disk_mb: number;
  available_cpus: number;
  available_memory_mb: number;
  available_disk_mb: number;
  active_sandboxes: Generated<number>;
  base_images: Json<string[]>;
  source_vms: Json<SourceVmEntry[]>;
  bridges: Json<BridgeEntry[]>;
  status: HostStatus;
  connected_at: Timestamp | null;
  last_heartbeat: Timestamp | null;
  disconnected_at: Timestamp | null;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
}

export interface SandboxesTable {
  id: string;
  org_id: string;
  host_id: string;
  name: string;
  created_by: string;
  agent_id: string | null;
  source_vm: string;
  /** Set when source_vm names a VM on this source host (a clone), not an image. */
  source_host_id: ColumnType<string | null, string | null | undefined, string | null>;
  /** For a clone: when the source VM's disk was captured (the cached copy can be older than the clone). */
  source_captured_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  state: SandboxState;
  vcpus: number;
  memory_mb: number;
  allow_egress: boolean;
  /** Set egress allowlist entries (sandboxes/egress.ts); null while egress is all (allow_egress) or nothing. */
  egress_allow: Generated<string[] | null>;
  /** E2B metadata labels (e2b/sandbox-options.ts): shown in E2B lists and filtered on. */
  metadata: ColumnType<Record<string, string>, string | undefined, string>;
  /** E2B sandbox-wide env vars, set for every command run through the E2B API; values never audited. */
  env_vars: ColumnType<Record<string, string>, string | undefined, string>;
  ip_address: string | null;
  mac_address: string | null;
  bridge: string | null;
  pid: number | null;
  error: string | null;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
  expires_at: Timestamp;
  ended_at: Timestamp | null;
  end_reason: EndReason | null;
  /** While CREATING: what the host last reported (see SandboxProgress in the protocol). */
  progress: ColumnType<CreationProgress | null, string | null | undefined, string | null>;
  /** For a fork: the sandbox it was forked from, and the snapshot of it the fork started from. */
  forked_from: ColumnType<string | null, string | null | undefined, string | null>;
  fork_snapshot_id: ColumnType<string | null, string | null | undefined, string | null>;
  /** While RUNNING: running time up to here is in usage_records (a trigger books it; see 0010_quotas_usage). */
  accounted_until: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
}

export interface CreationProgress {
  phase: string;
  bytes_done: number;
  bytes_total: number;
  at: string;
}

export interface CommandsTable {
  id: string;
  org_id: string;
  sandbox_id: string;
  command: string;
  env_names: Json<string[]>;
  timeout_seconds: number;
  status: CommandStatus;
  stdout: string | null;
  stderr: string | null;
  exit_code: number | null;
  duration_ms: number | null;
  stdout_truncated: Generated<boolean>;
  stderr_truncated: Generated<boolean>;
  error: string | null;
  created_by: string;
  started_at: Timestamp;
  ended_at: Timestamp | null;
}

export interface SnapshotsTable {
  id: string;
  org_id: string;
  sandbox_id: string;
  host_id: string;
  name: string;
  host_snapshot_id: string;
  has_memory: boolean;
  size_bytes: ColumnType<string, number | string, number | string>;
  created_by: string;
  created_at: CreatedAt;
}

export interface SourceCommandsTable {
  id: string;
  org_id: string;
  source_host_id: string;
  source_host_name: string;
  host_id: string | null;
  vm: string;
  kind: "list" | "prepare" | "run" | "read_file" | "apply";
  command: string;
  outcome: "ok" | "refused" | "failed";
  exit_code: number | null;
  detail: string | null;
  actor_user_id: string;
  actor_key_id: string | null;
  started_at: CreatedAt;
  duration_ms: Generated<number>;
}

export interface SourceHostsTable {
  id: string;
  org_id: string;
  name: string;
  type: "libvirt" | "proxmox";
  hostname: string;
  ssh_port: number;
  ssh_user: string;
  /** Sealed with the server's encryption key (see lib/secret-box.ts). */
  ssh_private_key: string | null;
  ssh_host_key: string | null;
  proxmox_token_id: string | null;
  /** Sealed with the server's encryption key. */
  proxmox_secret: string | null;
  proxmox_node: string | null;
  proxmox_verify_tls: boolean;
  /** The owner allows fluid to apply approved changes to this host's VMs (default: read-only). */
  apply_enabled: Generated<boolean>;
  created_by: string;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
}

export interface PlaybooksTable {
  id: string;
  org_id: string;
  name: string;
  description: string;
  hosts: string;
  become: boolean;
  created_by: string;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
}

/** A task-level `changed_when`: a boolean or a Jinja conditional. */
export type ChangedWhen = boolean | string;

export interface PlaybookTasksTable {
  id: string;
  org_id: string;
  playbook_id: string;
  /** Dense and ordered: 0…n-1 within a playbook. */
  position: number;
  name: string;
  /** Fully-qualified module name from the allowlist (playbooks/modules.ts). */
  module: string;
  params: Json<Record<string, unknown>>;
  changed_when: Json<ChangedWhen> | null;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
}

export interface RateLimitsTable {
  key: string;
  window_start: Timestamp;
  count: number;
}

/** A source VM prepared for read-only access, and the sandbox host whose SSH CA it trusts. */
export interface SourceVmPreparationsTable {
  source_host_id: string;
  vm: string;
  org_id: string;
  host_id: string;
  prepared_by: string;
  prepared_at: ColumnType<Date, Date | string | undefined, Date | string>;
}

export interface AuditEventsTable {
  id: string;
  org_id: string;
  /** bigint: read as a string by pg. */
  seq: ColumnType<string, number | string, never>;
  /** Whole milliseconds, so the instant that was hashed survives the timestamptz round trip. */
  at: ColumnType<Date, Date, never>;
  actor_user_id: string | null;
  actor_key_id: string | null;
  action: string;
  target_type: string;
  target_id: string;
  details: ColumnType<Record<string, unknown>, string, string>;
  prev_hash: string;
  hash: string;
}

export type ChangeRequestState =
  | "draft"
  | "verifying"
  | "verified"
  | "verification_failed"
  | "approved"
  | "rejected"
  | "applied";
export type PlaybookOrigin = "generated" | "authored" | "edited";

/** One way the clone's diff differs from the change request's. */
export interface Mismatch {
  kind: string;
  /** The change's path (files, crontabs) or name (everything else). */
  key: string;
  problem: "missing_in_clone" | "extra_in_clone" | "differs";
  fields?: Array<{ field: string; expected: unknown; actual: unknown }>;
}

export interface PlaybookRecapCounts {
  ok: number;
  changed: number;
  unreachable: number;
  failed: number;
  skipped: number;
  rescued: number;
  ignored: number;
}

/** What a verification found; `error` says why it stopped early (the other fields hold what it got to). */
export interface Verification {
  passed: boolean;
  first_run_changed: number | null;
  second_run_changed: number | null;
  equivalent: boolean | null;
  mismatches: Mismatch[];
  first_recap: PlaybookRecapCounts | null;
  second_recap: PlaybookRecapCounts | null;
  log_excerpt: string;
  duration_ms: number;
  clone_sandbox_id: string | null;
  error?: string;
}

export interface ChangeRequestsTable {
  id: string;
  org_id: string;
  sandbox_id: string;
  source_kind: "image" | "source_vm";
  source_vm: string;
  source_host_id: string | null;
  source_captured_at: Timestamp | null;
  title: string;
  description: string;
  author_id: string;
  author_key_id: string | null;
  diff: Json<SandboxDiffJson>;
  diff_hash: string;
  playbook: string;
  playbook_hash: string;
  playbook_origin: PlaybookOrigin;
  playbook_notes: Json<string[]>;
  state: ChangeRequestState;
  verification: Json<Verification> | null;
  verification_run: string | null;
  verification_started_at: Timestamp | null;
  playbook_updated_at: ColumnType<Date, Date | string | undefined, Date | string>;
  apply_result: Json<ApplyResult> | null;
  applying_since: Timestamp | null;
  /** Renewed by the server running this request's verification or apply; a stale one means it stopped. */
  worker_seen_at: Timestamp | null;
  applied_at: Timestamp | null;
  applied_by: string | null;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
}

/** One ansible-playbook run against a source VM. */
export interface ApplyRun {
  exit_code: number;
  recap: PlaybookRecapCounts | null;
  log_excerpt: string;
  duration_ms: number;
  timed_out: boolean;
}

/** The last attempt to apply a change request to its source VM (or to check it there). */
export interface ApplyResult {
  outcome: "checked" | "applied" | "drift" | "check_failed" | "apply_failed" | "error";
  at: string;
  by: string;
  drift: Array<{ path: string; expected: string; actual: string }>;
  check: ApplyRun | null;
  apply: ApplyRun | null;
  error?: string;
}

/** A semantic diff as stored: {hash, summary, changes} (sandboxes/diff.ts validates it). */
export interface SandboxDiffJson {
  hash: string;
  summary: { total: number; added: number; changed: number; removed: number; by_kind: Record<string, number> };
  changes: Array<{ kind: string; action: string; path?: string; name?: string; [detail: string]: unknown }>;
}

export interface ChangeRequestApprovalsTable {
  id: string;
  org_id: string;
  change_request_id: string;
  approver_id: string;
  approver_key_id: string | null;
  decision: "approve" | "reject";
  diff_hash: string;
  playbook_hash: string;
  comment: string;
  at: CreatedAt;
}

export interface ReplicasTable {
  id: string;
  started_at: CreatedAt;
  heartbeat_at: Timestamp;
  stopped_at: Timestamp | null;
}

export interface HostLeasesTable {
  host_id: string;
  replica_id: string;
  /** bigint, read back as a string by pg. */
  epoch: ColumnType<string, string | number | bigint, string | number | bigint>;
  connected_at: Timestamp;
  expires_at: Timestamp;
}

export type HostCommandState = "queued" | "sent" | "done" | "failed";

export interface HostCommandsTable {
  id: string;
  host_id: string;
  requested_by: string;
  command: Buffer;
  state: ColumnType<HostCommandState, HostCommandState | undefined, HostCommandState>;
  reply: Buffer | null;
  error_code: string | null;
  error_message: string | null;
  deadline_at: Timestamp;
  created_at: CreatedAt;
  finished_at: Timestamp | null;
  /** The replica, and its lease epoch, whose stream the command was sent on. */
  claimed_by: string | null;
  claimed_epoch: string | null;
}

/** An organization's own limits; NULL takes the server's default, 0 means unlimited. */
export interface OrgQuotasTable {
  org_id: string;
  max_sandboxes: number | null;
  max_vcpus: number | null;
  max_memory_mb: number | null;
  max_snapshot_bytes: ColumnType<string | null, number | string | null, number | string | null>;
  updated_at: UpdatedAt;
}

/** Running time per org and UTC day (numeric: read as a decimal string). */
export interface UsageRecordsTable {
  org_id: string;
  day: ColumnType<string, string, string>;
  sandbox_seconds: ColumnType<string, number | string, number | string>;
  vcpu_seconds: ColumnType<string, number | string, number | string>;
  memory_mb_seconds: ColumnType<string, number | string, number | string>;
}

/** A background process started through the E2B API: its guest pid and the ProcessConfig it was given. */
export interface E2bProcessesTable {
  org_id: string;
  sandbox_id: string;
  process_id: string;
  pid: number;
  config: Json<E2bProcessConfig>;
  tag: string | null;
  /** Whether it was started with stdin (without, it reads /dev/null and SendInput is refused). */
  stdin: boolean;
  /** The last signal SendSignal sent, so an exit it caused is reported as E2B reports a killed process. */
  signal: string | null;
  created_at: CreatedAt;
}

export interface E2bProcessConfig {
  cmd: string;
  args: string[];
  envs: Record<string, string>;
  cwd?: string;
}

export interface DB {
  e2b_processes: E2bProcessesTable;
  users: UsersTable;
  oauth_accounts: OAuthAccountsTable;
  sessions: SessionsTable;
  orgs: OrgsTable;
  org_members: OrgMembersTable;
  org_invitations: OrgInvitationsTable;
  api_keys: ApiKeysTable;
  host_tokens: HostTokensTable;
  hosts: HostsTable;
  sandboxes: SandboxesTable;
  commands: CommandsTable;
  snapshots: SnapshotsTable;
  source_hosts: SourceHostsTable;
  source_commands: SourceCommandsTable;
  source_vm_preparations: SourceVmPreparationsTable;
  playbooks: PlaybooksTable;
  playbook_tasks: PlaybookTasksTable;
  rate_limits: RateLimitsTable;
  audit_events: AuditEventsTable;
  change_requests: ChangeRequestsTable;
  change_request_approvals: ChangeRequestApprovalsTable;
  replicas: ReplicasTable;
  host_leases: HostLeasesTable;
  host_commands: HostCommandsTable;
  org_quotas: OrgQuotasTable;
  usage_records: UsageRecordsTable;
}

export type User = Selectable<UsersTable>;
export type Org = Selectable<OrgsTable>;
export type Host = Selectable<HostsTable>;
export type Sandbox = Selectable<SandboxesTable>;
export type NewSandbox = Insertable<SandboxesTable>;
export type SandboxUpdate = Updateable<SandboxesTable>;
export type Command = Selectable<CommandsTable>;
export type Snapshot = Selectable<SnapshotsTable>;
export type SourceHost = Selectable<SourceHostsTable>;
export type SourceCommand = Selectable<SourceCommandsTable>;
export type Playbook = Selectable<PlaybooksTable>;
export type PlaybookTask = Selectable<PlaybookTasksTable>;
export type AuditEvent = Selectable<AuditEventsTable>;
export type ChangeRequest = Selectable<ChangeRequestsTable>;
export type ChangeRequestApproval = Selectable<ChangeRequestApprovalsTable>;
