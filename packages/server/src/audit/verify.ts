import type { Kysely } from "kysely";
import type { AuditEvent, DB } from "../db/schema.js";
import { eventHash, GENESIS_HASH } from "./canonical.js";

export interface ChainVerdict {
  valid: boolean;
  /** Events in the org's chain (all of them are read, even past the first bad one). */
  events: number;
  /** The last event's hash: what an outside copy of the log can be compared against. */
  head_hash: string | null;
  first_invalid?: { seq: number; reason: string };
}

/**
 * Walks the org's chain in seq order and reports the first break: a row whose content no longer
 * matches its hash (altered), a missing seq (deleted), or a prev_hash that is not the previous
 * row's hash (a row deleted, inserted or moved).
 */
export async function verifyAuditChain(
  db: Kysely<DB>,
  orgId: string,
  // Rows read per query, so a long chain is checked in constant memory.
  { pageSize = 1000 }: { pageSize?: number } = {},
): Promise<ChainVerdict> {
  let expectedSeq = 1;
  let prevHash = GENESIS_HASH;
  let events = 0;
  let firstInvalid: ChainVerdict["first_invalid"];
  for (;;) {
    const page = await db
      .selectFrom("audit_events")
      .selectAll()
      .where("org_id", "=", orgId)
      .where("seq", ">=", String(expectedSeq))
      .orderBy("seq", "asc")
      .limit(pageSize)
      .execute();
    for (const row of page) {
      const seq = Number(row.seq);
      firstInvalid ??= breakAt(row, expectedSeq, prevHash);
      events++;
      expectedSeq = seq + 1;
      prevHash = row.hash;
    }
    if (page.length < pageSize) break;
  }
  return {
    valid: firstInvalid === undefined,
    events,
    head_hash: events === 0 ? null : prevHash,
    ...(firstInvalid ? { first_invalid: firstInvalid } : {}),
  };
}

function breakAt(row: AuditEvent, expectedSeq: number, prevHash: string): ChainVerdict["first_invalid"] {
  const seq = Number(row.seq);
  if (seq !== expectedSeq) {
    const missing = seq - expectedSeq === 1 ? `${expectedSeq}` : `${expectedSeq}-${seq - 1}`;
    return { seq, reason: `seq ${missing} missing before this event (deleted)` };
  }
  if (row.prev_hash !== prevHash) {
    return { seq, reason: "prev_hash does not match the previous event's hash (a row was deleted, inserted or moved)" };
  }
  const recomputed = eventHash({
    org_id: row.org_id,
    seq,
    at: row.at.toISOString(),
    actor_user_id: row.actor_user_id,
    actor_key_id: row.actor_key_id,
    action: row.action,
    target_type: row.target_type,
    target_id: row.target_id,
    details: row.details,
    prev_hash: row.prev_hash,
  });
  if (recomputed !== row.hash) return { seq, reason: "content does not match its hash (the row was altered)" };
  return undefined;
}
