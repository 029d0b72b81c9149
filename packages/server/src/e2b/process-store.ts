import type { Kysely } from "kysely";
import type { DB, E2bProcessConfig } from "../db/schema.js";
import { AppError } from "../http/errors.js";
import type { OrgScope } from "../orgs/access.js";

/** What fluid remembers of a process started through envd: its guest pid and how E2B described it. */
export interface E2bProcess {
  processId: string;
  pid: number;
  config: E2bProcessConfig;
  tag: string | null;
  stdin: boolean;
  signal: string | null;
}

/** Records a started process; the sandbox is already known to be the caller's. */
export async function recordProcess(
  db: Kysely<DB>,
  scope: OrgScope,
  sandboxId: string,
  process: Omit<E2bProcess, "signal">,
): Promise<void> {
  await db
    .insertInto("e2b_processes")
    .values({
      org_id: scope.orgId,
      sandbox_id: sandboxId,
      process_id: process.processId,
      pid: process.pid,
      config: JSON.stringify(process.config),
      tag: process.tag,
      stdin: process.stdin,
    })
    .execute();
}

/** The E2B records of a sandbox's processes, by fluid process id. */
export async function processRecords(
  db: Kysely<DB>,
  scope: OrgScope,
  sandboxId: string,
): Promise<Map<string, E2bProcess>> {
  const rows = await db
    .selectFrom("e2b_processes")
    .selectAll()
    .where("org_id", "=", scope.orgId)
    .where("sandbox_id", "=", sandboxId)
    .execute();
  return new Map(
    rows.map((row) => [
      row.process_id,
      {
        processId: row.process_id,
        pid: row.pid,
        config: row.config,
        tag: row.tag,
        stdin: row.stdin,
        signal: row.signal,
      },
    ]),
  );
}

/** Remembers the signal sent, so the exit it causes reads as E2B's "killed by signal". */
export async function recordSignal(
  db: Kysely<DB>,
  scope: OrgScope,
  sandboxId: string,
  processId: string,
  signal: string,
): Promise<void> {
  await db
    .updateTable("e2b_processes")
    .set({ signal })
    .where("org_id", "=", scope.orgId)
    .where("sandbox_id", "=", sandboxId)
    .where("process_id", "=", processId)
    .execute();
}

/** The signal SendSignal last sent a process, if any. */
export async function signalOf(
  db: Kysely<DB>,
  scope: OrgScope,
  sandboxId: string,
  processId: string,
): Promise<string | null> {
  const row = await db
    .selectFrom("e2b_processes")
    .select("signal")
    .where("org_id", "=", scope.orgId)
    .where("sandbox_id", "=", sandboxId)
    .where("process_id", "=", processId)
    .executeTakeFirst();
  return row?.signal ?? null;
}

export function processNotFound(pid: number): AppError {
  return new AppError("not_found", `process with pid ${pid} not found`);
}
