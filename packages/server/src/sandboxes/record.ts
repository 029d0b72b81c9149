import type { Kysely } from "kysely";
import { appendAuditEvent, auditActorOf } from "../audit/append.js";
import type { DB, Sandbox } from "../db/schema.js";
import { newId } from "../lib/ids.js";
import type { OrgScope } from "../orgs/access.js";

/** What a host reports of a sandbox it has just booted (created or forked). */
export interface BootedReport {
  state: string;
  ipAddress: string;
  macAddress: string;
  bridge: string;
  pid: number;
}

/** The columns a booted sandbox's report sets: create and fork record it alike. */
export function bootedColumns(created: BootedReport) {
  return {
    state: created.state === "STOPPED" ? ("STOPPED" as const) : ("RUNNING" as const),
    ip_address: created.ipAddress || null,
    mac_address: created.macAddress || null,
    bridge: created.bridge || null,
    pid: created.pid || null,
    updated_at: new Date(),
  };
}

/** What a new sandbox row says before its host answers. */
export interface NewSandbox {
  hostId: string;
  /** Defaults to `sbx-<id tail>`. */
  name?: string | undefined;
  agentId: string | null;
  sourceVm: string;
  sourceHostId: string | null;
  sourceCapturedAt?: Date | null;
  vcpus: number;
  memoryMb: number;
  allowEgress: boolean;
  /** What the sandbox may reach from its first boot; empty or absent: all or nothing (allowEgress). */
  egressAllow?: readonly string[] | null | undefined;
  metadata?: Record<string, string> | undefined;
  envVars?: Record<string, string> | undefined;
  expiresAt: Date;
  fork?: { parentId: string; snapshotId: string };
}

/**
 * Inserts a CREATING sandbox and its `sandbox.created` audit event in the caller's transaction:
 * the one place a create and a fork record a new sandbox, so both leave the same trail.
 */
export async function recordNewSandbox(tx: Kysely<DB>, scope: OrgScope, input: NewSandbox): Promise<Sandbox> {
  const id = newId();
  const row = await tx
    .insertInto("sandboxes")
    .values({
      id,
      org_id: scope.orgId,
      host_id: input.hostId,
      name: input.name ?? `sbx-${id.slice(-12)}`,
      created_by: scope.principal.userId,
      agent_id: input.agentId,
      source_vm: input.sourceVm,
      source_host_id: input.sourceHostId,
      source_captured_at: input.sourceCapturedAt ?? null,
      state: "CREATING",
      vcpus: input.vcpus,
      memory_mb: input.memoryMb,
      allow_egress: input.allowEgress,
      egress_allow: input.egressAllow && input.egressAllow.length > 0 ? [...input.egressAllow] : null,
      metadata: JSON.stringify(input.metadata ?? {}),
      env_vars: JSON.stringify(input.envVars ?? {}),
      ip_address: null,
      mac_address: null,
      bridge: null,
      pid: null,
      error: null,
      expires_at: input.expiresAt,
      ended_at: null,
      end_reason: null,
      forked_from: input.fork?.parentId ?? null,
      fork_snapshot_id: input.fork?.snapshotId ?? null,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  await appendAuditEvent(tx, {
    orgId: scope.orgId,
    actor: auditActorOf(scope.principal),
    action: "sandbox.created",
    target: { type: "sandbox", id },
    details: {
      name: row.name,
      source_vm: row.source_vm,
      source_host_id: row.source_host_id,
      host_id: row.host_id,
      vcpus: row.vcpus,
      memory_mb: row.memory_mb,
      allow_egress: row.allow_egress,
      ...(row.egress_allow ? { egress_allow: row.egress_allow } : {}),
      expires_at: row.expires_at.toISOString(),
      ...(input.metadata && Object.keys(input.metadata).length > 0 ? { metadata: input.metadata } : {}),
      ...(input.envVars && Object.keys(input.envVars).length > 0
        ? { env_var_names: Object.keys(input.envVars).sort() }
        : {}),
      ...(input.fork ? { forked_from: input.fork.parentId, snapshot_id: input.fork.snapshotId } : {}),
    },
  });
  return row;
}
