import { z } from "zod";
import { appendAuditEvent, auditActorOf } from "../audit/append.js";
import type { Sandbox } from "../db/schema.js";
import { AppError } from "../http/errors.js";
import type { OrgScope } from "../orgs/access.js";
import { assertState } from "./access.js";
import type { SandboxDeps } from "./deps.js";
import { getSandbox } from "./store.js";

export const MAX_EGRESS_ENTRIES = 64;

/**
 * The shape of one allowlist entry: an IPv4 address or CIDR block, a DNS name or a `*.` wildcard,
 * optionally followed by :PORT[,PORT…]. The host checks the rest (host bits, port range, label
 * rules) before it changes anything, and its refusal comes back as invalid_request.
 */
export const EgressEntry = z
  .string()
  .max(300)
  .regex(
    /^(?:\d{1,3}(?:\.\d{1,3}){3}(?:\/\d{1,2})?|(?:\*\.)?[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+\.?)(?::\d{1,5}(?:,\d{1,5})*)?$/,
    "must be CIDR or DNS name (*.wildcard allowed), optionally :PORT[,PORT…]",
  );

/** What a sandbox may reach: anywhere, only the allowlist, or (both empty) nowhere. */
export interface EgressPolicy {
  allowAll: boolean;
  allow: readonly string[];
}

function egressSummary(row: Pick<Sandbox, "allow_egress" | "egress_allow">): "all" | "none" | string[] {
  if (row.allow_egress) return "all";
  return row.egress_allow && row.egress_allow.length > 0 ? row.egress_allow : "none";
}

/**
 * Replaces a running sandbox's egress on its host (one firewall transaction there) and records it,
 * with what it was before, in the audit trail. Admins only: API keys cannot tell a person from an
 * agent, so the role is the gate, and no MCP tool offers this.
 */
export async function setSandboxEgress(
  deps: SandboxDeps,
  scope: OrgScope,
  id: string,
  policy: EgressPolicy,
): Promise<Sandbox> {
  if (policy.allowAll && policy.allow.length > 0)
    throw new AppError("invalid_request", "give allow_all or allow, not both");
  const sandbox = await getSandbox(deps.db, scope, id);
  assertState(sandbox, ["RUNNING", "STOPPED"], "change the egress of");
  await deps.host.setEgress(sandbox.host_id, id, policy);
  const after = { allow_egress: policy.allowAll, egress_allow: policy.allow.length > 0 ? [...policy.allow] : null };
  const row = await deps.db.transaction().execute(async (tx) => {
    const updated = await tx
      .updateTable("sandboxes")
      .set({ ...after, updated_at: new Date() })
      .where("id", "=", id)
      .where("org_id", "=", scope.orgId)
      .where("ended_at", "is", null)
      .returningAll()
      .executeTakeFirst();
    if (updated) {
      await appendAuditEvent(tx, {
        orgId: scope.orgId,
        actor: auditActorOf(scope.principal),
        action: "sandbox.egress_changed",
        target: { type: "sandbox", id },
        details: { before: egressSummary(sandbox), after: egressSummary(after) },
      });
    }
    return updated;
  });
  if (!row) throw new AppError("invalid_state", "sandbox ended while its egress was being changed");
  return row;
}
