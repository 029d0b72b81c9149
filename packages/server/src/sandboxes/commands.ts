import { appendAuditEvent, auditActorOf } from "../audit/append.js";
import type { Command } from "../db/schema.js";
import { newId } from "../lib/ids.js";
import type { OrgScope } from "../orgs/access.js";
import { toAppError } from "../stream/errors.js";
import type { ReplyValue } from "../stream/replies.js";
import { assertCanModify, assertState, mayEnter } from "./access.js";
import type { SandboxDeps } from "./deps.js";
import type { OutputPiece } from "./host-client.js";
import { sandboxLimits } from "./limits.js";
import { OutputPieces } from "./output-pieces.js";
import { getSandbox } from "./store.js";

export interface RunInput {
  command: string;
  timeoutSeconds: number;
  env: Record<string, string>;
}

/** Cuts stored output to the database's limit, on a byte count. */
export function capOutput(text: string, maxBytes: number = sandboxLimits.maxStoredOutputBytes) {
  const bytes = Buffer.byteLength(text, "utf8");
  if (bytes <= maxBytes) return { text, truncated: false };
  return { text: Buffer.from(text, "utf8").subarray(0, maxBytes).toString("utf8"), truncated: true };
}

/** What a caller of a streamed command hears while it runs. */
export interface RunListener {
  /** The command is recorded and about to be sent to the host. */
  started(commandId: string): void;
  output(piece: OutputPiece): void;
}

/**
 * Runs a shell command in a running sandbox; it is recorded (and audited) before it runs. With a
 * listener its output is handed on as the host produces it (see HostClient.runCommandStreaming);
 * `live` in the answer says whether it was.
 */
export async function runCommand(
  deps: SandboxDeps,
  scope: OrgScope,
  id: string,
  input: RunInput,
  listener?: RunListener,
): Promise<Command & { live: boolean }> {
  const sandbox = await getSandbox(deps.db, scope, id);
  assertCanModify(scope, sandbox);
  assertState(sandbox, ["RUNNING"], "run a command in");
  const commandId = newId();
  const startedAt = new Date();
  // The audit rows are written before the command runs: if they cannot be written, nothing runs.
  await deps.db.transaction().execute(async (tx) => {
    await tx
      .insertInto("commands")
      .values({
        id: commandId,
        org_id: scope.orgId,
        sandbox_id: id,
        command: input.command,
        env_names: JSON.stringify(Object.keys(input.env).sort()),
        timeout_seconds: input.timeoutSeconds,
        status: "running",
        stdout: null,
        stderr: null,
        exit_code: null,
        duration_ms: null,
        error: null,
        created_by: scope.principal.userId,
        started_at: startedAt,
        ended_at: null,
      })
      .execute();
    await appendAuditEvent(tx, {
      orgId: scope.orgId,
      actor: auditActorOf(scope.principal),
      action: "sandbox.command",
      target: { type: "sandbox", id },
      details: {
        command_id: commandId,
        command: input.command,
        env_names: Object.keys(input.env).sort(),
        timeout_seconds: input.timeoutSeconds,
      },
    });
  });
  try {
    const request = {
      sandboxId: id,
      command: input.command,
      timeoutSeconds: input.timeoutSeconds,
      env: input.env,
    };
    let live = false;
    let stdout: { text: string; truncated: boolean };
    let stderr: { text: string; truncated: boolean };
    let result: ReplyValue<"commandResult">;
    if (listener) {
      listener.started(commandId);
      const pieces = new OutputPieces();
      const streamed = await deps.timed(
        "exec",
        deps.host.runCommandStreaming(sandbox.host_id, request, (piece) => {
          const accepted = pieces.accept(piece);
          if (accepted) listener.output(accepted);
        }),
      );
      ({ result, live } = streamed);
      stdout = pieces.stored("stdout");
      stderr = pieces.stored("stderr");
    } else {
      result = await deps.timed("exec", deps.host.runCommand(sandbox.host_id, request));
      stdout = capOutput(result.stdout);
      stderr = capOutput(result.stderr);
    }
    const row = await deps.db
      .updateTable("commands")
      .set({
        status: result.timedOut ? "timed_out" : "completed",
        stdout: stdout.text,
        stderr: stderr.text,
        stdout_truncated: stdout.truncated || result.stdoutTruncated,
        stderr_truncated: stderr.truncated || result.stderrTruncated,
        exit_code: result.exitCode,
        duration_ms: Number(result.durationMs),
        ended_at: new Date(),
      })
      .where("id", "=", commandId)
      .returningAll()
      .executeTakeFirstOrThrow();
    return { ...row, live };
  } catch (err) {
    const appError = toAppError(err, "run command");
    await deps.db
      .updateTable("commands")
      .set({ status: "failed", error: appError.message, ended_at: new Date() })
      .where("id", "=", commandId)
      .execute()
      .catch((dbErr: unknown) => deps.log.error({ err: dbErr, commandId }, "could not record a failed command"));
    throw appError;
  }
}

/**
 * The command trail is metadata everyone in the org sees (what ran, when, how it ended); the
 * output is contents, so `withOutput` says whether this caller may see it.
 */
export async function listCommands(
  deps: SandboxDeps,
  scope: OrgScope,
  id: string,
  page: { limit: number; offset: number },
): Promise<{ rows: Command[]; withOutput: boolean }> {
  const sandbox = await getSandbox(deps.db, scope, id);
  const rows = await deps.db
    .selectFrom("commands")
    .selectAll()
    .where("sandbox_id", "=", id)
    .where("org_id", "=", scope.orgId)
    .orderBy("started_at", "asc")
    .orderBy("id", "asc")
    .limit(page.limit + 1)
    .offset(page.offset)
    .execute();
  return { rows, withOutput: mayEnter(scope, sandbox) };
}

/** Runs ansible-playbook from the sandbox's host against the running sandbox. */
export async function runPlaybook(
  deps: SandboxDeps,
  scope: OrgScope,
  id: string,
  input: { yaml: string; timeoutSeconds: number },
): Promise<ReplyValue<"playbookRun">> {
  const sandbox = await getSandbox(deps.db, scope, id);
  assertCanModify(scope, sandbox);
  assertState(sandbox, ["RUNNING"], "run a playbook in");
  return deps.host.runPlaybook(sandbox.host_id, {
    sandboxId: id,
    playbookYaml: input.yaml,
    timeoutSeconds: input.timeoutSeconds,
  });
}
