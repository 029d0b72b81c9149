/** One rendered line of a unified diff, numbered as in the old and the new file. */
export type DiffRow =
  | { type: "hunk"; text: string }
  | { type: "context"; text: string; oldNo: number; newNo: number }
  | { type: "removed"; text: string; oldNo: number }
  | { type: "added"; text: string; newNo: number };

const HUNK = /^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@/;

/** A side with no lines names the line before the hunk (`-0,0`), so its count starts one further. */
function firstLine(start: string | undefined, count: string | undefined): number {
  return Number(start) + (count === "0" ? 1 : 0);
}

/**
 * Reads the daemon's unified hunks (`@@ -l,n +l,n @@` then ` `, `-`, `+` lines) into numbered rows.
 * Any other line is shown as context, so nothing the server sent is hidden.
 */
export function parseHunks(text: string): DiffRow[] {
  const rows: DiffRow[] = [];
  let oldNo = 0;
  let newNo = 0;
  if (text === "") return rows;
  const lines = (text.endsWith("\n") ? text.slice(0, -1) : text).split("\n");
  for (const line of lines) {
    const header = HUNK.exec(line);
    if (header) {
      oldNo = firstLine(header[1], header[2]);
      newNo = firstLine(header[3], header[4]);
      rows.push({ type: "hunk", text: line });
    } else if (line.startsWith("+")) {
      rows.push({ type: "added", text: line.slice(1), newNo: newNo++ });
    } else if (line.startsWith("-")) {
      rows.push({ type: "removed", text: line.slice(1), oldNo: oldNo++ });
    } else {
      rows.push({ type: "context", text: line.slice(1), oldNo: oldNo++, newNo: newNo++ });
    }
  }
  return rows;
}
