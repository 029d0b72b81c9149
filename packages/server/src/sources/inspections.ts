import { z } from "zod";
import { FreeText } from "../http/schemas.js";

/**
 * Typed read-only inspection of a source VM: each kind is one command line built from validated
 * arguments and run like any other source command, so the same policy (on the sandbox host and on
 * the VM) and the same audit apply. They spare callers the allowlist's syntax for the questions
 * asked most.
 */

/** One argument for the read-only shell's parser: single-quoted, a quote written as '\''. */
export const quote = (arg: string) => `'${arg.replaceAll("'", `'\\''`)}'`;

const Path = FreeText.min(1)
  .max(4096)
  .regex(/^\//, "must be an absolute path")
  .refine((p) => !/[\r\n]/.test(p), "must not contain line breaks");
const Unit = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9@._:\\-]{0,254}$/, "must be a systemd unit name, e.g. nginx.service");

export const InspectionSchema = z.discriminatedUnion("kind", [
  z.strictObject({ kind: z.literal("list_dir").describe("ls -la"), path: Path }),
  z.strictObject({ kind: z.literal("stat").describe("stat"), path: Path }),
  z.strictObject({
    kind: z.literal("unit_status").describe("systemctl status; exit code 3 means the unit is not running"),
    unit: Unit,
  }),
  z.strictObject({
    kind: z.literal("journal").describe("journalctl, newest entries, optionally for one unit"),
    unit: Unit.optional(),
    lines: z.number().int().min(1).max(1000).default(100).describe("newest entries to show"),
    since: z
      .string()
      .regex(/^[0-9A-Za-z :+-]{1,40}$/, "must be a journalctl time, e.g. '2026-11-28 10:00', '-1h' or 'today'")
      .optional(),
    priority: z.enum(["emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"]).optional(),
  }),
  z.strictObject({
    kind: z.literal("packages").describe("installed Debian packages with versions (dpkg-query), or one package"),
    name: z
      .string()
      .regex(/^[a-z0-9][a-z0-9+.:-]{0,127}$/, "must be a package name")
      .optional(),
  }),
  z.strictObject({ kind: z.literal("processes").describe("ps, busiest first") }),
  z.strictObject({ kind: z.literal("listening_sockets").describe("ss -tulpn") }),
]);

type Inspection = z.output<typeof InspectionSchema>;

/** The command line an inspection runs. */
export function inspectionCommand(inspection: Inspection): string {
  switch (inspection.kind) {
    case "list_dir":
      return `ls -la -- ${quote(inspection.path)}`;
    case "stat":
      return `stat -- ${quote(inspection.path)}`;
    case "unit_status":
      return `systemctl status --no-pager --full -- ${quote(inspection.unit)}`;
    case "journal":
      return [
        "journalctl --no-pager",
        `-n ${inspection.lines}`,
        ...(inspection.unit ? [`-u ${quote(inspection.unit)}`] : []),
        ...(inspection.since ? [`--since ${quote(inspection.since)}`] : []),
        ...(inspection.priority ? [`-p ${inspection.priority}`] : []),
      ].join(" ");
    case "packages":
      return `dpkg-query -W -f '\${Package}\\t\${Version}\\t\${Status}\\n'${inspection.name ? ` ${quote(inspection.name)}` : ""}`;
    case "processes":
      return "ps -eo pid,ppid,user,pcpu,pmem,etime,args --sort=-pcpu";
    case "listening_sockets":
      return "ss -tulpn";
  }
}
