import type { SourceHostConnection } from "@fluid/proto";
import { type Kysely, sql } from "kysely";
import type { DB, HostsTable, Sandbox, SandboxState } from "../db/schema.js";
import { AppError } from "../http/errors.js";
import type { OrgScope } from "../orgs/access.js";
import { assertWithinQuota, lockOrg } from "../quotas/limits.js";
import type { SandboxDeps } from "./deps.js";
import { type Demand, explainNoFit, type PlacementHost, rankHosts } from "./placement.js";
import { recordNewSandbox } from "./record.js";

/** What a caller asks of a new sandbox; placement reads where it may go and what it needs. */
export interface CreateSandboxInput {
  sourceVm: string;
  name?: string | undefined;
  vcpus?: number | undefined;
  memoryMb?: number | undefined;
  ttlSeconds?: number | undefined;
  agentId?: string | undefined;
  allowEgress?: boolean | undefined;
  /** An egress allowlist from the first boot (egress.ts's entry syntax); not with allowEgress. */
  egressAllow?: readonly string[] | undefined;
  /** E2B metadata and sandbox-wide env vars (validated by the E2B API, e2b/sandbox-options.ts). */
  metadata?: Record<string, string> | undefined;
  envVars?: Record<string, string> | undefined;
  /** Place on this host only (a verification clone must boot where its base image or capture is). */
  hostId?: string | undefined;
  /**
   * Clone a source VM: the host pulls its disk (cached unless `fresh`) with these credentials, which
   * travel with this one command and are not stored with the sandbox.
   */
  source?: { connection: SourceHostConnection; fresh: boolean } | undefined;
}

const activeStates: SandboxState[] = ["CREATING", "RUNNING"];

type HostCapacity = Pick<
  HostsTable,
  "id" | "total_cpus" | "total_memory_mb" | "available_memory_mb" | "available_disk_mb"
>;

/**
 * The host as placement sees it now: what it has and what live sandboxes already hold of it. Read
 * inside the transaction that locked the host row, so the count cannot go stale before the insert.
 */
export async function placementHostNow(db: Kysely<DB>, host: HostCapacity): Promise<PlacementHost> {
  const committed = await db
    .selectFrom("sandboxes")
    .select((s) => [s.fn.sum<string>("vcpus").as("vcpus"), s.fn.sum<string>("memory_mb").as("memory_mb")])
    .where("host_id", "=", host.id)
    .where("ended_at", "is", null)
    .where("state", "in", activeStates)
    .executeTakeFirstOrThrow();
  return {
    id: host.id,
    totalCpus: host.total_cpus,
    totalMemoryMb: host.total_memory_mb,
    availableMemoryMb: host.available_memory_mb,
    availableDiskMb: host.available_disk_mb,
    committedVcpus: Number(committed.vcpus ?? 0),
    committedMemoryMb: Number(committed.memory_mb ?? 0),
  };
}

/** Connected hosts with room to place on; `anyImage` when every host can get the image itself (a pull). */
async function candidates(
  deps: SandboxDeps,
  orgId: string,
  sourceVm: string,
  anyImage: boolean,
): Promise<{ hosts: PlacementHost[]; connected: number }> {
  const liveSince = new Date(Date.now() - deps.config.heartbeatIntervalMs * deps.config.missedHeartbeats);
  const image = JSON.stringify([sourceVm]);
  const sourceVmEntry = JSON.stringify([{ name: sourceVm }]);
  const rows = await deps.db
    .selectFrom("hosts as h")
    .leftJoin(
      (eb) =>
        eb
          .selectFrom("sandboxes")
          .select(["host_id"])
          .select((s) => [s.fn.sum<string>("vcpus").as("vcpus"), s.fn.sum<string>("memory_mb").as("memory_mb")])
          .where("ended_at", "is", null)
          .where("state", "in", activeStates)
          .groupBy("host_id")
          .as("c"),
      (join) => join.onRef("c.host_id", "=", "h.id"),
    )
    .select([
      "h.id",
      "h.total_cpus",
      "h.total_memory_mb",
      "h.available_memory_mb",
      "h.available_disk_mb",
      "c.vcpus",
      "c.memory_mb",
      sql<boolean>`(h.base_images @> ${image}::jsonb OR h.source_vms @> ${sourceVmEntry}::jsonb)`.as("has_image"),
    ])
    .where("h.org_id", "=", orgId)
    .where("h.status", "=", "ONLINE")
    .where("h.last_heartbeat", ">", liveSince)
    .execute();
  const reachable = await deps.host.connectedAmong(rows.map((row) => row.id));
  const connected = rows.filter((row) => reachable.has(row.id));
  return {
    connected: connected.length,
    hosts: connected
      .filter((row) => anyImage || row.has_image)
      .map((row) => ({
        id: row.id,
        totalCpus: row.total_cpus,
        totalMemoryMb: row.total_memory_mb,
        availableMemoryMb: row.available_memory_mb,
        availableDiskMb: row.available_disk_mb,
        committedVcpus: Number(row.vcpus ?? 0),
        committedMemoryMb: Number(row.memory_mb ?? 0),
      })),
  };
}

/**
 * Picks a host and records the sandbox on it in one transaction that locks the org row (and
 * re-checks its quotas) and the host row (and re-counts its commitments), so concurrent creates
 * can neither both take the org's last quota slot nor the host's last free memory.
 */
export async function reserve(
  deps: SandboxDeps,
  scope: OrgScope,
  input: CreateSandboxInput,
  demand: Demand,
): Promise<Sandbox> {
  const quota = { sandboxes: 1, vcpus: demand.vcpus, memoryMb: demand.memoryMb };
  await assertWithinQuota(deps.db, scope.orgId, deps.config.quotas, quota);
  const found = await candidates(deps, scope.orgId, input.sourceVm, input.source !== undefined);
  const connected = found.connected;
  const hosts = input.hostId ? found.hosts.filter((host) => host.id === input.hostId) : found.hosts;
  if (connected === 0) throw new AppError("no_capacity", "no sandbox host of this organization is connected");
  if (input.hostId && hosts.length === 0) {
    throw new AppError("no_capacity", `host ${input.hostId} is not connected or lacks "${input.sourceVm}"`);
  }
  if (hosts.length === 0) {
    throw new AppError("no_capacity", `no connected host has the image or source VM "${input.sourceVm}"`);
  }
  const policy = { cpuOvercommit: deps.config.cpuOvercommit };
  const ranked = rankHosts(hosts, demand, policy);
  if (ranked.length === 0) throw new AppError("no_capacity", explainNoFit(hosts, demand, policy));

  const ttlMs = (input.ttlSeconds ?? deps.config.defaultTtlMs / 1000) * 1000;
  for (const candidate of ranked) {
    const row = await deps.db.transaction().execute(async (tx) => {
      await lockOrg(tx, scope.orgId);
      await assertWithinQuota(tx, scope.orgId, deps.config.quotas, quota);
      const host = await tx
        .selectFrom("hosts")
        .select(["id", "total_cpus", "total_memory_mb", "available_memory_mb", "available_disk_mb", "status"])
        .where("id", "=", candidate.id)
        .forUpdate()
        .executeTakeFirst();
      if (host?.status !== "ONLINE") return undefined;
      const fresh = await placementHostNow(tx, host);
      if (rankHosts([fresh], demand, policy).length === 0) return undefined;
      return recordNewSandbox(tx, scope, {
        hostId: candidate.id,
        name: input.name,
        agentId: input.agentId ?? null,
        sourceVm: input.sourceVm,
        sourceHostId: input.source?.connection.sourceHostId || null,
        vcpus: demand.vcpus,
        memoryMb: demand.memoryMb,
        allowEgress: input.allowEgress ?? false,
        egressAllow: input.egressAllow,
        metadata: input.metadata,
        envVars: input.envVars,
        expiresAt: new Date(Date.now() + ttlMs),
      });
    });
    if (row) return row;
  }
  throw new AppError("no_capacity", "hosts filled up while placing the sandbox; retry");
}
