import type { Kysely } from "kysely";
import type { QuotaLimits } from "../config/quotas.js";
import type { DB } from "../db/schema.js";
import { AppError } from "../http/errors.js";

/** What an org holds now, in the units its limits are given in. */
export interface QuotaUse {
  sandboxes: number;
  vcpus: number;
  memoryMb: number;
  snapshotBytes: number;
}

/** What a create, fork or start would add; a start adds no sandbox. */
export interface QuotaRequest {
  sandboxes: number;
  vcpus: number;
  memoryMb: number;
}

type Limited = keyof QuotaRequest;

const labels: Record<keyof QuotaLimits, { name: string; unit: (n: number) => string }> = {
  sandboxes: { name: "live sandboxes", unit: (n) => String(n) },
  vcpus: { name: "vCPUs", unit: (n) => String(n) },
  memoryMb: { name: "memory", unit: (n) => `${n} MiB` },
  snapshotBytes: { name: "snapshot storage", unit: (n) => `${n} bytes` },
};

/** The org's own limits over the server's defaults: a NULL column takes the default, 0 means unlimited. */
export async function effectiveLimits(db: Kysely<DB>, orgId: string, defaults: QuotaLimits): Promise<QuotaLimits> {
  const own = await db.selectFrom("org_quotas").selectAll().where("org_id", "=", orgId).executeTakeFirst();
  const pick = (value: number | string | null | undefined, fallback: number | null): number | null => {
    if (value === null || value === undefined) return fallback;
    return Number(value) === 0 ? null : Number(value);
  };
  return {
    sandboxes: pick(own?.max_sandboxes, defaults.sandboxes),
    vcpus: pick(own?.max_vcpus, defaults.vcpus),
    memoryMb: pick(own?.max_memory_mb, defaults.memoryMb),
    snapshotBytes: pick(own?.max_snapshot_bytes, defaults.snapshotBytes),
  };
}

/**
 * Live sandboxes count whatever their state; vCPUs and memory only while CREATING or RUNNING (a
 * stopped VM holds neither); snapshot storage is every snapshot the org's hosts keep.
 */
export async function currentUse(db: Kysely<DB>, orgId: string): Promise<QuotaUse> {
  const sandboxes = await db
    .selectFrom("sandboxes")
    .select((s) => [
      s.fn.countAll<string>().as("count"),
      s.fn.sum<string>(s.case().when("state", "in", ["CREATING", "RUNNING"]).then(s.ref("vcpus")).end()).as("vcpus"),
      s.fn
        .sum<string>(s.case().when("state", "in", ["CREATING", "RUNNING"]).then(s.ref("memory_mb")).end())
        .as("memory_mb"),
    ])
    .where("org_id", "=", orgId)
    .where("ended_at", "is", null)
    .executeTakeFirstOrThrow();
  const snapshots = await db
    .selectFrom("snapshots")
    .select((s) => s.fn.sum<string>("size_bytes").as("bytes"))
    .where("org_id", "=", orgId)
    .executeTakeFirstOrThrow();
  return {
    sandboxes: Number(sandboxes.count),
    vcpus: Number(sandboxes.vcpus ?? 0),
    memoryMb: Number(sandboxes.memory_mb ?? 0),
    snapshotBytes: Number(snapshots.bytes ?? 0),
  };
}

/**
 * Serializes the quota checks of one org: held until the caller's transaction ends. NO KEY UPDATE,
 * not UPDATE: inserting a row that references the org (an audit event under its advisory lock)
 * takes KEY SHARE on it, and waiting for that while holding the lock the inserter waits for would
 * deadlock.
 */
export async function lockOrg(tx: Kysely<DB>, orgId: string): Promise<void> {
  await tx.selectFrom("orgs").select("id").where("id", "=", orgId).forNoKeyUpdate().execute();
}

function refusal(limit: keyof QuotaLimits, allowed: number, used: number, requested?: number): AppError {
  const { name, unit } = labels[limit];
  const asked = requested === undefined ? "" : `, requested ${unit(requested)}`;
  return new AppError(
    "quota_exceeded",
    `the organization's ${name} quota would be exceeded: limit ${unit(allowed)}, in use ${unit(used)}${asked}`,
  );
}

/**
 * Refuses with quota_exceeded when the request would take the org past a limit. Call it inside the
 * transaction that records the sandboxes, after `lockOrg`, so two requests racing for the last
 * slot are counted one after the other and exactly one wins.
 */
export async function assertWithinQuota(
  tx: Kysely<DB>,
  orgId: string,
  defaults: QuotaLimits,
  request: QuotaRequest,
): Promise<void> {
  const limits = await effectiveLimits(tx, orgId, defaults);
  const checked = (["sandboxes", "vcpus", "memoryMb"] as const).filter(
    (key: Limited) => request[key] > 0 && limits[key] !== null,
  );
  if (checked.length === 0) return;
  const use = await currentUse(tx, orgId);
  for (const key of checked) {
    const allowed = limits[key] as number;
    if (use[key] + request[key] > allowed) throw refusal(key, allowed, use[key], request[key]);
  }
}

/**
 * A snapshot's size is known only once the host has taken it, so one is admitted while the org's
 * snapshots stay below the limit; snapshots taken at the same moment may overshoot it by their size.
 */
export async function assertSnapshotRoom(db: Kysely<DB>, orgId: string, defaults: QuotaLimits): Promise<void> {
  const limits = await effectiveLimits(db, orgId, defaults);
  if (limits.snapshotBytes === null) return;
  const use = await currentUse(db, orgId);
  if (use.snapshotBytes >= limits.snapshotBytes)
    throw refusal("snapshotBytes", limits.snapshotBytes, use.snapshotBytes);
}
