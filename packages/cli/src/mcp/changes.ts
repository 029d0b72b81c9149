import type { ChangeRequest } from "@fluid/sdk";
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { z } from "zod";
import { createChangeRequest, getChangeRequest, startVerification, untilVerified } from "../api/change-requests.js";
import { describeMismatch } from "../change-text.js";
import { boundHead, boundOutput, MAX_TEXT_BYTES } from "./bounded.js";
import { SandboxId } from "./sandboxes.js";
import { defineTool, progressOf, type ToolContext, ToolFailure } from "./tool.js";

const ChangeRequestId = z.uuid({
  message: "must be a change request id (a UUID, as returned by create_change_request)",
});

/** Shares of MAX_TEXT_BYTES: the playbook is what an agent acts on, so it gets the most. */
const PLAYBOOK_BYTES = MAX_TEXT_BYTES / 2;
const CHANGE_LINES_BYTES = MAX_TEXT_BYTES / 4;
const LOG_BYTES = MAX_TEXT_BYTES / 8;
const MAX_MISMATCHES = 50;

const Summary = z.object({
  total: z.number().int(),
  added: z.number().int(),
  changed: z.number().int(),
  removed: z.number().int(),
  by_kind: z.record(z.string(), z.number().int()),
});

const View = z.object({
  change_request_id: z.string(),
  title: z.string(),
  state: z.string().describe("draft, verifying, verified, verification_failed, approved, rejected or applied"),
  source: z.string().describe("the image, or the source VM and capture, the sandbox was cloned from"),
  diff_hash: z.string(),
  playbook_hash: z.string(),
  playbook_origin: z.string().describe("generated from the diff, authored, or generated then edited"),
  diff_summary: Summary.nullable().describe("null when the diff is withheld from this key"),
  changes: z.array(z.string()).describe("one line per change: + added, ~ changed, - removed"),
  playbook: z.string().nullable().describe("the Ansible YAML; null when withheld from this key"),
  playbook_notes: z.array(z.string()).describe("changes the generated playbook cannot reproduce"),
  verification: z
    .object({
      passed: z.boolean(),
      first_run_changed: z.number().int().nullable(),
      second_run_changed: z.number().int().nullable(),
      equivalent: z.boolean().nullable(),
      mismatches: z.array(z.string()),
      error: z.string().nullable(),
      log_excerpt: z.string().nullable(),
      duration_ms: z.number().int(),
    })
    .nullable()
    .describe("null until a verification has finished"),
  approvals: z.array(z.object({ decision: z.string(), current: z.boolean(), at: z.string() })),
  truncated: z.boolean().describe("changes, playbook, mismatches or log were cut; the CLI shows them whole"),
});
type View = z.infer<typeof View>;

const SIGN = { added: "+", changed: "~", removed: "-" } as const;

/** A change request for an agent: the diff as one line per change, everything bounded. */
export function boundedView(cr: ChangeRequest): View {
  let truncated = false;
  const changes: string[] = [];
  let size = 0;
  for (const change of cr.diff?.changes ?? []) {
    const line = `${SIGN[change.action]} ${change.kind} ${change.path ?? change.name ?? ""}`;
    size += Buffer.byteLength(line, "utf8") + 1;
    if (size > CHANGE_LINES_BYTES) {
      changes.push(`[… ${(cr.diff?.changes.length ?? 0) - changes.length} more changes; diff_sandbox shows them …]`);
      truncated = true;
      break;
    }
    changes.push(line);
  }
  let playbook = cr.playbook;
  if (playbook !== null) {
    const cut = boundHead(playbook, `fluid change playbook ${cr.id} prints it whole`, PLAYBOOK_BYTES);
    playbook = cut.text;
    truncated ||= cut.truncated;
  }
  const v = cr.verification;
  let verification: View["verification"] = null;
  if (v) {
    const mismatches = v.mismatches.slice(0, MAX_MISMATCHES).map(describeMismatch);
    if (v.mismatches.length > MAX_MISMATCHES) {
      mismatches.push(`[… ${v.mismatches.length - MAX_MISMATCHES} more; fluid change show ${cr.id} lists all …]`);
      truncated = true;
    }
    const log = v.log_excerpt === null ? null : boundOutput(v.log_excerpt, "the run log", false, LOG_BYTES);
    truncated ||= log?.truncated ?? false;
    verification = {
      passed: v.passed,
      first_run_changed: v.first_run_changed,
      second_run_changed: v.second_run_changed,
      equivalent: v.equivalent,
      mismatches,
      error: v.error ?? null,
      log_excerpt: log?.text ?? null,
      duration_ms: v.duration_ms,
    };
  }
  return {
    change_request_id: cr.id,
    title: cr.title,
    state: cr.state,
    source: cr.source.kind === "image" ? `image ${cr.source.vm}` : `source VM ${cr.source.vm}`,
    diff_hash: cr.diff_hash,
    playbook_hash: cr.playbook_hash,
    playbook_origin: cr.playbook_origin,
    diff_summary: cr.diff?.summary ?? null,
    changes,
    playbook,
    playbook_notes: cr.playbook_notes,
    verification,
    approvals: cr.approvals.map((a) => ({ decision: a.decision, current: a.current, at: a.at })),
    truncated,
  };
}

export function registerChangeRequestTools(server: McpServer, ctx: ToolContext): void {
  defineTool(server, "create_change_request", {
    title: "Create a change request",
    description:
      "Turn what a sandbox changed into a change request a human reviews: the sandbox's diff against its base " +
      "plus an Ansible playbook that reproduces it, generated from the diff unless `playbook_id` names one you " +
      "wrote with create_playbook. It starts as draft; run verify_change_request next. Approving is for people: " +
      "no tool approves or rejects.",
    input: z.strictObject({
      sandbox_id: SandboxId,
      title: z.string().min(1).max(200).describe("one line saying what the change does"),
      description: z.string().optional().describe("why, and anything a reviewer should know"),
      playbook_id: z
        .uuid({ message: "must be a playbook id (a UUID, as returned by create_playbook)" })
        .optional()
        .describe("use this authored playbook instead of the generated one"),
    }),
    output: View,
    hints: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
    async run({ sandbox_id, title, description, playbook_id }) {
      const conn = await ctx.api();
      const created = await createChangeRequest(conn, {
        sandbox_id,
        title,
        ...(description === undefined ? {} : { description }),
        ...(playbook_id === undefined ? {} : { playbook: { playbook_id } }),
      });
      return { data: boundedView(created) };
    },
  });

  defineTool(server, "get_change_request", {
    title: "Get a change request",
    description:
      "A change request's state, its diff (one line per change), its playbook, the verification's outcome " +
      "(each mismatch between the clone and the sandbox) and its approvals. Large parts are cut; `truncated` " +
      "says so.",
    input: z.strictObject({ change_request_id: ChangeRequestId }),
    output: View,
    hints: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    async run({ change_request_id }) {
      return { data: boundedView(await getChangeRequest(await ctx.api(), change_request_id)) };
    },
  });

  defineTool(server, "verify_change_request", {
    title: "Verify a change request on a fresh clone",
    description:
      "Boot a fresh clone of the change request's base, run its playbook twice (the second run must change " +
      "nothing) and compare the clone's diff with the sandbox's; the clone is destroyed afterwards. Waits for " +
      "the outcome (minutes) and reports progress meanwhile. A failed verification is a result, not an error: " +
      "read `verification.mismatches`, fix the playbook and verify again.",
    input: z.strictObject({ change_request_id: ChangeRequestId }),
    output: View,
    hints: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
    async run({ change_request_id }, extra) {
      const conn = await ctx.api();
      const progress = progressOf(extra);
      const started = await startVerification(conn, change_request_id);
      let step = 1;
      await progress(step, `verifying "${started.title}": booting a fresh clone`);
      const result = await untilVerified(conn, started, {
        intervalMs: ctx.pollIntervalMs,
        timeoutMs: ctx.verifyTimeoutMs,
        signal: extra.signal,
        onPoll: (cr, elapsed) => progress(++step, `change request is ${cr.state} (${elapsed} s)`),
      });
      if (result.state === "verifying") {
        throw new ToolFailure(
          `change request ${result.id} is still verifying after ${Math.round(ctx.verifyTimeoutMs / 1000)} s; ` +
            "check it with get_change_request",
        );
      }
      return { data: boundedView(result) };
    },
  });
}
