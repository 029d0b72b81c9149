/** The shape of a semantic diff, apart from its computation so the collectors that contribute changes need not import it. */
import type { ChangeKind } from "./noise.js";

export type ChangeAction = "added" | "changed" | "removed";

/** One difference: what it is about, what happened, and the details of its kind. */
export interface Change {
  kind: ChangeKind;
  action: ChangeAction;
  path?: string;
  name?: string;
  [detail: string]: unknown;
}

export interface SemanticDiff {
  /** sha256 of the canonical JSON of `summary` and `changes`. */
  hash: string;
  summary: { total: number; added: number; changed: number; removed: number; by_kind: Record<string, number> };
  changes: Change[];
}
