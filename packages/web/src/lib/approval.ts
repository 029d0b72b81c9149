import type { ChangeRequestSummary, Organization } from "@fluid/sdk";
import { atLeast } from "./roles";

/**
 * What the decision area offers (SPEC §3, §7): nothing below admin; for an admin who authored the
 * request, rejection and the two-person rule's explanation unless the org allows self-approval;
 * approve and reject otherwise; nothing once the request is decided for good.
 */
export type DecisionControls = "none" | "closed" | "reject-only" | "approve-and-reject";

const settled = new Set(["approved", "rejected", "applied"]);

export function decisionControls(
  org: Pick<Organization, "role" | "allow_self_approval">,
  userId: string,
  request: Pick<ChangeRequestSummary, "author_id" | "state">,
): DecisionControls {
  if (!atLeast(org.role, "admin")) return "none";
  if (settled.has(request.state)) return "closed";
  if (request.author_id === userId && !org.allow_self_approval) return "reject-only";
  return "approve-and-reject";
}
