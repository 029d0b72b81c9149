/** One line of an edit script: kept, deleted from the old text, or inserted from the new one. */
interface Edit {
  op: " " | "-" | "+";
  line: string;
}

export interface UnifiedDiff {
  text: string;
  /** True when the texts were too different to compare within the limits, or the output was cut. */
  truncated: boolean;
}

const CONTEXT = 3;

/**
 * The shortest edit script between two line arrays (Myers' O(ND) algorithm), or undefined when it
 * needs more than `maxEdits` edits. Each round keeps only the diagonals it reached, so memory grows
 * with the square of the edits, not the product of the lengths.
 */
export function shortestEdit(a: readonly string[], b: readonly string[], maxEdits: number): Edit[] | undefined {
  const n = a.length;
  const m = b.length;
  const trace: Int32Array[] = [];
  // Round -1: only diagonal 1, at x = 0, so round 0 starts from (0, 0).
  let previous = new Int32Array(3).fill(-1);
  previous[1] = 0;
  for (let d = 0; d <= Math.min(maxEdits, n + m); d++) {
    const current = new Int32Array(2 * d + 3).fill(-1);
    const at = (v: Int32Array, k: number, depth: number) => v[k + depth + 1] ?? -1;
    for (let k = -d; k <= d; k += 2) {
      const down = k === -d || (k !== d && at(previous, k - 1, d - 1) < at(previous, k + 1, d - 1));
      let x = down ? at(previous, k + 1, d - 1) : at(previous, k - 1, d - 1) + 1;
      let y = x - k;
      while (x < n && y < m && a[x] === b[y]) {
        x++;
        y++;
      }
      current[k + d + 1] = x;
      if (x >= n && y >= m) {
        trace.push(current);
        return backtrack(a, b, trace);
      }
    }
    trace.push(current);
    previous = current;
  }
  return undefined;
}

function backtrack(a: readonly string[], b: readonly string[], trace: Int32Array[]): Edit[] {
  const edits: Edit[] = [];
  let x = a.length;
  let y = b.length;
  for (let d = trace.length - 1; d > 0; d--) {
    const v = trace[d - 1] as Int32Array;
    const at = (k: number) => v[k + (d - 1) + 1] ?? -1;
    const k = x - y;
    const down = k === -d || (k !== d && at(k - 1) < at(k + 1));
    const prevK = down ? k + 1 : k - 1;
    const prevX = at(prevK);
    const prevY = prevX - prevK;
    while (x > prevX && y > prevY) {
      x--;
      y--;
      edits.push({ op: " ", line: a[x] as string });
    }
    if (down) edits.push({ op: "+", line: b[--y] as string });
    else edits.push({ op: "-", line: a[--x] as string });
  }
  while (x > 0 && y > 0) {
    x--;
    y--;
    edits.push({ op: " ", line: a[x] as string });
  }
  return edits.reverse();
}

function splitLines(text: string): string[] {
  if (text === "") return [];
  const lines = text.split("\n");
  if (lines.at(-1) === "") lines.pop();
  return lines;
}

/**
 * A unified diff (`@@ -l,n +l,n @@` hunks, three lines of context) of two texts, capped at
 * `maxEdits` edits and `maxBytes` of output.
 */
export function unifiedDiff(
  before: string,
  after: string,
  limits: { maxEdits?: number; maxBytes?: number } = {},
): UnifiedDiff {
  const maxBytes = limits.maxBytes ?? 64 * 1024;
  const edits = shortestEdit(splitLines(before), splitLines(after), limits.maxEdits ?? 2000);
  if (!edits) return { text: "", truncated: true };
  const out: string[] = [];
  let bytes = 0;
  let i = 0;
  let oldLine = 1;
  let newLine = 1;
  while (i < edits.length) {
    if (edits[i]?.op === " ") {
      i++;
      oldLine++;
      newLine++;
      continue;
    }
    const start = Math.max(0, i - CONTEXT);
    let end = i;
    // A hunk runs on while the next change is close enough for the contexts to touch.
    for (let j = i; j < edits.length; j++) {
      if (edits[j]?.op !== " ") end = j;
      else if (j - end > 2 * CONTEXT) break;
    }
    end = Math.min(edits.length - 1, end + CONTEXT);
    const hunk = edits.slice(start, end + 1);
    const lead = i - start;
    const oldStart = oldLine - lead;
    const newStart = newLine - lead;
    const oldCount = hunk.filter((e) => e.op !== "+").length;
    const newCount = hunk.filter((e) => e.op !== "-").length;
    const lines = [
      `@@ -${oldCount === 0 ? oldStart - 1 : oldStart},${oldCount} +${newCount === 0 ? newStart - 1 : newStart},${newCount} @@`,
      ...hunk.map((e) => `${e.op}${e.line}`),
    ];
    for (const line of lines) {
      bytes += Buffer.byteLength(line) + 1;
      if (bytes > maxBytes) return { text: out.join("\n"), truncated: true };
      out.push(line);
    }
    for (let j = i; j <= end; j++) {
      if (edits[j]?.op !== "+") oldLine++;
      if (edits[j]?.op !== "-") newLine++;
    }
    i = end + 1;
  }
  return { text: out.length > 0 ? `${out.join("\n")}\n` : "", truncated: false };
}
