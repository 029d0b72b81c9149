import { type ProcessSignal, processLimits } from "@fluid/proto";
import type { Kysely } from "kysely";
import { GuestAgentError } from "../agent/client.js";
import type { AgentRequests } from "../agent/exec-stream.js";
import {
  closeGuestInput,
  guestProcessStatus,
  readGuestLog,
  removeGuestProcess,
  signalGuestProcess,
  startGuestProcess,
  writeGuestInput,
} from "../agent/guest-process.js";
import { SandboxError } from "../errors.js";
import type { DaemonDB, ProcessRow } from "../state/schema.js";

/** What background processes need of a sandbox: its process table and a running sandbox's guest agent. */
export interface ProcessHost {
  db: Kysely<DaemonDB>;
  /** The guest agent of a running sandbox (throws when the sandbox is not running). */
  agent(sandboxId: string): Promise<AgentRequests>;
}

export interface ProcessStart {
  sandboxId: string;
  processId: string;
  name: string;
  command: string;
  env: Record<string, string>;
}

export interface ProcessLogPiece {
  process: ProcessRow;
  stdout: Buffer;
  stderr: Buffer;
  stdoutOffset: number;
  stderrOffset: number;
  stdoutTruncated: boolean;
  stderrTruncated: boolean;
}

/** How long a row without a pid counts as starting rather than lost. */
const START_GRACE_MS = 30_000;

const ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

/**
 * Starts a background process. It is recorded before it starts (a daemon killed in between finds a
 * row without a pid, which the guest then reports lost), and the row survives daemon restarts.
 */
export async function startProcess(host: ProcessHost, input: ProcessStart): Promise<ProcessRow> {
  if (!ID.test(input.processId)) throw new SandboxError("invalid_request", "process id must match [A-Za-z0-9_-]");
  if (input.name.length > processLimits.maxNameLength)
    throw new SandboxError("invalid_request", `process name is longer than ${processLimits.maxNameLength}`);
  if (input.command.length === 0) throw new SandboxError("invalid_request", "command is empty");
  const agent = await host.agent(input.sandboxId);
  await makeRoom(host, agent, input.sandboxId);
  await host.db
    .insertInto("processes")
    .values({
      id: input.processId,
      sandbox_id: input.sandboxId,
      name: input.name,
      command: input.command,
      pid: null,
      state: "running",
      exit_code: null,
      started_at: Date.now(),
      ended_at: null,
    })
    .execute();
  const pid = await startGuestProcess(agent, input);
  await host.db.updateTable("processes").set({ pid }).where("id", "=", input.processId).execute();
  return getRow(host, input.sandboxId, input.processId);
}

/**
 * Keeps a sandbox under its process cap: at the cap the oldest ended processes are forgotten (row
 * and guest files) so that one more fits; only a sandbox whose kept processes all run refuses.
 */
async function makeRoom(host: ProcessHost, agent: AgentRequests, sandboxId: string): Promise<void> {
  const { count } = await host.db
    .selectFrom("processes")
    .select((eb) => eb.fn.countAll<number>().as("count"))
    .where("sandbox_id", "=", sandboxId)
    .executeTakeFirstOrThrow();
  const excess = Number(count) - processLimits.maxPerSandbox + 1;
  if (excess <= 0) return;
  const ended = await host.db
    .selectFrom("processes")
    .select("id")
    .where("sandbox_id", "=", sandboxId)
    .where("state", "!=", "running")
    .orderBy("started_at")
    .orderBy("id")
    .limit(excess)
    .execute();
  if (ended.length < excess)
    throw new SandboxError("invalid_state", `a sandbox runs at most ${processLimits.maxPerSandbox} processes at once`);
  for (const { id } of ended) {
    await removeGuestProcess(agent, id);
    await host.db.deleteFrom("processes").where("sandbox_id", "=", sandboxId).where("id", "=", id).execute();
  }
}

/** A sandbox's processes (or one), their state refreshed from the guest for those still running. */
export async function listProcesses(host: ProcessHost, sandboxId: string, processId = ""): Promise<ProcessRow[]> {
  let query = host.db.selectFrom("processes").selectAll().where("sandbox_id", "=", sandboxId);
  if (processId) query = query.where("id", "=", processId);
  const rows = await query.orderBy("started_at").orderBy("id").execute();
  if (processId && rows.length === 0) throw new SandboxError("not_found", `process ${processId} not found`);
  if (!rows.some((row) => row.state === "running")) return rows;
  const agent = await host.agent(sandboxId);
  return Promise.all(rows.map((row) => refresh(host, agent, row)));
}

/**
 * Reads each stream of a process's log from its offset. The state is read first, so an exited
 * process whose pieces are empty has nothing more to read.
 */
export async function readProcessLog(
  host: ProcessHost,
  input: { sandboxId: string; processId: string; stdoutOffset: number; stderrOffset: number; maxBytes: number },
): Promise<ProcessLogPiece> {
  if (input.stdoutOffset < 0 || input.stderrOffset < 0) throw new SandboxError("invalid_request", "negative offset");
  const agent = await host.agent(input.sandboxId);
  const process = await refresh(host, agent, await getRow(host, input.sandboxId, input.processId));
  const count = input.maxBytes > 0 ? input.maxBytes : processLimits.logChunkBytes;
  const out = await readGuestLog(agent, input.processId, "stdout", input.stdoutOffset, count);
  const err = await readGuestLog(agent, input.processId, "stderr", input.stderrOffset, count);
  return {
    process,
    stdout: out.data,
    stderr: err.data,
    stdoutOffset: input.stdoutOffset + out.data.length,
    stderrOffset: input.stderrOffset + err.data.length,
    stdoutTruncated: out.truncated,
    stderrTruncated: err.truncated,
  };
}

/** Writes to a running process's stdin; with `close`, then closes it (the process reads end of input). */
export async function writeProcessInput(
  host: ProcessHost,
  input: { sandboxId: string; processId: string; data: Buffer; close?: boolean },
): Promise<number> {
  if (input.data.length > processLimits.maxInputBytes)
    throw new SandboxError("invalid_request", `stdin is written at most ${processLimits.maxInputBytes} bytes at once`);
  const agent = await host.agent(input.sandboxId);
  const process = await refresh(host, agent, await getRow(host, input.sandboxId, input.processId));
  if (process.state !== "running") throw new SandboxError("invalid_state", `process is ${process.state}`);
  const written = await writeGuestInput(agent, input.processId, input.data).catch(stdinClosed);
  if (input.close) await closeGuestInput(agent, input.processId).catch(stdinClosed);
  return written;
}

/** Sends a signal to a running process's process group. */
export async function signalProcess(
  host: ProcessHost,
  input: { sandboxId: string; processId: string; signal: string },
): Promise<ProcessRow> {
  if (!(processLimits.signals as readonly string[]).includes(input.signal))
    throw new SandboxError("invalid_request", `signal must be one of ${processLimits.signals.join(", ")}`);
  const agent = await host.agent(input.sandboxId);
  const process = await refresh(host, agent, await getRow(host, input.sandboxId, input.processId));
  if (process.state !== "running" || process.pid === null)
    throw new SandboxError("invalid_state", `process is ${process.state}`);
  await signalGuestProcess(agent, process.pid, input.signal as ProcessSignal);
  return refresh(host, agent, process);
}

/** A refused write or close of stdin is the caller's mistake about the process's state, not a host failure. */
function stdinClosed(err: unknown): never {
  if (err instanceof GuestAgentError && err.errorClass === "ProcessInput")
    throw new SandboxError("invalid_state", err.message);
  throw err;
}

async function getRow(host: ProcessHost, sandboxId: string, processId: string): Promise<ProcessRow> {
  const row = await host.db
    .selectFrom("processes")
    .selectAll()
    .where("sandbox_id", "=", sandboxId)
    .where("id", "=", processId)
    .executeTakeFirst();
  if (!row) throw new SandboxError("not_found", `process ${processId} not found`);
  return row;
}

/** Records the exit (or loss) of a process the table still says is running. */
async function refresh(host: ProcessHost, agent: AgentRequests, row: ProcessRow): Promise<ProcessRow> {
  // A start still waiting for the wrapper's pid has nothing in the guest to report yet.
  if (row.state !== "running" || (row.pid === null && Date.now() - row.started_at < START_GRACE_MS)) return row;
  const status = await guestProcessStatus(agent, row.id);
  if (status.exitCode === undefined && status.present) return row;
  const ended =
    status.exitCode === undefined
      ? { state: "lost" as const, exit_code: null, ended_at: Date.now() }
      : { state: "exited" as const, exit_code: status.exitCode, ended_at: Date.now() };
  await host.db.updateTable("processes").set(ended).where("id", "=", row.id).execute();
  return { ...row, ...ended };
}
