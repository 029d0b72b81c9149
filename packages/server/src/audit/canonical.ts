import { createHash } from "node:crypto";

/** The prev_hash of an org's first event. */
export const GENESIS_HASH = "0".repeat(64);

/** What an event's hash covers: every column but its id and the hash itself. */
export interface HashedEvent {
  org_id: string;
  seq: number;
  /** ISO 8601 in UTC with milliseconds (`Date.prototype.toISOString`). */
  at: string;
  actor_user_id: string | null;
  actor_key_id: string | null;
  action: string;
  target_type: string;
  target_id: string;
  details: Record<string, unknown>;
  prev_hash: string;
}

/**
 * JSON with object keys sorted at every depth and no whitespace, so the same content always gives
 * the same bytes — whatever order jsonb hands the keys back in.
 */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

/**
 * SHA-256 (hex) of the event's canonical JSON. Anyone holding an export of the table can recompute
 * it: build this object from a row, serialise with sorted keys, hash the UTF-8 bytes.
 */
export function eventHash(event: HashedEvent): string {
  return createHash("sha256").update(canonicalJson(event), "utf8").digest("hex");
}
