import { z } from "zod";
import type { Command, Sandbox, Snapshot } from "../db/schema.js";
import { iso, Timestamp } from "../http/schemas.js";

export const sandboxStates = ["CREATING", "RUNNING", "STOPPED", "DESTROYED", "ERROR"] as const;
export const endReasons = [
  "user_request",
  "lease_expired",
  "host_lost",
  "create_failed",
  "crashed",
  "reconciled_missing",
] as const;

export const SandboxSchema = z
  .object({
    id: z.uuid(),
    org_id: z.uuid(),
    host_id: z.uuid(),
    name: z.string(),
    state: z.enum(sandboxStates),
    source_vm: z.string(),
    source_host_id: z.uuid().nullable().describe("the source host source_vm was cloned from; null for an image"),
    source_captured_at: Timestamp.nullable().describe(
      "for a clone: when the source VM's disk was captured (a cached copy can be hours old; fresh re-pulls)",
    ),
    vcpus: z.number().int(),
    memory_mb: z.number().int(),
    allow_egress: z.boolean(),
    egress_allow: z
      .array(z.string())
      .nullable()
      .describe("what the sandbox may reach when limited to an allowlist (CIDR or DNS name, :ports); null otherwise"),
    ip_address: z.string().nullable(),
    mac_address: z.string().nullable(),
    bridge: z.string().nullable(),
    agent_id: z.string().nullable(),
    created_by: z.uuid(),
    created_at: Timestamp,
    updated_at: Timestamp,
    expires_at: Timestamp.describe("when the lease ends; extend it with POST …/extend"),
    ended_at: Timestamp.nullable(),
    end_reason: z.enum(endReasons).nullable(),
    error: z.string().nullable(),
    forked_from: z.uuid().nullable().describe("for a fork: the sandbox it was forked from"),
    fork_snapshot_id: z.uuid().nullable().describe("for a fork: the snapshot of forked_from it started from"),
    progress: z
      .object({
        phase: z.string().describe("snapshot, copy, commit, flatten, boot-files (pulling a source VM) or boot"),
        bytes_done: z.number().int(),
        bytes_total: z.number().int().describe("0 while unknown"),
        at: Timestamp,
      })
      .nullable()
      .describe("while CREATING: how far the host has got"),
  })
  .meta({ id: "Sandbox" });

export function sandboxView(row: Sandbox): z.infer<typeof SandboxSchema> {
  return {
    id: row.id,
    org_id: row.org_id,
    host_id: row.host_id,
    name: row.name,
    state: row.state,
    source_vm: row.source_vm,
    source_host_id: row.source_host_id,
    source_captured_at: iso(row.source_captured_at),
    vcpus: row.vcpus,
    memory_mb: row.memory_mb,
    allow_egress: row.allow_egress,
    egress_allow: row.egress_allow,
    ip_address: row.ip_address,
    mac_address: row.mac_address,
    bridge: row.bridge,
    agent_id: row.agent_id,
    created_by: row.created_by,
    created_at: iso(row.created_at),
    updated_at: iso(row.updated_at),
    expires_at: iso(row.expires_at),
    ended_at: iso(row.ended_at),
    end_reason: row.end_reason,
    error: row.error,
    forked_from: row.forked_from,
    fork_snapshot_id: row.fork_snapshot_id,
    progress: row.state === "CREATING" ? row.progress : null,
  };
}

export const CommandSchema = z
  .object({
    id: z.uuid(),
    sandbox_id: z.uuid(),
    command: z.string(),
    env_names: z.array(z.string()).describe("names of the environment variables passed (values are not stored)"),
    status: z.enum(["running", "completed", "failed", "timed_out"]),
    stdout: z.string(),
    stderr: z.string(),
    exit_code: z.number().int().nullable(),
    duration_ms: z.number().int().nullable(),
    stdout_truncated: z.boolean(),
    stderr_truncated: z.boolean(),
    error: z.string().nullable(),
    started_at: Timestamp,
    ended_at: Timestamp.nullable(),
  })
  .meta({ id: "Command" });

export function commandView(row: Command): z.infer<typeof CommandSchema> {
  return {
    id: row.id,
    sandbox_id: row.sandbox_id,
    command: row.command,
    env_names: row.env_names,
    status: row.status,
    stdout: row.stdout ?? "",
    stderr: row.stderr ?? "",
    exit_code: row.exit_code,
    duration_ms: row.duration_ms,
    stdout_truncated: row.stdout_truncated,
    stderr_truncated: row.stderr_truncated,
    error: row.error,
    started_at: iso(row.started_at),
    ended_at: iso(row.ended_at),
  };
}

const withheld =
  "null when withheld: output is sandbox contents, readable by the sandbox's creator (member) and by admins";

/** A command as the trail lists it: everyone in the org sees what ran, only some see what it printed. */
export const CommandRecordSchema = CommandSchema.extend({
  stdout: z.string().nullable().describe(withheld),
  stderr: z.string().nullable().describe(withheld),
}).meta({ id: "CommandRecord" });

export function commandRecordView(row: Command, withOutput: boolean): z.infer<typeof CommandRecordSchema> {
  const view = commandView(row);
  return withOutput ? view : { ...view, stdout: null, stderr: null };
}

export const SnapshotSchema = z
  .object({
    id: z.uuid(),
    sandbox_id: z.uuid(),
    name: z.string(),
    has_memory: z.boolean(),
    size_bytes: z.number().int(),
    created_at: Timestamp,
  })
  .meta({ id: "Snapshot" });

export function snapshotView(row: Snapshot): z.infer<typeof SnapshotSchema> {
  return {
    id: row.id,
    sandbox_id: row.sandbox_id,
    name: row.name,
    has_memory: row.has_memory,
    size_bytes: Number(row.size_bytes),
    created_at: iso(row.created_at),
  };
}
