import type { Kysely } from "kysely";
import type { EgressPolicy } from "../network/egress.js";
import type { RecoveredSandbox } from "../network/manager.js";
import type { DaemonDB } from "./schema.js";

/**
 * The sandboxes the last run left alive (not ended), with the egress each was granted: what the
 * network needs at start to restore their firewall rules before any of them is touched.
 */
export async function liveSandboxNetworks(db: Kysely<DaemonDB>): Promise<RecoveredSandbox[]> {
  const rows = await db
    .selectFrom("sandboxes")
    .select(["id", "allow_egress", "egress_allow"])
    .where("ended_at", "is", null)
    .execute();
  return rows.map((row) => ({ sandboxId: row.id, egress: storedEgress(row) }));
}

/** The egress policy a sandbox row records. */
export function storedEgress(row: { allow_egress: number; egress_allow: string | null }): EgressPolicy {
  if (row.egress_allow !== null) return JSON.parse(row.egress_allow) as string[];
  return row.allow_egress === 1;
}
