import type { SandboxDiff } from "@fluid/sdk";
import { Table } from "../../components/Table";
import { UnifiedDiff } from "../../components/UnifiedDiff";

type Change = SandboxDiff["changes"][number];

/** Kinds shown as tables, in the order a reviewer reads them after the files. */
const tableKinds = [
  { kind: "package", title: "Packages" },
  { kind: "unit", title: "Units" },
  { kind: "user", title: "Users" },
  { kind: "group", title: "Groups" },
  { kind: "cron", title: "Cron" },
  { kind: "sysctl", title: "Sysctl" },
  { kind: "port", title: "Listening ports" },
] as const;

/** Members every change has; the rest are the details of its kind. */
const framing = new Set(["kind", "action", "path", "name", "from", "diff", "diff_truncated"]);

const show = (value: unknown) => (typeof value === "string" ? value : JSON.stringify(value));

function details(record: Record<string, unknown> | undefined, skip: Set<string>): string {
  if (!record) return "";
  return Object.entries(record)
    .filter(([key, value]) => !skip.has(key) && value !== undefined && value !== null)
    .map(([key, value]) => `${key}=${show(value)}`)
    .join(" · ");
}

function FileChange({ change }: { change: Change }) {
  const path = change.path ?? "";
  const diff = typeof change.diff === "string" ? change.diff : undefined;
  const before = details(change.from as Record<string, unknown> | undefined, new Set());
  return (
    <li className="file-change">
      <h4>
        <span className={`action action-${change.action}`}>{change.action}</span> <code>{path}</code>
      </h4>
      <p className="muted">
        {details(change, framing)}
        {before && <> · before: {before}</>}
      </p>
      {change.binary === true && <p className="muted">Binary or large file: compared by size and sha256 only.</p>}
      {change.redacted === true && <p className="muted">Content redacted by the noise policy.</p>}
      {diff !== undefined && <UnifiedDiff text={diff} label={`Changes to ${path}`} />}
      {change.diff_truncated === true && <p className="warn">The text diff was cut: too large to show in full.</p>}
    </li>
  );
}

function KindTable({ title, changes }: { title: string; changes: Change[] }) {
  return (
    <>
      <h3>{title}</h3>
      <Table columns={["Action", "Name", "Now", "Before"]}>
        {changes.map((c) => (
          <tr key={`${c.action}:${c.path ?? c.name}`}>
            <td>
              <span className={`action action-${c.action}`}>{c.action}</span>
            </td>
            <td>
              <code>{c.name ?? c.path}</code>
            </td>
            <td>{c.action === "removed" ? "" : details(c, framing)}</td>
            <td>{details(c.from as Record<string, unknown> | undefined, new Set())}</td>
          </tr>
        ))}
      </Table>
    </>
  );
}

/** A sandbox's semantic diff: files with their text diffs, then one table per other kind. */
export function DiffView({ diff }: { diff: SandboxDiff }) {
  const files = diff.changes.filter((c) => c.kind === "file");
  const { total, added, changed, removed } = diff.summary;
  return (
    <section className="card" aria-labelledby="diff-title">
      <h2 id="diff-title">Diff</h2>
      <p>
        {total} {total === 1 ? "change" : "changes"}: {added} added, {changed} changed, {removed} removed · hash{" "}
        <code>{diff.hash}</code>
      </p>
      {files.length > 0 && (
        <>
          <h3>Files</h3>
          <ul className="file-changes">
            {files.map((c) => (
              <FileChange key={`${c.action}:${c.path}`} change={c} />
            ))}
          </ul>
        </>
      )}
      {tableKinds.map(({ kind, title }) => {
        const changes = diff.changes.filter((c) => c.kind === kind);
        return changes.length > 0 && <KindTable key={kind} title={title} changes={changes} />;
      })}
    </section>
  );
}
