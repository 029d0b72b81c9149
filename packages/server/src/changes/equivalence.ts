import type { Mismatch, SandboxDiffJson } from "../db/schema.js";

type Change = SandboxDiffJson["changes"][number];

/**
 * Fields that only present a change: the unified text diff shows content the sha256 already pins
 * (the clone's text may also be cut at a different place), so they count only when no digest is
 * there to compare.
 */
const presentation = new Set(["diff", "diff_truncated"]);
/** What identifies a change within a diff; not compared as details. */
const identity = new Set(["kind", "path", "name"]);

const keyOf = (change: Change) => `${change.kind}\0${change.path ?? change.name ?? ""}`;

/** JSON with object keys sorted, so equal values compare equal whatever order they were built in. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.keys(value)
      .filter((key) => (value as Record<string, unknown>)[key] !== undefined)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonical((value as Record<string, unknown>)[key])}`);
    return `{${entries.join(",")}}`;
  }
  return JSON.stringify(value ?? null);
}

function differingFields(expected: Change, actual: Change): NonNullable<Mismatch["fields"]> {
  const digestsPin = typeof expected.sha256 === "string" && typeof actual.sha256 === "string";
  const fields = [...new Set([...Object.keys(expected), ...Object.keys(actual)])].sort();
  return fields
    .filter((field) => !identity.has(field) && !(digestsPin && presentation.has(field)))
    .filter((field) => canonical(expected[field]) !== canonical(actual[field]))
    .map((field) => ({ field, expected: expected[field] ?? null, actual: actual[field] ?? null }));
}

/**
 * Whether the clone the playbook ran on ended up changed the way the author's sandbox was: changes
 * are matched by kind and path or name, and every difference is reported (missing in the clone,
 * extra in the clone, or a field that differs — content by sha256, mode, owner, version, enabled…).
 */
export function compareDiffs(
  expected: Pick<SandboxDiffJson, "changes">,
  actual: Pick<SandboxDiffJson, "changes">,
): { equivalent: boolean; mismatches: Mismatch[] } {
  const inClone = new Map(actual.changes.map((change) => [keyOf(change), change]));
  const mismatches: Mismatch[] = [];
  for (const change of expected.changes) {
    const key = change.path ?? change.name ?? "";
    const found = inClone.get(keyOf(change));
    inClone.delete(keyOf(change));
    if (!found) {
      mismatches.push({ kind: change.kind, key, problem: "missing_in_clone" });
      continue;
    }
    const fields = differingFields(change, found);
    if (fields.length > 0) mismatches.push({ kind: change.kind, key, problem: "differs", fields });
  }
  for (const extra of inClone.values()) {
    mismatches.push({ kind: extra.kind, key: extra.path ?? extra.name ?? "", problem: "extra_in_clone" });
  }
  return { equivalent: mismatches.length === 0, mismatches };
}
