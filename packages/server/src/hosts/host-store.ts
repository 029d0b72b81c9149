import type { Heartbeat, HostRegistration, ResourceReport } from "@fluid/proto";
import { type Kysely, sql } from "kysely";
import type { DB } from "../db/schema.js";
import { hashSecret } from "../lib/secrets.js";

export interface HostToken {
  id: string;
  orgId: string;
}

/** The live host token for a raw bearer secret: not revoked, not expired, in an existing org. */
export async function findHostToken(db: Kysely<DB>, secret: string): Promise<HostToken | undefined> {
  const now = new Date();
  const row = await db
    .selectFrom("host_tokens as t")
    .innerJoin("orgs as o", "o.id", "t.org_id")
    .select(["t.id", "t.org_id"])
    .where("t.token_hash", "=", hashSecret(secret))
    .where("t.revoked_at", "is", null)
    .where((eb) => eb.or([eb("t.expires_at", "is", null), eb("t.expires_at", ">", now)]))
    .where("o.deleted_at", "is", null)
    .executeTakeFirst();
  if (!row) return undefined;
  await db.updateTable("host_tokens").set({ last_used_at: now }).where("id", "=", row.id).execute();
  return { id: row.id, orgId: row.org_id };
}

const clampInt = (value: number | bigint) => {
  const n = Number(value);
  return Number.isFinite(n) ? Math.max(0, Math.min(2_147_483_647, Math.trunc(n))) : 0;
};

/**
 * Records a (re)connected host in one atomic upsert. `connected_at` is this connection's epoch:
 * later writes from this stream are fenced on it, so a stale stream cannot overwrite a newer one.
 */
export async function upsertRegisteredHost(
  db: Kysely<DB>,
  token: HostToken,
  registration: HostRegistration,
  connectedAt: Date,
): Promise<void> {
  const values = {
    id: token.id,
    org_id: token.orgId,
    hostname: registration.hostname,
    version: registration.version,
    total_cpus: clampInt(registration.totalCpus),
    total_memory_mb: clampInt(registration.totalMemoryMb),
    total_disk_mb: clampInt(registration.totalDiskMb),
    available_cpus: clampInt(registration.availableCpus),
    available_memory_mb: clampInt(registration.availableMemoryMb),
    available_disk_mb: clampInt(registration.availableDiskMb),
    base_images: JSON.stringify(registration.baseImages),
    source_vms: JSON.stringify(
      registration.sourceVms.map((vm) => ({
        name: vm.name,
        state: vm.state,
        ip_address: vm.ipAddress,
        prepared: vm.prepared,
      })),
    ),
    bridges: JSON.stringify(registration.bridges.map((b) => ({ name: b.name, subnet: b.subnet }))),
    status: "ONLINE" as const,
    connected_at: connectedAt,
    last_heartbeat: connectedAt,
    disconnected_at: null,
  };
  const { id: _id, org_id: _org, ...update } = values;
  await db
    .insertInto("hosts")
    .values(values)
    .onConflict((oc) =>
      oc
        .column("id")
        .doUpdateSet({ ...update, updated_at: sql`now()` })
        .where("hosts.org_id", "=", token.orgId),
    )
    .execute();
}

/**
 * Applies a heartbeat if this connection is still the host's current one and its token is still
 * valid; false means the stream must close (token revoked, or another connection took over).
 */
export async function recordHeartbeat(
  db: Kysely<DB>,
  hostId: string,
  connectedAt: Date,
  beat: Heartbeat,
): Promise<boolean> {
  const result = await db
    .updateTable("hosts")
    .set({
      available_cpus: clampInt(beat.availableCpus),
      available_memory_mb: clampInt(beat.availableMemoryMb),
      available_disk_mb: clampInt(beat.availableDiskMb),
      active_sandboxes: clampInt(beat.activeSandboxes),
      last_heartbeat: new Date(),
      status: "ONLINE",
      updated_at: new Date(),
    })
    .where("id", "=", hostId)
    .where("connected_at", "=", connectedAt)
    .where((eb) =>
      eb.exists(
        eb
          .selectFrom("host_tokens as t")
          .select("t.id")
          .whereRef("t.id", "=", "hosts.id")
          .where("t.revoked_at", "is", null)
          .where((inner) => inner.or([inner("t.expires_at", "is", null), inner("t.expires_at", ">", new Date())])),
      ),
    )
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

export async function recordResources(
  db: Kysely<DB>,
  hostId: string,
  connectedAt: Date,
  report: ResourceReport,
): Promise<void> {
  await db
    .updateTable("hosts")
    .set({
      total_cpus: clampInt(report.totalCpus),
      total_memory_mb: clampInt(report.totalMemoryMb),
      total_disk_mb: clampInt(report.totalDiskMb),
      available_cpus: clampInt(report.availableCpus),
      available_memory_mb: clampInt(report.availableMemoryMb),
      available_disk_mb: clampInt(report.availableDiskMb),
      active_sandboxes: report.sandboxStatuses.length,
      base_images: JSON.stringify(report.baseImages),
      source_vms: JSON.stringify(
        report.sourceVms.map((vm) => ({
          name: vm.name,
          state: vm.state,
          ip_address: vm.ipAddress,
          prepared: vm.prepared,
        })),
      ),
      bridges: JSON.stringify(report.bridges.map((b) => ({ name: b.name, subnet: b.subnet }))),
      last_heartbeat: new Date(),
      updated_at: new Date(),
    })
    .where("id", "=", hostId)
    .where("connected_at", "=", connectedAt)
    .execute();
}

/** Marks the host OFFLINE unless a newer connection (on any replica) has taken over since. */
export async function markDisconnected(db: Kysely<DB>, hostId: string, connectedAt: Date): Promise<void> {
  await db
    .updateTable("hosts")
    .set({ status: "OFFLINE", disconnected_at: new Date(), updated_at: new Date() })
    .where("id", "=", hostId)
    .where("connected_at", "=", connectedAt)
    .execute();
}

/** Hosts whose last heartbeat is older than the liveness window (e.g. their replica died). */
export async function markSilentHostsOffline(db: Kysely<DB>, livenessMs: number): Promise<number> {
  const result = await db
    .updateTable("hosts")
    .set({ status: "OFFLINE", disconnected_at: new Date(), updated_at: new Date() })
    .where("status", "=", "ONLINE")
    .where("last_heartbeat", "<", new Date(Date.now() - livenessMs))
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}
