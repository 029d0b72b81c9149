import { type Kysely, sql } from "kysely";
import { type AuditActor, appendAuditEvent } from "../audit/append.js";
import type { DB, EndReason, Sandbox, SandboxState, Snapshot } from "../db/schema.js";
import { notFound } from "../http/errors.js";
import type { OrgScope } from "../orgs/access.js";

/** Sandbox and snapshot rows; every lookup is scoped by org in SQL. */
export async function getSandbox(db: Kysely<DB>, scope: OrgScope, id: string): Promise<Sandbox> {
  const row = await db
    .selectFrom("sandboxes")
    .selectAll()
    .where("id", "=", id)
    .where("org_id", "=", scope.orgId)
    .executeTakeFirst();
  if (!row) throw notFound("sandbox");
  return row;
}

export function listSandboxes(
  db: Kysely<DB>,
  scope: OrgScope,
  page: { limit: number; offset: number; includeEnded: boolean; metadata?: Record<string, string> | undefined },
): Promise<Sandbox[]> {
  let query = db
    .selectFrom("sandboxes")
    .selectAll()
    .where("org_id", "=", scope.orgId)
    .orderBy("created_at", "desc")
    .orderBy("id", "desc")
    .limit(page.limit + 1)
    .offset(page.offset);
  if (!page.includeEnded) query = query.where("ended_at", "is", null);
  if (page.metadata) query = query.where(sql<boolean>`metadata @> ${JSON.stringify(page.metadata)}::jsonb`);
  return query.execute();
}

/** One of the sandbox's own snapshots, in the caller's org; 404 for any other. */
export async function getOwnSnapshot(
  db: Kysely<DB>,
  scope: OrgScope,
  sandboxId: string,
  snapshotId: string,
): Promise<Snapshot> {
  const snapshot = await db
    .selectFrom("snapshots")
    .selectAll()
    .where("id", "=", snapshotId)
    .where("sandbox_id", "=", sandboxId)
    .where("org_id", "=", scope.orgId)
    .executeTakeFirst();
  if (!snapshot) throw notFound("snapshot of this sandbox");
  return snapshot;
}

/**
 * Records an end exactly once, with its audit event; returns the ended row, or undefined if it had
 * already ended. `actor` is null when the server or a host ended it (lease, crash, lost host).
 */
export function endSandbox(
  db: Kysely<DB>,
  id: string,
  reason: EndReason,
  state: SandboxState,
  options: { error?: string | undefined; actor?: AuditActor } = {},
): Promise<Sandbox | undefined> {
  const now = new Date();
  return db.transaction().execute(async (tx) => {
    const ended = await tx
      .updateTable("sandboxes")
      .set({
        state,
        ended_at: now,
        end_reason: reason,
        updated_at: now,
        ...(options.error ? { error: options.error.slice(0, 2000) } : {}),
      })
      .where("id", "=", id)
      .where("ended_at", "is", null)
      .returningAll()
      .executeTakeFirst();
    if (ended) await recordEnd(tx, ended, options.actor ?? null);
    return ended;
  });
}

/** A user's destroy is `sandbox.destroyed`; any other end (lease, crash, lost host, failed create) is `sandbox.ended`. */
export function recordEnd(tx: Kysely<DB>, sandbox: Sandbox, actor: AuditActor) {
  return appendAuditEvent(tx, {
    orgId: sandbox.org_id,
    actor,
    action: sandbox.end_reason === "user_request" ? "sandbox.destroyed" : "sandbox.ended",
    target: { type: "sandbox", id: sandbox.id },
    details: { end_reason: sandbox.end_reason, state: sandbox.state, host_id: sandbox.host_id },
  });
}
