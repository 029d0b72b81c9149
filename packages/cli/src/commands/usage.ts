import type { Quotas, Usage } from "@fluid/sdk";
import { type Command, InvalidArgumentError } from "commander";
import { quotas as orgQuotas, usage as orgUsage } from "../api/reports.js";
import { table } from "../output.js";
import { connectFor, emit } from "./shared.js";

/** Option parser for --from and --to: a UTC day as the server takes it. */
export function day(value: string): string {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value)) throw new InvalidArgumentError("must be a date as YYYY-MM-DD");
  return value;
}

const hours = (seconds: number) => (seconds / 3600).toFixed(2);

/** Usage is kept in seconds; a person reads sandbox, vCPU and GiB-of-memory hours. */
function usageRows(usage: Usage): string {
  const rows = usage.days.map((d) => [
    d.day,
    hours(d.sandbox_seconds),
    hours(d.vcpu_seconds),
    hours(d.memory_mb_seconds / 1024),
  ]);
  const t = usage.totals;
  rows.push(["total", hours(t.sandbox_seconds), hours(t.vcpu_seconds), hours(t.memory_mb_seconds / 1024)]);
  return table(["DAY", "SANDBOX-HOURS", "VCPU-HOURS", "MEMORY-GIB-HOURS"], rows);
}

const limitText = (limit: number | null) => (limit === null ? "unlimited" : String(limit));

function quotaRows(quotas: Quotas): string {
  const gib = (bytes: number) => (bytes / 1024 ** 3).toFixed(2);
  return table(
    ["RESOURCE", "USED", "LIMIT"],
    [
      ["live sandboxes", quotas.sandboxes.used, limitText(quotas.sandboxes.limit)],
      ["vCPUs", quotas.vcpus.used, limitText(quotas.vcpus.limit)],
      ["memory (MiB)", quotas.memory_mb.used, limitText(quotas.memory_mb.limit)],
      [
        "snapshots (GiB)",
        gib(quotas.snapshot_bytes.used),
        quotas.snapshot_bytes.limit === null ? "unlimited" : gib(quotas.snapshot_bytes.limit),
      ],
    ],
  );
}

/** `usage` and `quotas`: what the organization has used per day, and what it may hold at once. */
export function registerUsageCommands(program: Command): void {
  program
    .command("usage")
    .description("the organization's sandbox usage per UTC day (running time by vCPU and memory)")
    .option("--from <day>", "first day, YYYY-MM-DD (default: 29 days before --to)", day)
    .option("--to <day>", "last day, YYYY-MM-DD, included (default: today)", day)
    .action(async (options: { from?: string; to?: string }, command: Command) => {
      const conn = await connectFor(command);
      const { org } = conn;
      const query = { ...(options.from ? { from: options.from } : {}), ...(options.to ? { to: options.to } : {}) };
      const usage = await orgUsage(conn, query);
      emit(command, usage, () => {
        const heading = `Usage of ${org}, ${usage.from} to ${usage.to} (UTC)\n`;
        if (usage.days.length === 0) return `${heading}No sandbox ran in this range.\n`;
        return `${heading}${usageRows(usage)}`;
      });
    });

  program
    .command("quotas")
    .description("the organization's limits and what it uses of them now")
    .action(async (_options: unknown, command: Command) => {
      const quotas = await orgQuotas(await connectFor(command));
      emit(command, quotas, () => quotaRows(quotas));
    });
}
