import type { ChangeRequest, ChangeRequestSummary } from "@fluid/sdk";
import { describeMismatch, shortHash } from "../change-text.js";
import { details, relative, table, when } from "../output.js";

/** Where a request's sandbox came from: an image, or a source VM as captured at a time. */
export function describeSource(source: ChangeRequestSummary["source"]): string {
  if (source.kind === "image") return `image ${source.vm}`;
  return `source VM ${source.vm}${source.captured_at ? `, captured ${when(source.captured_at)}` : ""}`;
}

export function renderChangeRequestList(requests: ChangeRequestSummary[]): string {
  if (requests.length === 0) return "No change requests: make one with `fluid change create SANDBOX --title T`\n";
  return table(
    ["ID", "STATE", "TITLE", "SOURCE", "PLAYBOOK", "UPDATED"],
    requests.map((r) => [r.id, r.state, r.title, describeSource(r.source), r.playbook_origin, relative(r.updated_at)]),
  );
}

/** `fluid change show`: the record, the diff's summary, the verification and every decision. */
export function renderChangeRequest(cr: ChangeRequest): string {
  const head = details([
    ["id", cr.id],
    ["title", cr.title],
    ["state", cr.state],
    ["source", describeSource(cr.source)],
    ["sandbox", cr.sandbox_id],
    ["author", cr.author_id],
    ["diff hash", shortHash(cr.diff_hash)],
    ["playbook hash", `${shortHash(cr.playbook_hash)} (${cr.playbook_origin}, ${relative(cr.playbook_updated_at)})`],
    ["created", when(cr.created_at)],
  ]);
  const sections = [head];
  if (cr.description) sections.push(`${cr.description.trimEnd()}\n`);
  sections.push(
    cr.diff === null
      ? "Diff and playbook withheld: they are readable by the request's author and admins.\n"
      : `Diff: ${cr.diff.summary.total} change${cr.diff.summary.total === 1 ? "" : "s"} (${cr.diff.summary.added} added, ${cr.diff.summary.changed} changed, ` +
          `${cr.diff.summary.removed} removed): fluid change diff ${cr.id}\n`,
  );
  if (cr.playbook_notes.length > 0) {
    sections.push(`Not reproduced by the playbook:\n${cr.playbook_notes.map((n) => `  - ${n}\n`).join("")}`);
  }
  sections.push(renderVerification(cr));
  sections.push(renderDecisions(cr));
  return sections.join("\n");
}

/** The verification's outcome, and each mismatch between the clone and the sandbox. */
export function renderVerification(cr: ChangeRequest): string {
  if (cr.state === "verifying") {
    return `Verification: running since ${when(cr.verification_started_at)}\n`;
  }
  const v = cr.verification;
  if (!v) return `Verification: not run yet (fluid change verify ${cr.id})\n`;
  const runs =
    `first run changed ${v.first_run_changed ?? "-"}, second run changed ${v.second_run_changed ?? "-"}, ` +
    `equivalent ${v.equivalent === null ? "-" : v.equivalent ? "yes" : "no"}`;
  const lines = [`Verification: ${v.passed ? "passed" : "FAILED"} in ${Math.round(v.duration_ms / 1000)}s (${runs})`];
  if (v.error) lines.push(`  error: ${v.error}`);
  if (v.mismatches.length > 0) {
    lines.push(`  ${v.mismatches.length} mismatch${v.mismatches.length === 1 ? "" : "es"} between clone and sandbox:`);
    for (const m of v.mismatches) lines.push(`    ${describeMismatch(m)}`);
  }
  return `${lines.join("\n")}\n`;
}

function renderDecisions(cr: ChangeRequest): string {
  if (cr.approvals.length === 0) return "Approvals: none\n";
  const rows = cr.approvals.map((a) => [
    a.decision,
    a.approver_id,
    relative(a.at),
    a.decision === "approve" ? (a.current ? "yes" : "no") : null,
    `diff ${shortHash(a.diff_hash)} playbook ${shortHash(a.playbook_hash)}`,
    a.comment || null,
  ]);
  return `Approvals:\n${table(["DECISION", "BY", "WHEN", "CURRENT", "HASHES", "COMMENT"], rows)}`;
}
