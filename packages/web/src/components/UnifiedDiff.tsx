import { type DiffRow, parseHunks } from "../lib/hunks";

const sign: Record<DiffRow["type"], string> = { hunk: "", context: " ", removed: "-", added: "+" };
/** Screen readers hear what a line is, not a bare "+" or "-". */
const spoken: Record<DiffRow["type"], string> = { hunk: "", context: "", removed: "removed: ", added: "added: " };

/** A file's unified hunks as numbered lines, removals and additions coloured (and marked for screen readers). */
export function UnifiedDiff({ text, label }: { text: string; label: string }) {
  const rows = parseHunks(text);
  if (rows.length === 0) return <p className="muted">No line changes (an empty file).</p>;
  return (
    <div className="table-wrap">
      <table className="diff" aria-label={label}>
        <tbody>
          {rows.map((row, i) =>
            row.type === "hunk" ? (
              // biome-ignore lint/suspicious/noArrayIndexKey: rows are positional and never reordered.
              <tr key={i} className="diff-hunk">
                <td colSpan={3}>{row.text}</td>
              </tr>
            ) : (
              // biome-ignore lint/suspicious/noArrayIndexKey: rows are positional and never reordered.
              <tr key={i} className={`diff-${row.type}`}>
                <td className="diff-no">{row.type === "added" ? "" : row.oldNo}</td>
                <td className="diff-no">{row.type === "removed" ? "" : row.newNo}</td>
                <td className="diff-line">
                  <span aria-hidden="true">{sign[row.type]}</span>
                  <span className="visually-hidden">{spoken[row.type]}</span>
                  {row.text}
                </td>
              </tr>
            ),
          )}
        </tbody>
      </table>
    </div>
  );
}
