import type { Generated, Selectable } from "kysely";

export type SandboxState = "CREATING" | "RUNNING" | "STOPPED" | "DESTROYED" | "ERROR";

/** Times are epoch milliseconds; SQLite has no timestamp type worth trusting. */
export interface SandboxesTable {
  id: string;
  name: string;
  image: string;
  state: SandboxState;
  vcpus: number;
  memory_mb: number;
  allow_egress: number;
  /** Directory holding the overlay, sockets, pidfile and serial log. */
  dir: string;
  pid: number | null;
  ip: string | null;
  mac: string | null;
  tap: string | null;
  /** JSON of the network attachment (mode, qemu args) so a restart can relaunch identically. */
  network: string | null;
  agent_id: string | null;
  created_at: number;
  updated_at: number;
  expires_at: number | null;
  ended_at: number | null;
  end_reason: string | null;
  error: string | null;
  /** 1 while the sandbox is a warm pool entry (sandboxes/pool.ts), 0 once a create has claimed it. */
  pooled: Generated<number>;
  /** JSON array of egress allowlist entries (network/egress.ts), or null when egress is all or nothing. */
  egress_allow: Generated<string | null>;
}

export interface SnapshotsTable {
  id: string;
  sandbox_id: string;
  name: string;
  dir: string;
  image: string;
  vcpus: number;
  memory_mb: number;
  has_memory: number;
  size_bytes: number;
  created_at: number;
}

export interface IpLeasesTable {
  sandbox_id: string;
  ip: string;
  mac: string;
}

export interface MetaTable {
  key: string;
  value: string;
  updated_at: Generated<number>;
}

export interface ProcessesTable {
  id: string;
  sandbox_id: string;
  name: string;
  command: string;
  /** The command's pid in the guest (its process group), null until the wrapper recorded it. */
  pid: number | null;
  state: "running" | "exited" | "lost";
  exit_code: number | null;
  started_at: number;
  ended_at: number | null;
}

export interface DaemonDB {
  sandboxes: SandboxesTable;
  processes: ProcessesTable;
  snapshots: SnapshotsTable;
  ip_leases: IpLeasesTable;
  meta: MetaTable;
}

export type SandboxRow = Selectable<SandboxesTable>;
export type SnapshotRow = Selectable<SnapshotsTable>;
export type ProcessRow = Selectable<ProcessesTable>;
