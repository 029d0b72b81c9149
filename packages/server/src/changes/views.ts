import { z } from "zod";
import { atLeast } from "../auth/roles.js";
import type { ApplyResult, ChangeRequest, ChangeRequestApproval, Verification } from "../db/schema.js";
import { iso, Timestamp } from "../http/schemas.js";
import type { OrgScope } from "../orgs/access.js";
import { SandboxDiffSchema } from "../sandboxes/diff.js";
import { changeRequestStates } from "./states.js";

/** Contents (diff, playbook, run logs) are the sandbox's: its author and admins see them (SPEC §3). */
export function mayReadContents(scope: OrgScope, row: ChangeRequest): boolean {
  return atLeast(scope.role, "admin") || (atLeast(scope.role, "member") && row.author_id === scope.principal.userId);
}

export const contentsNote =
  "Viewers, and members reading someone else's request, get it without the diff, playbook and run logs: " +
  "they are contents of a clone of production.";

const Hash = z.string().regex(/^[0-9a-f]{64}$/);
const Recap = z.object({
  ok: z.number().int(),
  changed: z.number().int(),
  unreachable: z.number().int(),
  failed: z.number().int(),
  skipped: z.number().int(),
  rescued: z.number().int(),
  ignored: z.number().int(),
});

const withheld = "null when withheld: contents of a clone of production, readable by the author and admins";

const MismatchSchema = z
  .object({
    kind: z.string(),
    key: z.string().describe("the change's path or name"),
    problem: z.enum(["missing_in_clone", "extra_in_clone", "differs"]),
    fields: z
      .array(z.object({ field: z.string(), expected: z.unknown(), actual: z.unknown() }))
      .optional()
      .describe("for differs: each field whose value differs, as in the sandbox (expected) and in the clone"),
  })
  .meta({ id: "ChangeRequestMismatch" });

export const VerificationSchema = z
  .object({
    passed: z.boolean(),
    first_run_changed: z.number().int().nullable(),
    second_run_changed: z.number().int().nullable().describe("must be 0: the playbook is idempotent"),
    equivalent: z.boolean().nullable().describe("the clone's diff matches the sandbox's; null if not reached"),
    mismatches: z.array(MismatchSchema),
    first_recap: Recap.nullable(),
    second_recap: Recap.nullable(),
    log_excerpt: z.string().nullable().describe(`the end of each run's output; ${withheld}`),
    duration_ms: z.number().int(),
    clone_sandbox_id: z.uuid().nullable().describe("the clone it ran on (destroyed afterwards)"),
    error: z.string().optional().describe("why it failed, when it did"),
  })
  .meta({ id: "ChangeRequestVerification" });

export const DecisionSchema = z
  .object({
    id: z.uuid(),
    approver_id: z.uuid(),
    decision: z.enum(["approve", "reject"]),
    diff_hash: Hash,
    playbook_hash: Hash,
    comment: z.string(),
    at: Timestamp,
    current: z
      .boolean()
      .describe("an approval of the request as it is now: same hashes, given after the last playbook edit"),
  })
  .meta({ id: "ChangeRequestDecision" });

const summaryShape = {
  id: z.uuid(),
  org_id: z.uuid(),
  sandbox_id: z.uuid(),
  source: z.object({
    kind: z.enum(["image", "source_vm"]),
    vm: z.string().describe("the image name, or the source VM the sandbox was cloned from"),
    source_host_id: z.uuid().nullable(),
    captured_at: Timestamp.nullable().describe("for a source VM: when its disk was captured"),
  }),
  title: z.string(),
  description: z.string(),
  author_id: z.uuid(),
  state: z.enum(changeRequestStates),
  diff_hash: Hash.describe("sha256 of the diff's canonical JSON; approvals bind to it"),
  playbook_hash: Hash.describe("sha256 of the playbook's YAML bytes; approvals bind to it"),
  playbook_origin: z.enum(["generated", "authored", "edited"]),
  created_at: Timestamp,
  updated_at: Timestamp,
  playbook_updated_at: Timestamp,
  verification_started_at: Timestamp.nullable().describe("when the latest verification started"),
};

export const ChangeRequestSummarySchema = z.object(summaryShape).meta({ id: "ChangeRequestSummary" });

const ApplyRunSchema = z.object({
  exit_code: z.number().int(),
  recap: Recap.nullable(),
  log_excerpt: z.string().nullable().describe(`the end of ansible-playbook's output; ${withheld}`),
  duration_ms: z.number().int(),
  timed_out: z.boolean(),
});

export const ApplyResultSchema = z
  .object({
    outcome: z
      .enum(["checked", "applied", "drift", "check_failed", "apply_failed", "error"])
      .describe("checked: the check-mode run passed and nothing was changed; applied: the real run passed"),
    at: Timestamp,
    by: z.uuid(),
    drift: z
      .array(z.object({ path: z.string(), expected: z.string(), actual: z.string() }))
      .describe("files no longer as captured (sha256 or `absent`); any drift refuses the apply"),
    check: ApplyRunSchema.nullable().describe("the --check --diff run"),
    apply: ApplyRunSchema.nullable().describe("the real run, once"),
    error: z.string().optional(),
  })
  .meta({ id: "ChangeRequestApplyResult" });

function applyResultView(result: ApplyResult, withContents: boolean): z.infer<typeof ApplyResultSchema> {
  if (withContents) return result;
  const hide = (run: ApplyResult["check"]) => (run ? { ...run, log_excerpt: null } : null);
  return { ...result, check: hide(result.check), apply: hide(result.apply) };
}

export const ChangeRequestSchema = z
  .object({
    ...summaryShape,
    diff: SandboxDiffSchema.nullable().describe(withheld),
    playbook: z.string().nullable().describe(`the playbook as Ansible YAML; ${withheld}`),
    playbook_notes: z.array(z.string()).describe("changes the generated playbook cannot reproduce"),
    verification: VerificationSchema.nullable().describe("null until a verification has finished"),
    approvals: z.array(DecisionSchema).describe("every approval and rejection, oldest first"),
    applied_at: Timestamp.nullable(),
    apply_result: ApplyResultSchema.nullable().describe("the last apply or check against the source VM"),
  })
  .meta({ id: "ChangeRequest" });

export function summaryView(row: ChangeRequest): z.infer<typeof ChangeRequestSummarySchema> {
  return {
    id: row.id,
    org_id: row.org_id,
    sandbox_id: row.sandbox_id,
    source: {
      kind: row.source_kind,
      vm: row.source_vm,
      source_host_id: row.source_host_id,
      captured_at: iso(row.source_captured_at),
    },
    title: row.title,
    description: row.description,
    author_id: row.author_id,
    state: row.state,
    diff_hash: row.diff_hash,
    playbook_hash: row.playbook_hash,
    playbook_origin: row.playbook_origin,
    created_at: iso(row.created_at),
    updated_at: iso(row.updated_at),
    playbook_updated_at: iso(row.playbook_updated_at),
    verification_started_at: iso(row.verification_started_at),
  };
}

/** Whether a decision still stands for the request as it is now. */
export function isCurrent(row: ChangeRequest, decision: ChangeRequestApproval): boolean {
  return (
    decision.diff_hash === row.diff_hash &&
    decision.playbook_hash === row.playbook_hash &&
    decision.at.getTime() >= row.playbook_updated_at.getTime()
  );
}

function verificationView(verification: Verification, withContents: boolean): z.infer<typeof VerificationSchema> {
  if (withContents) return verification;
  return {
    ...verification,
    log_excerpt: null,
    mismatches: verification.mismatches.map(({ kind, key, problem }) => ({ kind, key, problem })),
  };
}

/** The whole request; `withContents` says whether the caller may see what the sandbox holds. */
export function changeRequestView(
  row: ChangeRequest,
  decisions: ChangeRequestApproval[],
  withContents: boolean,
): z.infer<typeof ChangeRequestSchema> {
  return {
    ...summaryView(row),
    diff: withContents ? (row.diff as z.infer<typeof SandboxDiffSchema>) : null,
    playbook: withContents ? row.playbook : null,
    playbook_notes: row.playbook_notes,
    verification: row.verification ? verificationView(row.verification, withContents) : null,
    approvals: decisions.map((decision) => ({
      id: decision.id,
      approver_id: decision.approver_id,
      decision: decision.decision,
      diff_hash: decision.diff_hash,
      playbook_hash: decision.playbook_hash,
      comment: decision.comment,
      at: iso(decision.at),
      current: decision.decision === "approve" && isCurrent(row, decision),
    })),
    applied_at: iso(row.applied_at),
    apply_result: row.apply_result ? applyResultView(row.apply_result, withContents) : null,
  };
}
