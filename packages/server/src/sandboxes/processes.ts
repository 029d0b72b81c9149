import type { ProcessInfo, ProcessSignal } from "@fluid/proto";
import { appendAuditEvent, auditActorOf } from "../audit/append.js";
import { newId } from "../lib/ids.js";
import type { OrgScope } from "../orgs/access.js";
import { assertCanModify, assertCanRead, assertState } from "./access.js";
import type { SandboxDeps } from "./deps.js";
import { getSandbox } from "./store.js";

/** A background process as the API shows it. */
export interface ProcessView {
  id: string;
  name: string;
  command: string;
  pid: number | null;
  state: "running" | "exited" | "lost";
  exit_code: number | null;
  started_at: string;
  ended_at: string | null;
}

/** One read of a process's log: each stream's new bytes from its offset, and where the next read starts. */
export interface ProcessLogRead {
  process: ProcessView;
  stdout: Uint8Array;
  stderr: Uint8Array;
  next_offset: number;
  next_stderr_offset: number;
  stdout_truncated: boolean;
  stderr_truncated: boolean;
}

export function processView(info: ProcessInfo | undefined): ProcessView {
  const p = info ?? ({} as Partial<ProcessInfo>);
  const state = p.state === "exited" || p.state === "lost" ? p.state : "running";
  return {
    id: p.processId ?? "",
    name: p.name ?? "",
    command: p.command ?? "",
    pid: p.pid ? p.pid : null,
    state,
    exit_code: state === "exited" ? (p.exitCode ?? 0) : null,
    started_at: new Date(Number(p.startedAtUnixMs ?? 0n)).toISOString(),
    ended_at: p.endedAtUnixMs ? new Date(Number(p.endedAtUnixMs)).toISOString() : null,
  };
}

/** Processes run as whoever may run commands in the sandbox; the start is audited before it is sent. */
export async function startProcess(
  deps: SandboxDeps,
  scope: OrgScope,
  id: string,
  input: { command: string; name: string; env: Record<string, string> },
): Promise<ProcessView> {
  const sandbox = await getSandbox(deps.db, scope, id);
  assertCanModify(scope, sandbox);
  assertState(sandbox, ["RUNNING"], "start a process in");
  const processId = newId();
  await appendAuditEvent(deps.db, {
    orgId: scope.orgId,
    actor: auditActorOf(scope.principal),
    action: "sandbox.process_started",
    target: { type: "sandbox", id },
    details: {
      process_id: processId,
      name: input.name,
      command: input.command,
      env_names: Object.keys(input.env).sort(),
    },
  });
  const started = await deps.host.startProcess(sandbox.host_id, { sandboxId: id, processId, ...input });
  return processView(started.process);
}

export async function listProcesses(
  deps: SandboxDeps,
  scope: OrgScope,
  id: string,
  processId = "",
): Promise<ProcessView[]> {
  const sandbox = await getSandbox(deps.db, scope, id);
  assertCanRead(scope, sandbox);
  assertState(sandbox, ["RUNNING"], "list the processes of");
  const list = await deps.host.listProcesses(sandbox.host_id, id, processId);
  return list.processes.map(processView);
}

export async function readProcessLog(
  deps: SandboxDeps,
  scope: OrgScope,
  id: string,
  input: { processId: string; offset: number; stderrOffset: number },
): Promise<ProcessLogRead> {
  const sandbox = await getSandbox(deps.db, scope, id);
  assertCanRead(scope, sandbox);
  assertState(sandbox, ["RUNNING"], "read a process log in");
  const log = await deps.host.readProcessLog(sandbox.host_id, {
    sandboxId: id,
    processId: input.processId,
    stdoutOffset: BigInt(input.offset),
    stderrOffset: BigInt(input.stderrOffset),
  });
  return {
    process: processView(log.process),
    stdout: log.stdout,
    stderr: log.stderr,
    next_offset: Number(log.stdoutOffset),
    next_stderr_offset: Number(log.stderrOffset),
    stdout_truncated: log.stdoutTruncated,
    stderr_truncated: log.stderrTruncated,
  };
}

/** Writes to a process's stdin; with `close`, then closes it (audited: the process sees end of input). */
export async function writeProcessInput(
  deps: SandboxDeps,
  scope: OrgScope,
  id: string,
  processId: string,
  data: Uint8Array,
  close = false,
): Promise<number> {
  const sandbox = await getSandbox(deps.db, scope, id);
  assertCanModify(scope, sandbox);
  assertState(sandbox, ["RUNNING"], "write to a process in");
  if (close) {
    await appendAuditEvent(deps.db, {
      orgId: scope.orgId,
      actor: auditActorOf(scope.principal),
      action: "sandbox.process_stdin_closed",
      target: { type: "sandbox", id },
      details: { process_id: processId },
    });
  }
  const written = await deps.host.processInput(sandbox.host_id, { sandboxId: id, processId, data, closeStdin: close });
  return Number(written.bytesWritten);
}

export async function signalProcess(
  deps: SandboxDeps,
  scope: OrgScope,
  id: string,
  processId: string,
  signal: ProcessSignal,
): Promise<ProcessView> {
  const sandbox = await getSandbox(deps.db, scope, id);
  assertCanModify(scope, sandbox);
  assertState(sandbox, ["RUNNING"], "signal a process in");
  await appendAuditEvent(deps.db, {
    orgId: scope.orgId,
    actor: auditActorOf(scope.principal),
    action: "sandbox.process_signalled",
    target: { type: "sandbox", id },
    details: { process_id: processId, signal },
  });
  const signalled = await deps.host.signalProcess(sandbox.host_id, { sandboxId: id, processId, signal });
  return processView(signalled.process);
}
