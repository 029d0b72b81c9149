import type { SandboxChange, SandboxDiff } from "@fluid/sdk";
import type { Command } from "commander";
import { sandboxDiff } from "../api/sandboxes.js";
import { CliError } from "../output.js";
import { SANDBOX_ARG, sandboxId } from "./sandbox-lookup.js";
import { connectFor, globals, printJson, withSpinner } from "./shared.js";

/** `fluid sandbox diff`: what a sandbox changed against its image. */
export function registerSandboxDiffCommand(sandbox: Command): void {
  sandbox
    .command("diff")
    .description("show what a sandbox changed against its image: files, packages, units, users, cron, sysctl")
    .argument("<sandbox>", SANDBOX_ARG)
    .option("--noise <json>", 'noise policy override as JSON, e.g. \'{"disable":["logs"]}\'')
    .addHelpText(
      "after",
      `
Logs, caches, /tmp, shell history and the identity fluid gives every clone are left out (the noise
policy); --noise replaces the rules ("replace"), drops some by id ("disable") or adds rules ("add").
Works on running and stopped sandboxes and never writes to them. --json prints {hash, summary, changes}.`,
    )
    .action(async (ref: string, options: { noise?: string }, command: Command) => {
      if (options.noise !== undefined) assertJson(options.noise);
      const conn = await connectFor(command);
      const id = await sandboxId(conn, ref);
      const diff = await withSpinner(
        command,
        `Reading ${ref}'s disk`,
        () => sandboxDiff(conn, id, options.noise),
        (d) => `${d.summary.total} change${d.summary.total === 1 ? "" : "s"}`,
      );
      if (globals(command).json) printJson(diff);
      else process.stdout.write(renderDiff(diff, process.stdout.isTTY === true));
    });
}

function assertJson(text: string): void {
  try {
    JSON.parse(text);
  } catch {
    throw new CliError('--noise must be JSON, e.g. \'{"disable":["logs"]}\'');
  }
}

const SIGN = { added: "+", changed: "~", removed: "-" } as const;
const COLOUR = { added: 32, changed: 33, removed: 31 } as const;
/** Members shown apart from the one-line details, or not at all. */
const NOT_DETAILS = new Set(["kind", "action", "path", "name", "from", "diff", "diff_truncated", "sha256", "type"]);

/** The diff for a reader: a summary, one line per change, text files' unified diffs under theirs. */
export function renderDiff(diff: SandboxDiff, colour: boolean): string {
  const paint = (code: number, text: string) => (colour ? `\x1b[${code}m${text}\x1b[0m` : text);
  const { summary } = diff;
  if (summary.total === 0) return `No changes (hash ${diff.hash})\n`;
  const kinds = Object.entries(summary.by_kind)
    .map(([kind, n]) => `${kind} ${n}`)
    .join(", ");
  const lines = [
    `${summary.total} change${summary.total === 1 ? "" : "s"}: ${summary.added} added, ${summary.changed} changed, ` +
      `${summary.removed} removed (${kinds})`,
    `hash ${diff.hash}`,
    "",
  ];
  const width = Math.max(...diff.changes.map((c) => c.kind.length));
  for (const change of diff.changes) {
    const subject = change.path ?? change.name ?? "";
    const details = describe(change);
    lines.push(
      paint(COLOUR[change.action], `${SIGN[change.action]} ${change.kind.padEnd(width)} ${subject}`) +
        (details ? `  ${details}` : ""),
    );
    if (typeof change.diff === "string") {
      for (const line of change.diff.replace(/\n$/, "").split("\n")) {
        const code = line.startsWith("@@") ? 36 : line.startsWith("+") ? 32 : line.startsWith("-") ? 31 : 0;
        lines.push(`    ${code ? paint(code, line) : line}`);
      }
      if (change.diff_truncated) lines.push("    … (diff truncated)");
    }
  }
  return `${lines.join("\n")}\n`;
}

/** A change's details on one line: what it was for a change, what it is for an addition. */
function describe(change: SandboxChange): string {
  const show = (value: unknown) => (typeof value === "string" ? value : JSON.stringify(value));
  const parts: string[] = [];
  if (change.type && change.type !== "file") parts.push(String(change.type));
  const from = (change.from ?? {}) as Record<string, unknown>;
  for (const [key, value] of Object.entries(change)) {
    if (NOT_DETAILS.has(key) || value === undefined || value === null) continue;
    if (change.action === "changed" && !(key in from)) continue;
    parts.push(key in from ? `${key} ${show(from[key])} → ${show(value)}` : `${key} ${show(value)}`);
  }
  if ((change.binary || change.redacted) && typeof change.sha256 === "string") parts.push(`sha256 ${change.sha256}`);
  return parts.join(", ");
}
