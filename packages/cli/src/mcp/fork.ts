import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { z } from "zod";
import { forkSandbox } from "../api/sandboxes.js";
import { detail, SandboxDetail, SandboxId } from "./sandboxes.js";
import { defineTool, type ToolContext } from "./tool.js";

const MAX_FORKS = 16;

export function registerForkTool(server: McpServer, ctx: ToolContext): void {
  defineTool(server, "fork_sandbox", {
    title: "Fork a sandbox",
    description:
      "Create `count` new sandboxes from one snapshot of a sandbox, to try alternatives side by side. Each fork " +
      "has its own disk and identity (hostname, machine-id, MAC, IP, SSH host keys). Without snapshot_id a " +
      "snapshot is taken now, with memory when the sandbox runs, so forks resume its running processes.",
    input: z.strictObject({
      sandbox_id: SandboxId,
      count: z
        .number()
        .int()
        .min(1)
        .max(MAX_FORKS)
        .optional()
        .describe(`how many forks, 1-${MAX_FORKS} (default: one per name, else 1)`),
      snapshot_id: z
        .uuid({ message: "must be a snapshot id (a UUID, as returned by create_snapshot)" })
        .optional()
        .describe("fork from this snapshot of the sandbox instead of one taken now"),
      names: z
        .array(z.string())
        .max(MAX_FORKS)
        .optional()
        .describe("one name per fork (count of them); default <sandbox name>-fork-<n>"),
      network: z
        .enum(["isolated", "shared"])
        .optional()
        .describe(
          "isolated (default): the forks reach no other sandbox; shared: they reach this sandbox's other forks made with shared",
        ),
    }),
    output: z.object({ sandboxes: z.array(SandboxDetail), count: z.number().int() }),
    hints: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
    async run({ sandbox_id, count, snapshot_id, names, network }) {
      const result = await forkSandbox(await ctx.api(), sandbox_id, {
        count: count ?? names?.length ?? 1,
        ...(snapshot_id === undefined ? {} : { snapshot_id }),
        ...(names === undefined ? {} : { names }),
        ...(network === undefined ? {} : { network }),
      });
      return { data: { sandboxes: result.sandboxes.map(detail), count: result.sandboxes.length } };
    },
  });
}
