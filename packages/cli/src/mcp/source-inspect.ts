import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { z } from "zod";
import { runOnSource, SourceCommandOutput, SourceHost, SourceVm } from "./sources.js";
import { defineTool, type ToolContext } from "./tool.js";

/**
 * Typed inspection of source VMs: each tool builds one command line from validated arguments and
 * runs it like run_source_command, so the same read-only policy (daemon and VM) and audit apply.
 * They spare the agent the allowlist's syntax for the questions it asks most.
 */

/** One argument for the read-only shell's parser: single-quoted, a quote written as '\''. */
const quote = (arg: string) => `'${arg.replaceAll("'", `'\\''`)}'`;

const Path = z
  .string()
  .min(1)
  .max(4096)
  .regex(/^\//, "must be an absolute path")
  .refine((p) => !p.includes("\0") && !/[\r\n]/.test(p), "must not contain NUL or line breaks");
const Unit = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9@._:\\-]{0,254}$/, "must be a systemd unit name, e.g. nginx.service");
const Output = SourceCommandOutput.extend({ command: z.string().describe("the command line that ran") });
const hints = { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true };

interface Inspection<I extends z.ZodObject> {
  title: string;
  description: string;
  input: I;
  command(args: z.output<I>): string;
}

function inspection<I extends z.ZodObject>(server: McpServer, ctx: ToolContext, name: string, spec: Inspection<I>) {
  defineTool(server, name, {
    title: spec.title,
    description: spec.description,
    input: spec.input,
    output: Output,
    hints,
    async run(args) {
      const command = spec.command(args);
      const { source_vm, source_host } = args as { source_vm: string; source_host?: string };
      return { data: { ...(await runOnSource(ctx, { source_vm, source_host, command })), command } };
    },
  });
}

export function registerSourceInspectionTools(server: McpServer, ctx: ToolContext): void {
  inspection(server, ctx, "source_list_dir", {
    title: "List a directory on a source VM",
    description: "List a directory on a production source VM (ls -la), read-only.",
    input: z.strictObject({ source_vm: SourceVm, path: Path, source_host: SourceHost }),
    command: ({ path }) => `ls -la -- ${quote(path)}`,
  });

  inspection(server, ctx, "source_stat", {
    title: "Stat a file on a source VM",
    description: "Show a file's type, size, owner, mode and times on a production source VM (stat), read-only.",
    input: z.strictObject({ source_vm: SourceVm, path: Path, source_host: SourceHost }),
    command: ({ path }) => `stat -- ${quote(path)}`,
  });

  inspection(server, ctx, "source_unit_status", {
    title: "Status of a systemd unit on a source VM",
    description:
      "Show a systemd unit's status with its latest log lines on a production source VM (systemctl status). " +
      "Exit code 3 means the unit is not running.",
    input: z.strictObject({ source_vm: SourceVm, unit: Unit, source_host: SourceHost }),
    command: ({ unit }) => `systemctl status --no-pager --full -- ${quote(unit)}`,
  });

  inspection(server, ctx, "source_journal", {
    title: "Query the journal on a source VM",
    description: "Read recent journal entries on a production source VM (journalctl), optionally for one unit.",
    input: z.strictObject({
      source_vm: SourceVm,
      unit: Unit.optional(),
      lines: z.number().int().min(1).max(1000).default(100).describe("newest entries to show"),
      since: z
        .string()
        .regex(/^[0-9A-Za-z :+-]{1,40}$/, "must be a journalctl time, e.g. '2026-11-28 10:00', '-1h' or 'today'")
        .optional(),
      priority: z.enum(["emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"]).optional(),
      source_host: SourceHost,
    }),
    command: ({ unit, lines, since, priority }) =>
      [
        "journalctl --no-pager",
        `-n ${lines}`,
        ...(unit ? [`-u ${quote(unit)}`] : []),
        ...(since ? [`--since ${quote(since)}`] : []),
        ...(priority ? [`-p ${priority}`] : []),
      ].join(" "),
  });

  inspection(server, ctx, "source_packages", {
    title: "Installed packages on a source VM",
    description: "List installed Debian packages with versions on a production source VM (dpkg-query), or one package.",
    input: z.strictObject({
      source_vm: SourceVm,
      name: z
        .string()
        .regex(/^[a-z0-9][a-z0-9+.:-]{0,127}$/, "must be a package name")
        .optional(),
      source_host: SourceHost,
    }),
    command: ({ name }) =>
      `dpkg-query -W -f '\${Package}\\t\${Version}\\t\${Status}\\n'${name ? ` ${quote(name)}` : ""}`,
  });

  inspection(server, ctx, "source_processes", {
    title: "Processes on a source VM",
    description: "List processes on a production source VM, busiest first (ps).",
    input: z.strictObject({ source_vm: SourceVm, source_host: SourceHost }),
    command: () => "ps -eo pid,ppid,user,pcpu,pmem,etime,args --sort=-pcpu",
  });

  inspection(server, ctx, "source_listening_sockets", {
    title: "Listening sockets on a source VM",
    description: "List listening TCP and UDP sockets with their processes on a production source VM (ss -tulpn).",
    input: z.strictObject({ source_vm: SourceVm, source_host: SourceHost }),
    command: () => "ss -tulpn",
  });
}
