import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { z } from "zod";
import { inspectSource, type SourceInspection } from "../api/source-hosts.js";
import { boundOutput, MAX_TEXT_BYTES } from "./bounded.js";
import { SourceCommandOutput, SourceHost, SourceVm } from "./sources.js";
import { defineTool, type ToolContext } from "./tool.js";

/**
 * Typed inspection of source VMs, one tool per kind of the server's …/vms/{vm}/inspect: the server
 * validates the arguments and builds the command line, which runs under the same read-only policy
 * (sandbox host and VM) and audit as run_source_command. They spare the agent the allowlist's syntax
 * for the questions it asks most.
 */

const Path = z.string().min(1).max(4096).describe("absolute path on the VM");
const Unit = z.string().min(1).max(255).describe("systemd unit name, e.g. nginx.service");
const Output = SourceCommandOutput.extend({ command: z.string().describe("the command line that ran") });
const hints = { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true };

interface InspectionTool<I extends z.ZodObject> {
  title: string;
  description: string;
  input: I;
  inspection(args: z.output<I>): SourceInspection;
}

function inspectionTool<I extends z.ZodObject>(
  server: McpServer,
  ctx: ToolContext,
  name: string,
  spec: InspectionTool<I>,
) {
  defineTool(server, name, {
    title: spec.title,
    description: spec.description,
    input: spec.input,
    output: Output,
    hints,
    async run(args) {
      const { source_vm, source_host } = args as { source_vm: string; source_host?: string };
      const result = await inspectSource(await ctx.api(), source_vm, source_host, spec.inspection(args));
      const stdout = boundOutput(result.stdout, "stdout", false);
      const stderr = boundOutput(result.stderr, "stderr", false, MAX_TEXT_BYTES / 4);
      return {
        data: {
          source_vm,
          command: result.command,
          exit_code: result.exit_code,
          stdout: stdout.text,
          stderr: stderr.text,
          truncated: stdout.truncated || stderr.truncated,
        },
      };
    },
  });
}

export function registerSourceInspectionTools(server: McpServer, ctx: ToolContext): void {
  inspectionTool(server, ctx, "source_list_dir", {
    title: "List a directory on a source VM",
    description: "List a directory on a production source VM (ls -la), read-only.",
    input: z.strictObject({ source_vm: SourceVm, path: Path, source_host: SourceHost }),
    inspection: ({ path }) => ({ kind: "list_dir", path }),
  });

  inspectionTool(server, ctx, "source_stat", {
    title: "Stat a file on a source VM",
    description: "Show a file's type, size, owner, mode and times on a production source VM (stat), read-only.",
    input: z.strictObject({ source_vm: SourceVm, path: Path, source_host: SourceHost }),
    inspection: ({ path }) => ({ kind: "stat", path }),
  });

  inspectionTool(server, ctx, "source_unit_status", {
    title: "Status of a systemd unit on a source VM",
    description:
      "Show a systemd unit's status with its latest log lines on a production source VM (systemctl status). " +
      "Exit code 3 means the unit is not running.",
    input: z.strictObject({ source_vm: SourceVm, unit: Unit, source_host: SourceHost }),
    inspection: ({ unit }) => ({ kind: "unit_status", unit }),
  });

  inspectionTool(server, ctx, "source_journal", {
    title: "Query the journal on a source VM",
    description: "Read recent journal entries on a production source VM (journalctl), optionally for one unit.",
    input: z.strictObject({
      source_vm: SourceVm,
      unit: Unit.optional(),
      lines: z.number().int().min(1).max(1000).optional().describe("newest entries to show (default 100)"),
      since: z.string().max(40).optional().describe("a journalctl time, e.g. '2026-11-28 10:00', '-1h' or 'today'"),
      priority: z.enum(["emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"]).optional(),
      source_host: SourceHost,
    }),
    inspection: ({ unit, lines, since, priority }) => ({
      kind: "journal",
      ...(unit === undefined ? {} : { unit }),
      ...(lines === undefined ? {} : { lines }),
      ...(since === undefined ? {} : { since }),
      ...(priority === undefined ? {} : { priority }),
    }),
  });

  inspectionTool(server, ctx, "source_packages", {
    title: "Installed packages on a source VM",
    description: "List installed Debian packages with versions on a production source VM (dpkg-query), or one package.",
    input: z.strictObject({
      source_vm: SourceVm,
      name: z.string().max(128).optional().describe("one package's name"),
      source_host: SourceHost,
    }),
    inspection: ({ name }) => ({ kind: "packages", ...(name === undefined ? {} : { name }) }),
  });

  inspectionTool(server, ctx, "source_processes", {
    title: "Processes on a source VM",
    description: "List processes on a production source VM, busiest first (ps).",
    input: z.strictObject({ source_vm: SourceVm, source_host: SourceHost }),
    inspection: () => ({ kind: "processes" }),
  });

  inspectionTool(server, ctx, "source_listening_sockets", {
    title: "Listening sockets on a source VM",
    description: "List listening TCP and UDP sockets with their processes on a production source VM (ss -tulpn).",
    input: z.strictObject({ source_vm: SourceVm, source_host: SourceHost }),
    inspection: () => ({ kind: "listening_sockets" }),
  });
}
