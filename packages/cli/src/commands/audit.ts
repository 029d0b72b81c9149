import type { AuditEvent } from "@fluid/sdk";
import type { Command } from "commander";
import { PAGE_SIZE } from "../api/pages.js";
import { auditPage, verifyAudit } from "../api/reports.js";
import { EXIT, relative, table } from "../output.js";
import { connectFor, emit, positiveInteger } from "./shared.js";

interface ListOptions {
  action?: string;
  target?: string;
  limit: number;
}

/** `audit ls` and `audit verify`: the organization's hash-chained audit log (admins). */
export function registerAuditCommands(program: Command): void {
  const audit = program.command("audit").description("the organization's tamper-evident audit log (admin)");

  audit
    .command("ls")
    .description("list audit events, newest first")
    .option("--action <action>", "an action or its dotted prefix: sandbox, sandbox.created, source.command")
    .option("--target <id>", "only events about this sandbox, key, member… (its id)")
    .option("--limit <n>", "how many events (newest first)", positiveInteger, 50)
    .action(async (options: ListOptions, command: Command) => {
      const conn = await connectFor(command);
      const { org } = conn;
      const events: AuditEvent[] = [];
      let before: number | null = null;
      while (events.length < options.limit) {
        const query = {
          limit: Math.min(PAGE_SIZE, options.limit - events.length),
          ...(options.action ? { action: options.action } : {}),
          ...(options.target ? { target_id: options.target } : {}),
          ...(before === null ? {} : { before_seq: before }),
        };
        const page: { events: AuditEvent[]; next_before_seq: number | null } = await auditPage(conn, query);
        events.push(...page.events);
        before = page.next_before_seq;
        if (before === null) break;
      }
      emit(command, { events, count: events.length }, () => {
        if (events.length === 0) return `No audit events in ${org}${options.action ? ` for ${options.action}` : ""}.\n`;
        return table(
          ["SEQ", "WHEN", "ACTION", "TARGET", "ACTOR"],
          events.map((e) => [
            e.seq,
            relative(e.at),
            e.action,
            `${e.target_type}:${e.target_id}`,
            e.actor_user_id ? `${e.actor_user_id}${e.actor_key_id ? ` (key ${e.actor_key_id})` : ""}` : "fluid",
          ]),
        );
      });
    });

  audit
    .command("verify")
    .description("check the whole chain; exits 1 and names the first bad event when it does not hold")
    .action(async (_options: unknown, command: Command) => {
      const conn = await connectFor(command);
      const { org } = conn;
      const verdict = await verifyAudit(conn);
      emit(command, verdict, () =>
        verdict.valid
          ? `Audit chain of ${org} holds: ${verdict.events} events, head ${verdict.head_hash ?? "(empty)"}\n`
          : `Audit chain of ${org} is BROKEN at seq ${verdict.first_invalid?.seq}: ${verdict.first_invalid?.reason}\n`,
      );
      if (!verdict.valid) process.exitCode = EXIT.failure;
    });
}
