import { type Kysely, sql } from "kysely";
import type { DB } from "../db/schema.js";
import { REPLICA_LIVE_MS, replicaIsLive } from "./identity.js";

/** SQL condition: lease `l` is held by a live replica `r` and has not expired. */
const leaseIsLive = sql`(l.expires_at > now() AND ${replicaIsLive})`;

const ttl = sql`${REPLICA_LIVE_MS} * interval '1 millisecond'`;

/**
 * Takes the host's lease for this replica, even from another live one: the daemon chose to connect
 * here. The epoch grows on every take, so the replica that held it finds out at its next renewal.
 */
export async function takeLease(db: Kysely<DB>, hostId: string, replicaId: string, connectedAt: Date): Promise<string> {
  const result = await sql<{ epoch: string }>`
    INSERT INTO host_leases (host_id, replica_id, epoch, connected_at, expires_at)
    VALUES (${hostId}, ${replicaId}, 1, ${connectedAt}, now() + ${ttl})
    ON CONFLICT (host_id) DO UPDATE SET replica_id = EXCLUDED.replica_id, epoch = host_leases.epoch + 1,
      connected_at = EXCLUDED.connected_at, expires_at = EXCLUDED.expires_at
    RETURNING epoch`.execute(db);
  const row = result.rows[0];
  if (!row) throw new Error("lease upsert returned no row");
  return String(row.epoch);
}

/** Extends this replica's leases on `hostIds`; returns the epoch of each it still holds. */
export async function renewLeases(db: Kysely<DB>, replicaId: string, hostIds: string[]): Promise<Map<string, string>> {
  if (hostIds.length === 0) return new Map();
  const result = await sql<{ host_id: string; epoch: string }>`
    UPDATE host_leases SET expires_at = now() + ${ttl}
    WHERE replica_id = ${replicaId} AND host_id = ANY(${hostIds}::uuid[])
    RETURNING host_id, epoch`.execute(db);
  return new Map(result.rows.map((row) => [row.host_id, String(row.epoch)]));
}

/** Drops the lease only if it is still this session's (same replica and epoch). */
export async function dropLease(db: Kysely<DB>, hostId: string, replicaId: string, epoch: string): Promise<void> {
  await db
    .deleteFrom("host_leases")
    .where("host_id", "=", hostId)
    .where("replica_id", "=", replicaId)
    .where("epoch", "=", epoch)
    .execute();
}

export interface LeaseHolder {
  replicaId: string;
  live: boolean;
}

/** Who holds each host's lease, and whether that holder can still answer. Hosts without one are absent. */
export async function leaseHolders(db: Kysely<DB>, hostIds: string[]): Promise<Map<string, LeaseHolder>> {
  if (hostIds.length === 0) return new Map();
  const result = await sql<{ host_id: string; replica_id: string; live: boolean }>`
    SELECT l.host_id, l.replica_id, ${leaseIsLive} AS live
    FROM host_leases l JOIN replicas r ON r.id = l.replica_id
    WHERE l.host_id = ANY(${hostIds}::uuid[])`.execute(db);
  return new Map(result.rows.map((row) => [row.host_id, { replicaId: row.replica_id, live: row.live }]));
}

/** The org's hosts whose stream is on another live replica, with their open command counts. */
export async function remoteHostsInOrg(
  db: Kysely<DB>,
  orgId: string,
  replicaId: string,
): Promise<{ hostId: string; open: number }[]> {
  const result = await sql<{ host_id: string; open: string }>`
    SELECT l.host_id,
      (SELECT count(*) FROM host_commands c WHERE c.host_id = l.host_id AND c.state IN ('queued', 'sent')) AS open
    FROM host_leases l JOIN replicas r ON r.id = l.replica_id JOIN hosts h ON h.id = l.host_id
    WHERE h.org_id = ${orgId} AND l.replica_id <> ${replicaId} AND ${leaseIsLive}`.execute(db);
  return result.rows.map((row) => ({ hostId: row.host_id, open: Number(row.open) }));
}

/** The SQL condition a command's host must meet to still be reachable: a live lease. */
export const hostHasLiveLease = sql`EXISTS (
  SELECT 1 FROM host_leases l JOIN replicas r ON r.id = l.replica_id WHERE l.host_id = c.host_id AND ${leaseIsLive})`;

/**
 * The SQL condition a sent command `c` needs to still be answerable: the stream it went out on holds
 * the host's live lease. A new stream elsewhere has a new epoch and never sees the old one's replies.
 */
export const sendingStreamHoldsLease = sql`EXISTS (
  SELECT 1 FROM host_leases l JOIN replicas r ON r.id = l.replica_id
  WHERE l.host_id = c.host_id AND l.replica_id = c.claimed_by AND l.epoch = c.claimed_epoch AND ${leaseIsLive})`;
