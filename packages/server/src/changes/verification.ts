import type { PlaybookRun, SourceHostConnection } from "@fluid/proto";
import type { ChangeRequest, PlaybookRecapCounts, Verification } from "../db/schema.js";
import { AppError } from "../http/errors.js";
import type { Logger } from "../log/logger.js";
import type { OrgScope } from "../orgs/access.js";
import type { SandboxService } from "../sandboxes/service.js";
import { compareDiffs } from "./equivalence.js";

export const verificationLimits = {
  /** One ansible-playbook run; a generated playbook installing packages on TCG takes minutes. */
  runTimeoutSeconds: 20 * 60,
  /** The clone's lease: if this process dies, the reaper still removes it. */
  cloneTtlSeconds: 2 * 3600,
  /** Kept per run in the stored log excerpt. */
  logExcerptBytes: 8 * 1024,
} as const;

/** A verification before any of it ran: failed until each step says otherwise. */
export function notYetRun(error?: string): Verification {
  return {
    passed: false,
    first_run_changed: null,
    second_run_changed: null,
    equivalent: null,
    mismatches: [],
    first_recap: null,
    second_recap: null,
    log_excerpt: "",
    duration_ms: 0,
    clone_sandbox_id: null,
    ...(error === undefined ? {} : { error }),
  };
}

export interface VerificationTarget {
  request: ChangeRequest;
  /** The host the author's sandbox ran on: it has the image or the captured disk. */
  hostId: string;
  allowEgress: boolean;
  /** For a source-VM base: how to reach the source host (the clone reuses the host's cached capture). */
  source: SourceHostConnection | undefined;
}

/** Why a verification stopped; what it had found so far is kept with it. */
class VerificationStopped extends Error {}

function recap(run: PlaybookRun): PlaybookRecapCounts | null {
  if (!run.recap) return null;
  const { ok, changed, unreachable, failed, skipped, rescued, ignored } = run.recap;
  return { ok, changed, unreachable, failed, skipped, rescued, ignored };
}

function tail(text: string): string {
  const bytes = Buffer.from(text, "utf8");
  if (bytes.length <= verificationLimits.logExcerptBytes) return text;
  return `…${bytes.subarray(bytes.length - verificationLimits.logExcerptBytes).toString("utf8")}`;
}

function problemWith(run: PlaybookRun, which: string): string | undefined {
  if (run.timedOut) return `the ${which} run timed out`;
  if (!run.recap) return `the ${which} run stopped before its recap (exit ${run.exitCode})`;
  if (run.recap.failed > 0) return `the ${which} run had ${run.recap.failed} failed task(s)`;
  if (run.recap.unreachable > 0) return `the ${which} run could not reach the clone`;
  if (run.exitCode !== 0) return `the ${which} run exited with ${run.exitCode}`;
  return undefined;
}

/**
 * Verifies a change request's playbook on a fresh clone of its base, on the author's host: apply
 * it (it must succeed), apply it again (nothing may change), diff the clone and require the same
 * changes as the author's sandbox. The clone is destroyed whatever happens.
 */
export async function verifyOnClone(
  deps: { sandboxes: SandboxService; log: Logger },
  scope: OrgScope,
  target: VerificationTarget,
): Promise<Verification> {
  const { request } = target;
  const started = Date.now();
  const result = notYetRun();
  const logs: string[] = [];
  let cloneId: string | undefined;
  try {
    const clone = await deps.sandboxes.create(
      scope,
      {
        sourceVm: request.source_vm,
        name: `verify-${request.id.slice(-12)}`,
        hostId: target.hostId,
        allowEgress: target.allowEgress,
        ttlSeconds: verificationLimits.cloneTtlSeconds,
        source: target.source ? { connection: target.source, fresh: false } : undefined,
      },
      { wait: true },
    );
    cloneId = clone.id;
    result.clone_sandbox_id = clone.id;
    if (clone.state !== "RUNNING") throw new VerificationStopped(`the clone is ${clone.state}, not RUNNING`);
    const capturedAt = request.source_captured_at?.getTime() ?? null;
    if (request.source_kind === "source_vm" && (clone.source_captured_at?.getTime() ?? null) !== capturedAt) {
      throw new VerificationStopped(
        "the host's capture of the source VM is not the one the change request was made from",
      );
    }

    const run = (yaml: string) =>
      deps.sandboxes.runPlaybook(scope, clone.id, { yaml, timeoutSeconds: verificationLimits.runTimeoutSeconds });
    const first = await run(request.playbook);
    logs.push(`# first run\n${tail(first.log)}`);
    result.first_recap = recap(first);
    result.first_run_changed = first.recap?.changed ?? null;
    const firstProblem = problemWith(first, "first");
    if (firstProblem) throw new VerificationStopped(firstProblem);

    const second = await run(request.playbook);
    logs.push(`# second run\n${tail(second.log)}`);
    result.second_recap = recap(second);
    result.second_run_changed = second.recap?.changed ?? null;
    const secondProblem = problemWith(second, "second");
    if (secondProblem) throw new VerificationStopped(secondProblem);

    const comparison = compareDiffs(request.diff, await deps.sandboxes.diff(scope, clone.id, undefined));
    result.equivalent = comparison.equivalent;
    result.mismatches = comparison.mismatches;
    const idempotent = result.second_run_changed === 0;
    result.passed = idempotent && comparison.equivalent;
    if (!idempotent) result.error = `the second run changed ${result.second_run_changed} task(s); it must change none`;
    else if (!comparison.equivalent) {
      result.error = `the clone's changes differ from the sandbox's (${comparison.mismatches.length} mismatch(es))`;
    }
  } catch (err) {
    result.passed = false;
    if (err instanceof VerificationStopped || err instanceof AppError) result.error = err.message;
    else {
      deps.log.error({ err, changeRequestId: request.id }, "verification failed unexpectedly");
      result.error = "verification failed unexpectedly (see the server log)";
    }
  } finally {
    if (cloneId) {
      await deps.sandboxes.destroy(scope, cloneId).catch((err: unknown) => {
        deps.log.warn({ err, sandboxId: cloneId }, "could not destroy a verification clone; its lease ends it");
      });
    }
  }
  result.log_excerpt = logs.join("\n");
  result.duration_ms = Date.now() - started;
  return result;
}
