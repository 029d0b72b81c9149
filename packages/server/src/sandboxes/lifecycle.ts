import { SnapshotMode } from "@fluid/proto";
import { appendAuditEvent, auditActorOf } from "../audit/append.js";
import type { Sandbox, SandboxState } from "../db/schema.js";
import { AppError } from "../http/errors.js";
import type { OrgScope } from "../orgs/access.js";
import { assertWithinQuota, lockOrg, type QuotaRequest } from "../quotas/limits.js";
import { toAppError } from "../stream/errors.js";
import type { ReplyValue } from "../stream/replies.js";
import { assertCanModify, assertState } from "./access.js";
import type { SandboxDeps } from "./deps.js";
import { sandboxDefaults } from "./limits.js";
import type { Demand } from "./placement.js";
import { bootedColumns } from "./record.js";
import { type CreateSandboxInput, reserve } from "./reservation.js";
import { endSandbox, getSandbox } from "./store.js";

function assertTtl(deps: SandboxDeps, ttlSeconds: number | undefined): void {
  if (ttlSeconds !== undefined && ttlSeconds * 1000 > deps.config.maxTtlMs) {
    throw new AppError("invalid_request", `ttl_seconds must be at most ${Math.floor(deps.config.maxTtlMs / 1000)}`);
  }
}

/**
 * Creates a sandbox. The host work runs on its own (a client hanging up does not abandon it) and is
 * handed to `track`; with `wait` the call returns once the sandbox is RUNNING or has failed.
 */
export async function createSandbox(
  deps: SandboxDeps,
  track: (work: Promise<unknown>) => void,
  scope: OrgScope,
  input: CreateSandboxInput,
  options: { wait: boolean },
): Promise<Sandbox> {
  assertTtl(deps, input.ttlSeconds);
  const demand: Demand = {
    vcpus: input.vcpus ?? sandboxDefaults.vcpus,
    memoryMb: input.memoryMb ?? sandboxDefaults.memoryMb,
    diskMb: sandboxDefaults.diskMb,
  };
  const sandbox = await reserve(deps, scope, input, demand);
  const provision = deps.timed("create", provisionSandbox(deps, sandbox, input.source));
  track(provision);
  if (!options.wait) {
    provision.catch(() => undefined);
    return sandbox;
  }
  return provision;
}

async function provisionSandbox(
  deps: SandboxDeps,
  sandbox: Sandbox,
  source?: CreateSandboxInput["source"],
): Promise<Sandbox> {
  const ttlSeconds = Math.max(0, Math.round((sandbox.expires_at.getTime() - Date.now()) / 1000));
  let created: ReplyValue<"sandboxCreated">;
  try {
    created = await deps.host.createSandbox(sandbox.host_id, {
      sandboxId: sandbox.id,
      baseImage: sandbox.source_vm,
      sourceVm: sandbox.source_vm,
      name: sandbox.name,
      vcpus: sandbox.vcpus,
      memoryMb: sandbox.memory_mb,
      ttlSeconds,
      agentId: sandbox.agent_id ?? "",
      allowEgress: sandbox.allow_egress,
      egressAllow: sandbox.egress_allow ?? [],
      ...(source
        ? {
            sourceHostConnection: source.connection,
            snapshotMode: source.fresh ? SnapshotMode.FRESH : SnapshotMode.CACHED,
          }
        : {}),
    });
  } catch (err) {
    const appError = toAppError(err, "create sandbox");
    // If the host never answered it may still finish; the row is ended, so reconciliation
    // destroys whatever it reports for this id later.
    await endSandbox(deps.db, sandbox.id, "create_failed", "ERROR", { error: appError.message });
    throw appError;
  }
  try {
    const running = await deps.db
      .updateTable("sandboxes")
      .set({ ...bootedColumns(created), progress: null, source_captured_at: capturedAt(created.sourceCapturedAt) })
      .where("id", "=", sandbox.id)
      .where("state", "=", "CREATING")
      .where("ended_at", "is", null)
      .returningAll()
      .executeTakeFirst();
    if (running) return running;
  } catch (err) {
    deps.log.error({ err, sandboxId: sandbox.id }, "could not record a created sandbox");
  }
  // The sandbox was destroyed while it was being created, or we could not record it: do not
  // leave a VM running that nothing tracks.
  await compensate(deps, sandbox);
  throw new AppError("conflict", "sandbox was destroyed while it was being created");
}

/** Destroys a VM whose record could not be kept; a failure is logged loudly for the operator. */
export async function compensate(deps: SandboxDeps, sandbox: Sandbox): Promise<void> {
  let failure: unknown;
  try {
    const outcome = await deps.host.destroySandbox(sandbox.host_id, sandbox.id, "orphaned");
    if (outcome !== "destroyed") failure = outcome;
  } catch (err) {
    failure = err;
  }
  if (failure !== undefined) {
    deps.log.error(
      { err: failure, sandboxId: sandbox.id, hostId: sandbox.host_id },
      "ORPHANED VM: compensating destroy failed; reconciliation will retry when the host reports",
    );
  }
}

export async function destroySandbox(deps: SandboxDeps, scope: OrgScope, id: string): Promise<Sandbox> {
  const sandbox = await getSandbox(deps.db, scope, id);
  assertCanModify(scope, sandbox);
  if (sandbox.ended_at) return sandbox;
  const actor = auditActorOf(scope.principal);
  if (sandbox.state === "CREATING") {
    // End first so the in-flight creation sees it and tears the VM down when the host answers.
    const ended =
      (await endSandbox(deps.db, id, "user_request", "DESTROYED", { actor })) ?? (await getSandbox(deps.db, scope, id));
    destroyOnHost(deps, sandbox, "user_request");
    return ended;
  }
  // A host that is away (or already lost the VM) does not block the end: its reconciliation
  // removes anything left when it reconnects.
  await deps.host.destroySandbox(sandbox.host_id, id, "user_request");
  return (await endSandbox(deps.db, id, "user_request", "DESTROYED", { actor })) ?? getSandbox(deps.db, scope, id);
}

/** Best-effort destroy on the host for sandboxes whose record has already ended. */
export function destroyOnHost(deps: SandboxDeps, sandbox: Pick<Sandbox, "id" | "host_id">, reason: string): void {
  deps.host
    .isConnected(sandbox.host_id)
    .then(async (connected) => {
      if (!connected) return;
      const outcome = await deps.host.destroySandbox(sandbox.host_id, sandbox.id, reason);
      if (outcome === "host_away") warnUndestroyed(deps, sandbox.id, outcome);
    })
    .catch((err: unknown) => warnUndestroyed(deps, sandbox.id, err));
}

function warnUndestroyed(deps: SandboxDeps, sandboxId: string, err: unknown): void {
  deps.log.warn({ err, sandboxId }, "host-side destroy failed; reconciliation will retry");
}

export async function startSandbox(deps: SandboxDeps, scope: OrgScope, id: string): Promise<Sandbox> {
  const sandbox = await getSandbox(deps.db, scope, id);
  assertCanModify(scope, sandbox);
  assertState(sandbox, ["STOPPED"], "start");
  const quota: QuotaRequest = { sandboxes: 0, vcpus: sandbox.vcpus, memoryMb: sandbox.memory_mb };
  await assertWithinQuota(deps.db, scope.orgId, deps.config.quotas, quota);
  const started = await deps.host.startSandbox(sandbox.host_id, id);
  try {
    return await transition(deps, scope, id, "STOPPED", "RUNNING", started.ipAddress || sandbox.ip_address, quota);
  } catch (err) {
    if (err instanceof AppError && err.code === "quota_exceeded") {
      // Another start or create took the room while the host was starting this one: undo it.
      await deps.host.stopSandbox(sandbox.host_id, id, true).catch((stopErr: unknown) => {
        deps.log.warn({ err: stopErr, sandboxId: id }, "could not stop a sandbox started beyond the quota");
      });
    }
    throw err;
  }
}

export async function stopSandbox(deps: SandboxDeps, scope: OrgScope, id: string, force: boolean): Promise<Sandbox> {
  const sandbox = await getSandbox(deps.db, scope, id);
  assertCanModify(scope, sandbox);
  assertState(sandbox, ["RUNNING"], "stop");
  await deps.host.stopSandbox(sandbox.host_id, id, force);
  return transition(deps, scope, id, "RUNNING", "STOPPED", sandbox.ip_address);
}

/**
 * Applies a host-confirmed state change; if the row moved meanwhile, the caller sees the truth.
 * With `quota` the org's quotas are re-checked under the org's lock before the row moves.
 */
async function transition(
  deps: SandboxDeps,
  scope: OrgScope,
  id: string,
  from: SandboxState,
  to: SandboxState,
  ip: string | null,
  quota?: QuotaRequest,
): Promise<Sandbox> {
  const row = await deps.db.transaction().execute(async (tx) => {
    if (quota) {
      await lockOrg(tx, scope.orgId);
      await assertWithinQuota(tx, scope.orgId, deps.config.quotas, quota);
    }
    const moved = await tx
      .updateTable("sandboxes")
      .set({ state: to, ip_address: ip, updated_at: new Date() })
      .where("id", "=", id)
      .where("org_id", "=", scope.orgId)
      .where("state", "=", from)
      .where("ended_at", "is", null)
      .returningAll()
      .executeTakeFirst();
    if (moved) {
      await appendAuditEvent(tx, {
        orgId: scope.orgId,
        actor: auditActorOf(scope.principal),
        action: to === "RUNNING" ? "sandbox.started" : "sandbox.stopped",
        target: { type: "sandbox", id },
        details: { from, to },
      });
    }
    return moved;
  });
  if (row) return row;
  const current = await getSandbox(deps.db, scope, id);
  throw new AppError(
    "conflict",
    `sandbox changed to ${current.state} while the host was working; the host reported ${to}`,
  );
}

/** Moves the lease to `ttlSeconds` from now; the host's janitor is told first so both agree. */
export async function extendSandbox(
  deps: SandboxDeps,
  scope: OrgScope,
  id: string,
  ttlSeconds: number,
): Promise<Sandbox> {
  assertTtl(deps, ttlSeconds);
  const sandbox = await getSandbox(deps.db, scope, id);
  assertCanModify(scope, sandbox);
  assertState(sandbox, ["CREATING", "RUNNING", "STOPPED"], "extend");
  const expiresAt = new Date(Date.now() + ttlSeconds * 1000);
  if (sandbox.state !== "CREATING") await deps.host.extendSandbox(sandbox.host_id, id, expiresAt);
  const row = await deps.db.transaction().execute(async (tx) => {
    const extended = await tx
      .updateTable("sandboxes")
      .set({ expires_at: expiresAt, updated_at: new Date() })
      .where("id", "=", id)
      .where("org_id", "=", scope.orgId)
      .where("ended_at", "is", null)
      .returningAll()
      .executeTakeFirst();
    if (extended) {
      await appendAuditEvent(tx, {
        orgId: scope.orgId,
        actor: auditActorOf(scope.principal),
        action: "sandbox.extended",
        target: { type: "sandbox", id },
        details: { ttl_seconds: ttlSeconds, expires_at: expiresAt.toISOString() },
      });
    }
    return extended;
  });
  if (!row) throw new AppError("invalid_state", "sandbox ended while its lease was being extended");
  return row;
}

/** A host's RFC 3339 capture time, or null when it sent none (an image) or something unreadable. */
export function capturedAt(value: string): Date | null {
  if (!value) return null;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? null : date;
}
