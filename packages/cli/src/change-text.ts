import type { ChangeRequestMismatch } from "@fluid/sdk";

/** How the CLI commands and the MCP tools put a change request into words. */
/** Enough of a sha256 to tell two apart on screen; approvals always send the whole hash. */
export function shortHash(hash: string): string {
  return hash.slice(0, 12);
}

const PROBLEM = {
  missing_in_clone: "is in the sandbox but not in the clone",
  extra_in_clone: "is in the clone but not in the sandbox",
  differs: "differs",
} as const;

/** One mismatch on one line: `file /etc/app.conf differs: mode "0644" in the sandbox, "0600" in the clone`. */
export function describeMismatch(mismatch: ChangeRequestMismatch): string {
  const head = `${mismatch.kind} ${mismatch.key} ${PROBLEM[mismatch.problem]}`;
  if (!mismatch.fields?.length) return head;
  const fields = mismatch.fields.map(
    (f) => `${f.field} ${JSON.stringify(f.expected)} in the sandbox, ${JSON.stringify(f.actual)} in the clone`,
  );
  return `${head}: ${fields.join("; ")}`;
}
