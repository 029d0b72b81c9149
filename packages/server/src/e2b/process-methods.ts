import type { ProcessSignal } from "@fluid/proto";
import type { Kysely } from "kysely";
import { z } from "zod";
import type { DB } from "../db/schema.js";
import { AppError, invalid } from "../http/errors.js";
import type { OrgScope } from "../orgs/access.js";
import type { ProcessView } from "../sandboxes/processes.js";
import type { SandboxService } from "../sandboxes/service.js";
import { parse } from "./parse.js";
import { type E2bProcess, processNotFound, processRecords, recordSignal } from "./process-store.js";

export interface ProcessCtx {
  db: Kysely<DB>;
  sandboxes: SandboxService;
}

/** envd's ProcessSelector in Connect JSON: the oneof's one field. */
export const Selector = z.union([
  z.object({ pid: z.number().int().min(1).max(0x7fffffff) }),
  z.object({ tag: z.string().min(1).max(256) }),
]);
const Selected = z.looseObject({ process: Selector });
const SendInput = Selected.extend({
  input: z.looseObject({ stdin: z.base64().optional(), pty: z.unknown().optional() }).default({}),
});
const SendSignal = Selected.extend({
  signal: z.union([z.enum(["SIGNAL_SIGTERM", "SIGNAL_SIGKILL"]), z.literal(15), z.literal(9)]),
});

const signalNames: Record<string, ProcessSignal> = {
  SIGNAL_SIGTERM: "TERM",
  SIGNAL_SIGKILL: "KILL",
  15: "TERM",
  9: "KILL",
};
const signalNumbers: Partial<Record<string, number>> = { TERM: 15, KILL: 9 };
const signalWords: Partial<Record<string, string>> = { TERM: "terminated", KILL: "killed" };

/** A fluid process as envd sees it: found by guest pid (or tag), with what E2B recorded of its start. */
export interface Resolved {
  process: ProcessView;
  record: E2bProcess | undefined;
}

/**
 * Finds the process a selector names in the caller's sandbox. A pid the guest has reused names the
 * running process first, else the latest one started with it.
 */
export async function resolveProcess(
  ctx: ProcessCtx,
  scope: OrgScope,
  id: string,
  selector: z.infer<typeof Selector>,
): Promise<Resolved> {
  const [processes, records] = await Promise.all([
    ctx.sandboxes.processes.list(scope, id),
    processRecords(ctx.db, scope, id),
  ]);
  const matches = processes
    .filter((p) => ("pid" in selector ? p.pid === selector.pid : records.get(p.id)?.tag === selector.tag))
    .sort(
      (a, b) =>
        Number(b.state === "running") - Number(a.state === "running") || b.started_at.localeCompare(a.started_at),
    );
  const found = matches[0];
  if (!found) {
    if ("pid" in selector) throw processNotFound(selector.pid);
    throw new AppError("not_found", `process with tag ${selector.tag} not found`);
  }
  return { process: found, record: records.get(found.id) };
}

/**
 * envd's EndEvent for an ended process. A process that ended by the signal SendSignal sent reads as
 * envd reports a signalled process (exit code -1, not exited); any other exit as its status.
 */
export function endEvent(process: ProcessView, signal: string | null) {
  if (process.state === "lost") {
    return { exitCode: -1, exited: false, status: "lost", error: "the process is gone from the guest" };
  }
  const code = process.exit_code ?? -1;
  const number = signal ? signalNumbers[signal] : undefined;
  if (signal && number !== undefined && code === 128 + number) {
    return { exitCode: -1, exited: false, status: `signal: ${signalWords[signal]}` };
  }
  return { exitCode: code, exited: true, status: `exit status ${code}` };
}

/** How E2B lists a process fluid started some other way (the API, CLI or MCP): a shell running its command. */
function configOf(process: ProcessView, record: E2bProcess | undefined) {
  return record?.config ?? { cmd: "/bin/sh", args: ["-c", process.command], envs: {} };
}

/**
 * A command started without stdin reads /dev/null: nothing would read what is written to it, and a
 * full FIFO would block the guest agent, so input to it is refused as envd refuses it.
 */
function assertHasStdin(record: E2bProcess | undefined): void {
  if (record && !record.stdin) {
    throw new AppError("invalid_state", "the process was started without stdin (start it with stdin: true)");
  }
}

type Method = (ctx: ProcessCtx, scope: OrgScope, id: string, body: unknown) => Promise<unknown>;

/** The unary methods of `process.Process`. */
export const processMethods: Record<string, Method> = {
  List: async (ctx, scope, id) => {
    const [processes, records] = await Promise.all([
      ctx.sandboxes.processes.list(scope, id),
      processRecords(ctx.db, scope, id),
    ]);
    return {
      processes: processes
        .filter((p) => p.state === "running" && p.pid !== null)
        .map((p) => {
          const record = records.get(p.id);
          return { config: configOf(p, record), pid: p.pid, ...(record?.tag ? { tag: record.tag } : {}) };
        }),
    };
  },

  SendInput: async (ctx, scope, id, body) => {
    const request = parse(SendInput, body, "request");
    if (request.input.pty !== undefined) throw invalid("this process has no pty; send stdin");
    const { process, record } = await resolveProcess(ctx, scope, id, request.process);
    assertHasStdin(record);
    await ctx.sandboxes.processes.input(scope, id, process.id, Buffer.from(request.input.stdin ?? "", "base64"));
    return {};
  },

  CloseStdin: async (ctx, scope, id, body) => {
    const request = parse(Selected, body, "request");
    const { process, record } = await resolveProcess(ctx, scope, id, request.process);
    assertHasStdin(record);
    await ctx.sandboxes.processes.input(scope, id, process.id, new Uint8Array(), true);
    return {};
  },

  SendSignal: async (ctx, scope, id, body) => {
    const request = parse(SendSignal, body, "request");
    const { process } = await resolveProcess(ctx, scope, id, request.process);
    // envd answers NotFound for a process that has already ended; the SDK's kill reads that as false.
    if (process.state !== "running") throw processNotFound(process.pid ?? 0);
    const signal = signalNames[String(request.signal)] as ProcessSignal;
    await recordSignal(ctx.db, scope, id, process.id, signal);
    await ctx.sandboxes.processes.signal(scope, id, process.id, signal);
    return {};
  },
};
