import { type Kysely, sql } from "kysely";
import { appendAuditEvent, auditActorOf } from "../audit/append.js";
import type { ApplyResult, ApplyRun, ChangeRequest, DB, SandboxDiffJson } from "../db/schema.js";
import { AppError, conflict } from "../http/errors.js";
import type { OrgScope } from "../orgs/access.js";
import { ABSENT, checkDrift, type ExpectedFile } from "../sources/drift.js";
import type { SourceRelay } from "../sources/relay.js";
import { getChangeRequest } from "./store.js";

export interface ApplyOptions {
  /** Stop after the check-mode run: nothing on the VM changes. */
  checkOnly: boolean;
  timeoutSeconds: number;
}

/**
 * What the files a change touches must still be on the source VM for the change to apply as it was
 * verified: as captured. An added file must still be absent; a changed or removed regular file must
 * still have the content (sha256) it had in the capture. Directories and links are left to ansible.
 */
export function expectedFiles(diff: SandboxDiffJson): ExpectedFile[] {
  const expected: ExpectedFile[] = [];
  for (const change of diff.changes) {
    if (change.kind !== "file" || !change.path) continue;
    const from = (change.from ?? {}) as { type?: string; sha256?: string };
    if (change.action === "added") expected.push({ path: change.path, sha256: ABSENT });
    else if (change.action === "changed" && change.type === "file" && (from.type ?? "file") === "file") {
      const captured = from.sha256 ?? change.sha256;
      if (typeof captured === "string") expected.push({ path: change.path, sha256: captured });
    } else if (change.action === "removed" && change.type === "file" && typeof change.sha256 === "string") {
      expected.push({ path: change.path, sha256: change.sha256 });
    }
  }
  return expected;
}

function runView(run: {
  exitCode: number;
  recap?: ApplyRun["recap"] | undefined;
  log: string;
  durationMs: bigint;
  timedOut: boolean;
}): ApplyRun {
  return {
    exit_code: run.exitCode,
    recap: run.recap
      ? {
          ok: run.recap.ok,
          changed: run.recap.changed,
          unreachable: run.recap.unreachable,
          failed: run.recap.failed,
          skipped: run.recap.skipped,
          rescued: run.recap.rescued,
          ignored: run.recap.ignored,
        }
      : null,
    log_excerpt: run.log.slice(-16_384),
    duration_ms: Number(run.durationMs),
    timed_out: run.timedOut,
  };
}

const succeeded = (run: ApplyRun) =>
  run.exit_code === 0 && run.recap !== null && run.recap.failed === 0 && run.recap.unreachable === 0;

/**
 * Applies an approved change request to the production VM it was captured from (SPEC §7, issue 10):
 * claims it (one apply at a time), checks the files it touches still match the capture (drift is
 * refused with what changed), runs the playbook in check mode, and then — unless only a check was
 * asked — once for real, with a one-time certificate for the host's apply principal. The host's
 * own `apply_enabled` is checked by the relay (and again by the daemon). Every attempt is stored on
 * the request and audited.
 */
export async function applyChangeRequest(
  deps: { db: Kysely<DB>; sources: SourceRelay },
  scope: OrgScope,
  id: string,
  options: ApplyOptions,
): Promise<{ request: ChangeRequest; result: ApplyResult }> {
  const current = await getChangeRequest(deps.db, scope, id);
  if (current.source_kind !== "source_vm" || !current.source_host_id) {
    throw new AppError(
      "invalid_state",
      `this change request was made from the image ${current.source_vm}: there is no production VM to apply it to; export it instead`,
    );
  }
  if (current.state !== "approved") {
    throw new AppError("invalid_state", `only an approved change request can be applied (state: ${current.state})`);
  }
  const claimed = await deps.db
    .updateTable("change_requests")
    .set({ applying_since: new Date(), worker_seen_at: sql<Date>`now()` })
    .where("id", "=", id)
    .where("org_id", "=", scope.orgId)
    .where("state", "=", "approved")
    .where("applying_since", "is", null)
    .where("diff_hash", "=", current.diff_hash)
    .where("playbook_hash", "=", current.playbook_hash)
    .returningAll()
    .executeTakeFirst();
  if (!claimed) throw conflict("this change request is being applied, or changed meanwhile; look at it again");

  const sourceHostId = current.source_host_id;
  const result: ApplyResult = {
    outcome: "error",
    at: new Date().toISOString(),
    by: scope.principal.userId,
    drift: [],
    check: null,
    apply: null,
  };
  const run = async (check: boolean) =>
    runView(
      await deps.sources.applyPlaybook(scope, sourceHostId, claimed.source_vm, {
        playbookYaml: claimed.playbook,
        check,
        timeoutSeconds: options.timeoutSeconds,
        description: `change request ${claimed.id} (playbook ${claimed.playbook_hash.slice(0, 12)})`,
      }),
    );
  try {
    result.drift = await checkDrift(deps.sources, scope, sourceHostId, claimed.source_vm, expectedFiles(claimed.diff));
    if (result.drift.length > 0) {
      result.outcome = "drift";
    } else {
      result.check = await run(true);
      if (!succeeded(result.check)) result.outcome = "check_failed";
      else if (options.checkOnly) result.outcome = "checked";
      else {
        result.apply = await run(false);
        result.outcome = succeeded(result.apply) ? "applied" : "apply_failed";
      }
    }
  } catch (err) {
    result.error = err instanceof Error ? err.message : String(err);
    throw err;
  } finally {
    await finishApply(deps.db, scope, claimed, result);
  }
  const request = await getChangeRequest(deps.db, scope, id);
  if (result.outcome === "drift") {
    const paths = result.drift.map((d) => `${d.path} (captured ${short(d.expected)}, now ${short(d.actual)})`);
    throw conflict(`the source VM changed since it was captured; not applied: ${paths.join("; ")}`);
  }
  return { request, result };
}

const short = (state: string) => (/^[0-9a-f]{64}$/.test(state) ? state.slice(0, 12) : state);

const auditAction: Record<ApplyResult["outcome"], string> = {
  applied: "applied",
  checked: "apply_checked",
  drift: "apply_refused_drift",
  check_failed: "apply_check_failed",
  apply_failed: "apply_failed",
  error: "apply_error",
};

/** Stores the attempt, releases the claim, moves an applied request to `applied`, and audits it. */
async function finishApply(db: Kysely<DB>, scope: OrgScope, claimed: ChangeRequest, result: ApplyResult) {
  const applied = result.outcome === "applied";
  await db.transaction().execute(async (tx) => {
    await tx
      .updateTable("change_requests")
      .set({
        apply_result: JSON.stringify(result),
        applying_since: null,
        ...(applied
          ? { state: "applied" as const, applied_at: new Date(result.at), applied_by: scope.principal.userId }
          : {}),
        updated_at: new Date(),
      })
      .where("id", "=", claimed.id)
      .where("org_id", "=", scope.orgId)
      .execute();
    await appendAuditEvent(tx, {
      orgId: scope.orgId,
      actor: auditActorOf(scope.principal),
      action: `change_request.${auditAction[result.outcome]}`,
      target: { type: "change_request", id: claimed.id },
      details: {
        outcome: result.outcome,
        diff_hash: claimed.diff_hash,
        playbook_hash: claimed.playbook_hash,
        source_host_id: claimed.source_host_id,
        source_vm: claimed.source_vm,
        drift: result.drift.map((d) => d.path),
        check_changed: result.check?.recap?.changed ?? null,
        apply_changed: result.apply?.recap?.changed ?? null,
        ...(result.error ? { error: result.error.slice(0, 500) } : {}),
      },
    });
  });
}
