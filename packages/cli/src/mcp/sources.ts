import { unwrap } from "@fluid/sdk";
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { z } from "zod";
import { defineTool, type ToolContext, ToolFailure } from "./tool.js";

/**
 * Source VMs are the production machines sandboxes are cloned from. The server records source hosts
 * but cannot inspect their VMs yet, so these tools say which of the two is missing instead of
 * pretending. Their output schemas are the original tools' result shapes, which agents written
 * against the original expect.
 */
async function unavailable(ctx: ToolContext): Promise<never> {
  const { client, org } = await ctx.api();
  const hosts = await unwrap(client.GET("/v1/orgs/{slug}/source-hosts", { params: { path: { slug: org } } }));
  throw new ToolFailure(
    hosts.count === 0
      ? "no source hosts configured for this org"
      : "source VM inspection is not available on this server yet",
  );
}

const SourceVm = z.string().min(1).describe("the source VM's name, as list_vms reports it");

export function registerSourceTools(server: McpServer, ctx: ToolContext): void {
  defineTool(server, "list_vms", {
    title: "List source VMs",
    description: "List the production (source) VMs this organization can inspect read-only and clone into sandboxes.",
    input: z.strictObject({}),
    output: z.object({
      vms: z.array(z.object({ name: z.string(), state: z.string(), prepared: z.boolean(), ip: z.string().nullable() })),
      count: z.number().int(),
      total: z.number().int(),
    }),
    hints: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
    run: () => unavailable(ctx),
  });

  defineTool(server, "run_source_command", {
    title: "Run a read-only command on a source VM",
    description: "Run a read-only diagnostic command (allow-listed programs, no writes) on a production source VM.",
    input: z.strictObject({
      source_vm: SourceVm,
      command: z.string().min(1),
      timeout_seconds: z.number().int().min(0).max(3600).optional(),
    }),
    output: z.object({
      source_vm: z.string(),
      exit_code: z.number().int(),
      stdout: z.string(),
      stderr: z.string(),
    }),
    hints: { readOnlyHint: true, destructiveHint: false, idempotentHint: false, openWorldHint: true },
    run: () => unavailable(ctx),
  });

  defineTool(server, "read_source_file", {
    title: "Read a file on a source VM",
    description: "Read a file on a production source VM, read-only.",
    input: z.strictObject({ source_vm: SourceVm, path: z.string().regex(/^\//, "must be an absolute path") }),
    output: z.object({ source_vm: z.string(), path: z.string(), content: z.string() }),
    hints: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
    run: () => unavailable(ctx),
  });
}
