import { type Kysely, sql } from "kysely";
import type { DB } from "../db/schema.js";
import type { Logger } from "../log/logger.js";

/** How often a replica writes its heartbeat (and renews its host leases). */
export const REPLICA_HEARTBEAT_MS = 2_000;
/** A replica is live while its heartbeat is younger than this and it has not stopped. */
export const REPLICA_LIVE_MS = 10_000;

/** SQL condition: replica row `r` is live. */
export const replicaIsLive = sql`(r.stopped_at IS NULL AND r.heartbeat_at > now() - ${REPLICA_LIVE_MS} * interval '1 millisecond')`;

/**
 * Records this replica as started. An id still held by a live replica is refused (two processes
 * under one name would each believe they own the other's hosts), after waiting out one live window:
 * a process restarted under its id right after a crash finds its old row still fresh for a while.
 * A stopped or silent row is reused; leases left under the id by an earlier run are dropped, since
 * that run's streams are gone.
 */
export async function registerReplica(db: Kysely<DB>, id: string, log: Logger): Promise<void> {
  const giveUpAt = Date.now() + REPLICA_LIVE_MS + REPLICA_HEARTBEAT_MS;
  for (let attempt = 0; ; attempt++) {
    const taken = await sql<{ id: string }>`
      INSERT INTO replicas AS r (id) VALUES (${id})
      ON CONFLICT (id) DO UPDATE SET started_at = now(), heartbeat_at = now(), stopped_at = NULL
        WHERE NOT ${replicaIsLive}
      RETURNING id`.execute(db);
    if (taken.rows.length > 0) break;
    if (Date.now() >= giveUpAt) {
      throw new Error(`replica id "${id}" is in use by a live replica; give each replica its own --replica-id`);
    }
    if (attempt === 0)
      log.warn({ replicaId: id }, "replica id still heart-beating elsewhere; waiting for it to go silent");
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
  await db.deleteFrom("host_leases").where("replica_id", "=", id).execute();
}

/** Returns false when this replica's row says it stopped (it must not keep serving as live). */
export async function beat(db: Kysely<DB>, id: string): Promise<boolean> {
  const result = await db
    .updateTable("replicas")
    .set({ heartbeat_at: sql`now()` })
    .where("id", "=", id)
    .where("stopped_at", "is", null)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

/** A clean stop: other replicas see this one's hosts as unavailable at once instead of after the live window. */
export async function stopReplica(db: Kysely<DB>, id: string): Promise<void> {
  await db.deleteFrom("host_leases").where("replica_id", "=", id).execute();
  await db.updateTable("replicas").set({ stopped_at: sql`now()` }).where("id", "=", id).execute();
}
