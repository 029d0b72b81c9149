import { type Insertable, type Kysely, sql } from "kysely";
import type { ChangeRequest, ChangeRequestApproval, ChangeRequestState, DB, Verification } from "../db/schema.js";
import { notFound } from "../http/errors.js";
import { newId } from "../lib/ids.js";
import type { OrgScope } from "../orgs/access.js";
import { statesFor } from "./states.js";

/**
 * Change request storage. Every statement carries the org in SQL (another org's id finds nothing:
 * 404), and every state change is a conditional UPDATE on the state it starts from, so two callers
 * racing cannot both move a request.
 */

export type NewChangeRequest = Insertable<DB["change_requests"]>;

export async function insertChangeRequest(db: Kysely<DB>, values: NewChangeRequest): Promise<ChangeRequest> {
  return db.insertInto("change_requests").values(values).returningAll().executeTakeFirstOrThrow();
}

export async function getChangeRequest(db: Kysely<DB>, scope: OrgScope, id: string): Promise<ChangeRequest> {
  const row = await db
    .selectFrom("change_requests")
    .selectAll()
    .where("id", "=", id)
    .where("org_id", "=", scope.orgId)
    .executeTakeFirst();
  if (!row) throw notFound("change request");
  return row;
}

export async function listChangeRequests(
  db: Kysely<DB>,
  scope: OrgScope,
  filter: { state?: ChangeRequestState | undefined; limit: number; offset: number },
): Promise<ChangeRequest[]> {
  let query = db
    .selectFrom("change_requests")
    .selectAll()
    .where("org_id", "=", scope.orgId)
    .orderBy("created_at", "desc")
    .orderBy("id", "desc")
    .limit(filter.limit + 1)
    .offset(filter.offset);
  if (filter.state) query = query.where("state", "=", filter.state);
  return query.execute();
}

export async function listDecisions(db: Kysely<DB>, scope: OrgScope, id: string): Promise<ChangeRequestApproval[]> {
  return db
    .selectFrom("change_request_approvals")
    .selectAll()
    .where("change_request_id", "=", id)
    .where("org_id", "=", scope.orgId)
    .orderBy("at", "asc")
    .orderBy("id", "asc")
    .execute();
}

/** A new playbook: new hash, verification gone, back to draft. Undefined when the state forbids an edit. */
export async function replacePlaybook(
  db: Kysely<DB>,
  scope: OrgScope,
  id: string,
  playbook: { yaml: string; hash: string },
): Promise<ChangeRequest | undefined> {
  const now = new Date();
  return db
    .updateTable("change_requests")
    .set({
      playbook: playbook.yaml,
      playbook_hash: playbook.hash,
      playbook_origin: "edited",
      playbook_notes: JSON.stringify([]),
      state: "draft",
      verification: null,
      verification_run: null,
      verification_started_at: null,
      playbook_updated_at: now,
      updated_at: now,
    })
    .where("id", "=", id)
    .where("org_id", "=", scope.orgId)
    .where("state", "in", statesFor("edit"))
    .returningAll()
    .executeTakeFirst();
}

/**
 * Records an approval or a rejection against the request's current hashes and moves its state, with
 * the row locked: `check` sees the request as it is at that moment and throws to refuse.
 */
export async function recordDecision(
  db: Kysely<DB>,
  scope: OrgScope,
  id: string,
  decision: { kind: "approve" | "reject"; comment: string; state: ChangeRequestState },
  check: (row: ChangeRequest) => void,
): Promise<ChangeRequest> {
  return db.transaction().execute(async (tx) => {
    const row = await tx
      .selectFrom("change_requests")
      .selectAll()
      .where("id", "=", id)
      .where("org_id", "=", scope.orgId)
      .forUpdate()
      .executeTakeFirst();
    if (!row) throw notFound("change request");
    check(row);
    await tx
      .insertInto("change_request_approvals")
      .values({
        id: newId(),
        org_id: scope.orgId,
        change_request_id: id,
        approver_id: scope.principal.userId,
        approver_key_id: scope.principal.kind === "api_key" ? scope.principal.keyId : null,
        decision: decision.kind,
        diff_hash: row.diff_hash,
        playbook_hash: row.playbook_hash,
        comment: decision.comment,
      })
      .execute();
    return tx
      .updateTable("change_requests")
      .set({ state: decision.state, updated_at: new Date() })
      .where("id", "=", id)
      .where("org_id", "=", scope.orgId)
      .returningAll()
      .executeTakeFirstOrThrow();
  });
}

/** Marks the request verifying under `runId`; undefined when its state forbids a verification. */
export async function startVerification(
  db: Kysely<DB>,
  scope: OrgScope,
  id: string,
  runId: string,
): Promise<ChangeRequest | undefined> {
  const now = new Date();
  return db
    .updateTable("change_requests")
    .set({
      state: "verifying",
      verification: null,
      verification_run: runId,
      verification_started_at: now,
      worker_seen_at: sql<Date>`now()`,
      updated_at: now,
    })
    .where("id", "=", id)
    .where("org_id", "=", scope.orgId)
    .where("state", "in", statesFor("verify"))
    .returningAll()
    .executeTakeFirst();
}

/**
 * Stores a verification's result, only if the request is still waiting for this very run: an edit
 * (or a rejection) meanwhile means it ran on something that no longer is the request, so it is dropped.
 */
export async function finishVerification(
  db: Kysely<DB>,
  orgId: string,
  id: string,
  runId: string,
  verification: Verification,
): Promise<boolean> {
  const result = await db
    .updateTable("change_requests")
    .set({
      state: verification.passed ? "verified" : "verification_failed",
      verification: JSON.stringify(verification),
      updated_at: new Date(),
    })
    .where("id", "=", id)
    .where("org_id", "=", orgId)
    .where("state", "=", "verifying")
    .where("verification_run", "=", runId)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}
