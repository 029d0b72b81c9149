import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { z } from "zod";
import { namedSourceHost, readVmFile, runOnVm, sourceHostOf, sourceHosts, vmsOn } from "../api/source-hosts.js";
import { boundOutput, MAX_TEXT_BYTES } from "./bounded.js";
import { defineTool, type ToolContext, ToolFailure } from "./tool.js";

/**
 * Source VMs are the production machines sandboxes are cloned from. The agent inspects them through
 * the server, which relays to a sandbox host that reaches the source host over SSH; every call is
 * checked against the read-only policy (twice) and audited. Output schemas keep the original tools'
 * result shapes, which agents written against the original expect.
 */

export const SourceVm = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, "must be a VM name as list_vms reports it")
  .describe("the source VM's name, as list_vms reports it");
export const SourceHost = z
  .string()
  .min(1)
  .optional()
  .describe("the source host's name or id; needed only when several hosts have a VM of that name");

/** What a read-only command on a source VM gave, bounded for the agent's context. */
export const SourceCommandOutput = z.object({
  source_vm: z.string(),
  exit_code: z.number().int(),
  stdout: z.string(),
  stderr: z.string(),
  truncated: z.boolean(),
});

/** Runs a read-only command through the server (the policy applies on the sandbox host and on the VM). */
export async function runOnSource(
  ctx: ToolContext,
  args: { source_vm: string; command: string; timeout_seconds?: number | undefined; source_host?: string | undefined },
): Promise<z.output<typeof SourceCommandOutput>> {
  const api = await ctx.api();
  const host = await sourceHostOf(api, args.source_vm, args.source_host);
  const result = await runOnVm(api, host, args.source_vm, {
    command: args.command,
    ...(args.timeout_seconds === undefined ? {} : { timeout_seconds: args.timeout_seconds }),
  });
  const stdout = boundOutput(result.stdout, "stdout", false);
  const stderr = boundOutput(result.stderr, "stderr", false, MAX_TEXT_BYTES / 4);
  return {
    source_vm: args.source_vm,
    exit_code: result.exit_code,
    stdout: stdout.text,
    stderr: stderr.text,
    truncated: stdout.truncated || stderr.truncated,
  };
}

export function registerSourceTools(server: McpServer, ctx: ToolContext): void {
  defineTool(server, "list_vms", {
    title: "List source VMs",
    description:
      "List the production (source) VMs this organization can inspect read-only and clone into sandboxes, " +
      "across its source hosts (or only `source_host`).",
    input: z.strictObject({ source_host: SourceHost }),
    output: z.object({
      vms: z.array(
        z.object({
          name: z.string(),
          state: z.string(),
          prepared: z.boolean(),
          ip: z.string().nullable(),
          source_host: z.string(),
          captured_at: z
            .string()
            .nullable()
            .describe(
              "when the copy of its disk a new sandbox starts from was captured; null: none yet (create pulls)",
            ),
        }),
      ),
      count: z.number().int(),
      total: z.number().int(),
      unreachable: z.array(z.object({ source_host: z.string(), error: z.string() })),
    }),
    hints: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
    async run({ source_host }) {
      const api = await ctx.api();
      const hosts = source_host === undefined ? await sourceHosts(api) : [await namedSourceHost(api, source_host)];
      const vms: Array<{
        name: string;
        state: string;
        prepared: boolean;
        ip: string | null;
        source_host: string;
        captured_at: string | null;
      }> = [];
      const unreachable: Array<{ source_host: string; error: string }> = [];
      for (const host of hosts) {
        try {
          for (const vm of await vmsOn(api, host)) {
            vms.push({
              name: vm.name,
              state: vm.state,
              prepared: vm.prepared,
              ip: vm.ip_address,
              source_host: host.name,
              captured_at: vm.cached_captured_at,
            });
          }
        } catch (err) {
          unreachable.push({ source_host: host.name, error: err instanceof Error ? err.message : String(err) });
        }
      }
      if (vms.length === 0 && unreachable.length > 0) {
        throw new ToolFailure(unreachable.map((u) => `${u.source_host}: ${u.error}`).join("; "));
      }
      return { data: { vms, count: vms.length, total: vms.length, unreachable } };
    },
  });

  defineTool(server, "run_source_command", {
    title: "Run a read-only command on a source VM",
    description:
      "Run a read-only diagnostic command on a production source VM. The command is parsed as shell syntax and " +
      "must use allow-listed programs and flags only (cat, ls, grep, ps, ss, systemctl status, journalctl, …); " +
      "no redirection, substitution, variables, globs or exec-style flags. It runs without a shell on the VM.",
    input: z.strictObject({
      source_vm: SourceVm,
      command: z.string().min(1).max(8192),
      timeout_seconds: z.number().int().min(1).max(600).optional(),
      source_host: SourceHost,
    }),
    output: SourceCommandOutput,
    hints: { readOnlyHint: true, destructiveHint: false, idempotentHint: false, openWorldHint: true },
    async run({ source_vm, command, timeout_seconds, source_host }) {
      return { data: await runOnSource(ctx, { source_vm, command, timeout_seconds, source_host }) };
    },
  });

  defineTool(server, "read_source_file", {
    title: "Read a file on a source VM",
    description:
      "Read a file on a production source VM, read-only. Secrets (private keys, shadow files, …) are refused; " +
      "binary files come back base64-encoded.",
    input: z.strictObject({
      source_vm: SourceVm,
      path: z.string().regex(/^\//, "must be an absolute path"),
      source_host: SourceHost,
    }),
    output: z.object({
      source_vm: z.string(),
      path: z.string(),
      encoding: z.enum(["utf-8", "base64"]),
      content: z.string(),
      truncated: z.boolean(),
    }),
    hints: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
    async run({ source_vm, path, source_host }) {
      const api = await ctx.api();
      const host = await sourceHostOf(api, source_vm, source_host);
      const file = await readVmFile(api, host, source_vm, path);
      const content = boundOutput(file.content, "content", false);
      return {
        data: {
          source_vm,
          path: file.path,
          encoding: file.encoding,
          content: content.text,
          truncated: content.truncated,
        },
      };
    },
  });
}
