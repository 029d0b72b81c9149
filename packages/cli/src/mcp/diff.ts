import type { SandboxChange, SandboxDiff } from "@fluid/sdk";
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { z } from "zod";
import { sandboxDiff } from "../api/sandboxes.js";
import { renderDiff } from "../commands/sandbox-diff.js";
import { boundHead, MAX_TEXT_BYTES } from "./bounded.js";
import { SandboxId } from "./sandboxes.js";
import { defineTool, type ToolContext } from "./tool.js";

/** One file's unified diff in a result; a longer one is cut, with a marker. */
const MAX_CHANGE_DIFF_BYTES = 8 * 1024;

/**
 * Whole changes while they fit in MAX_TEXT_BYTES (each file's diff cut to MAX_CHANGE_DIFF_BYTES):
 * an agent sees the start of a large diff and how much was left out.
 */
export function boundDiff(diff: SandboxDiff): { changes: SandboxChange[]; truncated: boolean } {
  const changes: SandboxChange[] = [];
  let size = 0;
  let truncated = false;
  for (const change of diff.changes) {
    let shown = change;
    if (typeof change.diff === "string") {
      const cut = boundHead(change.diff, "the whole diff is in `fluid sandbox diff --json`", MAX_CHANGE_DIFF_BYTES);
      if (cut.truncated) {
        shown = { ...change, diff: cut.text, diff_truncated: true };
        truncated = true;
      }
    }
    size += Buffer.byteLength(JSON.stringify(shown), "utf8");
    if (size > MAX_TEXT_BYTES) return { changes, truncated: true };
    changes.push(shown);
  }
  return { changes, truncated };
}

export function registerDiffTools(server: McpServer, ctx: ToolContext): void {
  defineTool(server, "diff_sandbox", {
    title: "Diff a sandbox against its image",
    description:
      "What a sandbox changed against the image it was cloned from: files (with unified diffs for text), " +
      "Debian packages, systemd units, users and groups, crontabs and sysctl settings. Logs, caches, /tmp, " +
      "shell history and the identity fluid gives every clone are left out (the noise policy; `noise` " +
      "overrides it). Works on running and stopped sandboxes and never writes to them. `hash` identifies " +
      `the diff. At most ${MAX_TEXT_BYTES / 1024} KiB of changes is returned; \`truncated\` says when more exist.`,
    input: z.strictObject({
      sandbox_id: SandboxId,
      noise: z
        .looseObject({})
        .optional()
        .describe(
          'override of the noise policy, checked by the server: {"disable": [rule ids, e.g. "logs"]}, ' +
            '{"add": [{"id", "match" (glob over a path or name), "kind"?, "effect"? ignore|redact}]} or {"replace": [rules]}',
        ),
    }),
    output: z.object({
      sandbox_id: z.string(),
      hash: z.string(),
      summary: z.object({
        total: z.number().int(),
        added: z.number().int(),
        changed: z.number().int(),
        removed: z.number().int(),
        by_kind: z.record(z.string(), z.number().int()),
      }),
      changes: z.array(
        z.looseObject({
          kind: z.string(),
          action: z.string(),
          path: z.string().optional(),
          name: z.string().optional(),
        }),
      ),
      truncated: z.boolean().describe("some changes, or parts of their diffs, are not shown"),
    }),
    hints: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    async run({ sandbox_id, noise }) {
      const conn = await ctx.api();
      const diff = await sandboxDiff(conn, sandbox_id, noise ? JSON.stringify(noise) : undefined);
      const { changes, truncated } = boundDiff(diff);
      const shown = { ...diff, changes };
      const left = diff.changes.length - changes.length;
      const marker = left > 0 ? `[… ${left} more changes not shown; fluid sandbox diff --json has them all …]\n` : "";
      return {
        data: { sandbox_id, hash: diff.hash, summary: diff.summary, changes, truncated },
        text: renderDiff(shown, false) + marker,
      };
    },
  });
}
