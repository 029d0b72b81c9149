import type { Kysely } from "kysely";
import type { RecoveredSandbox } from "../network/manager.js";
import type { DaemonDB } from "./schema.js";

/**
 * The sandboxes the last run left alive (not ended), with the egress each was granted: what the
 * network needs at start to restore their firewall rules before any of them is touched.
 */
export async function liveSandboxNetworks(db: Kysely<DaemonDB>): Promise<RecoveredSandbox[]> {
  const rows = await db.selectFrom("sandboxes").select(["id", "allow_egress"]).where("ended_at", "is", null).execute();
  return rows.map((row) => ({ sandboxId: row.id, egress: row.allow_egress === 1 }));
}
