import { type Kysely, sql, type Transaction } from "kysely";
import type { Principal } from "../auth/principal.js";
import type { AuditEvent, DB } from "../db/schema.js";
import { newId } from "../lib/ids.js";
import { eventHash, GENESIS_HASH } from "./canonical.js";

/** Who did it: a user, possibly through one of their API keys; null for the server itself (the reaper, a host). */
export type AuditActor = { userId: string; keyId?: string | null | undefined } | null;

export interface AuditEventInput {
  orgId: string;
  actor: AuditActor;
  /** Dotted, lower case: `sandbox.created`, `member.role_changed`, `source.command`. */
  action: string;
  target: { type: string; id: string };
  /** Metadata only (never command output or file contents); stored as jsonb. */
  details?: Record<string, unknown>;
}

const ACTION = /^[a-z][a-z_]*(\.[a-z][a-z_]*)+$/;

/** The actor behind a request: the user, and the key when they came with one. */
export function auditActorOf(principal: Principal): NonNullable<AuditActor> {
  return principal.kind === "api_key"
    ? { userId: principal.userId, keyId: principal.keyId }
    : { userId: principal.userId };
}

/**
 * Appends one event to the org's chain. Pass the transaction that writes the change being recorded,
 * so both commit or neither does; given the database instead, it opens its own transaction.
 * Appends to one org are serialised by a transaction-scoped advisory lock on the org (held until the
 * caller's commit, so call this last in a transaction); appends to different orgs do not wait on each other.
 */
export async function appendAuditEvent(db: Kysely<DB>, input: AuditEventInput): Promise<AuditEvent> {
  if (!ACTION.test(input.action)) throw new Error(`audit action "${input.action}" is not dotted lower case`);
  if (db.isTransaction) return appendLocked(db as Transaction<DB>, input);
  return db.transaction().execute((tx) => appendLocked(tx, input));
}

async function appendLocked(tx: Transaction<DB>, input: AuditEventInput): Promise<AuditEvent> {
  await sql`SELECT pg_advisory_xact_lock(hashtext(${input.orgId}))`.execute(tx);
  const last = await tx
    .selectFrom("audit_events")
    .select(["seq", "hash"])
    .where("org_id", "=", input.orgId)
    .orderBy("seq", "desc")
    .limit(1)
    .executeTakeFirst();
  // A round trip through JSON is what jsonb keeps (no undefined, Dates as strings): hash exactly that.
  const details = JSON.parse(JSON.stringify(input.details ?? {})) as Record<string, unknown>;
  const at = new Date();
  const event = {
    org_id: input.orgId,
    seq: last ? Number(last.seq) + 1 : 1,
    at: at.toISOString(),
    actor_user_id: input.actor?.userId ?? null,
    actor_key_id: input.actor?.keyId ?? null,
    action: input.action,
    target_type: input.target.type,
    target_id: input.target.id,
    details,
    prev_hash: last?.hash ?? GENESIS_HASH,
  };
  return tx
    .insertInto("audit_events")
    .values({ ...event, id: newId(), at, details: JSON.stringify(details), hash: eventHash(event) })
    .returningAll()
    .executeTakeFirstOrThrow();
}
