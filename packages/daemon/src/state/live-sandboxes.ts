import type { Kysely } from "kysely";
import type { EgressPolicy } from "../network/egress.js";
import type { RecoveredSandbox } from "../network/manager.js";
import type { DaemonDB } from "./schema.js";

/**
 * The sandboxes the last run left alive (not ended), with the egress each was granted and the peer
 * group it shares a network with (kept in its recorded attachment): what the network needs at
 * start to restore their firewall rules before any of them is touched.
 */
export async function liveSandboxNetworks(db: Kysely<DaemonDB>): Promise<RecoveredSandbox[]> {
  const rows = await db
    .selectFrom("sandboxes")
    .select(["id", "allow_egress", "egress_allow", "network"])
    .where("ended_at", "is", null)
    .execute();
  return rows.map((row) => {
    const peerGroup = recordedPeerGroup(row.network);
    return { sandboxId: row.id, egress: storedEgress(row), ...(peerGroup ? { peerGroup } : {}) };
  });
}

/** The egress policy a sandbox row records. */
export function storedEgress(row: { allow_egress: number; egress_allow: string | null }): EgressPolicy {
  if (row.egress_allow !== null) return JSON.parse(row.egress_allow) as string[];
  return row.allow_egress === 1;
}

function recordedPeerGroup(network: string | null): string | undefined {
  if (!network) return undefined;
  try {
    const parsed: unknown = JSON.parse(network);
    const group = (parsed as { peerGroup?: unknown } | null)?.peerGroup;
    return typeof group === "string" ? group : undefined;
  } catch {
    // A record that does not parse grants nothing: the sandbox comes back isolated.
    return undefined;
  }
}
