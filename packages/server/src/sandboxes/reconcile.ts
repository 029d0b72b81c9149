import type { ResourceReport, SandboxProgress, SandboxStateChanged } from "@fluid/proto";
import type { SandboxDeps } from "./deps.js";
import { destroyOnHost } from "./lifecycle.js";
import { endSandbox, recordEnd } from "./store.js";

/** The host a piece of news came from. */
export interface Reporter {
  hostId: string;
}

/**
 * Reconciles after a host (re)connects: records state the host reports, ends sandboxes the host
 * no longer has, and destroys sandboxes the host runs that the control plane has ended or never knew.
 */
export async function reconcileReport(deps: SandboxDeps, host: Reporter, report: ResourceReport): Promise<void> {
  const reported = new Map(report.sandboxStatuses.map((s) => [s.sandboxId, s]));
  const rows = await deps.db
    .selectFrom("sandboxes")
    .select(["id", "state", "created_at", "ended_at"])
    .where("host_id", "=", host.hostId)
    .where("ended_at", "is", null)
    .execute();
  const active = new Set(rows.map((row) => row.id));
  const inFlightSince = Date.now() - deps.host.deadlines.createMs;

  for (const row of rows) {
    const status = reported.get(row.id);
    if (!status) {
      if (row.state === "CREATING" && row.created_at.getTime() > inFlightSince) continue;
      await endSandbox(deps.db, row.id, "reconciled_missing", "ERROR", {
        error: "the host no longer has this sandbox",
      });
      continue;
    }
    if (status.state === "ERROR") {
      await endCrashed(deps, host, row.id, "the host reports the sandbox failed");
    } else if (
      (status.state === "RUNNING" || status.state === "STOPPED") &&
      status.state !== row.state &&
      row.state !== "CREATING"
    ) {
      await deps.db
        .updateTable("sandboxes")
        .set({ state: status.state, ip_address: status.ipAddress || null, updated_at: new Date() })
        .where("id", "=", row.id)
        .where("ended_at", "is", null)
        .execute();
    }
  }
  for (const id of reported.keys()) {
    if (!active.has(id)) destroyOnHost(deps, { id, host_id: host.hostId }, "reconciled");
  }
}

/** Records how far a creation has got; news for a sandbox no longer being created is dropped. */
export async function recordProgress(deps: SandboxDeps, host: Reporter, progress: SandboxProgress): Promise<void> {
  await deps.db
    .updateTable("sandboxes")
    .set({
      progress: JSON.stringify({
        phase: progress.phase.slice(0, 32),
        bytes_done: Number(progress.bytesDone),
        bytes_total: Number(progress.bytesTotal),
        at: new Date().toISOString(),
      }),
    })
    .where("id", "=", progress.sandboxId)
    .where("host_id", "=", host.hostId)
    .where("state", "=", "CREATING")
    .where("ended_at", "is", null)
    .execute();
}

/** A host changed a sandbox on its own: its janitor ended a lease, or the VM crashed or stopped. */
export async function recordStateChange(deps: SandboxDeps, host: Reporter, change: SandboxStateChanged): Promise<void> {
  const row = await deps.db
    .selectFrom("sandboxes")
    .select(["id", "state", "ended_at"])
    .where("id", "=", change.sandboxId)
    .where("host_id", "=", host.hostId)
    .executeTakeFirst();
  if (!row || row.ended_at) return;
  if (change.newState === "DESTROYED") {
    await endSandbox(deps.db, row.id, change.reason === "lease_expired" ? "lease_expired" : "crashed", "DESTROYED", {
      error: change.reason || undefined,
    });
  } else if (change.newState === "ERROR") {
    await endCrashed(deps, host, row.id, change.reason || "the sandbox failed on its host");
  } else if ((change.newState === "RUNNING" || change.newState === "STOPPED") && row.state !== "CREATING") {
    await deps.db
      .updateTable("sandboxes")
      .set({ state: change.newState, updated_at: new Date() })
      .where("id", "=", row.id)
      .where("ended_at", "is", null)
      .execute();
  }
}

/**
 * A crashed sandbox can never run again, yet on its host it still holds a TAP, an IP lease and its
 * overlay: once its record has ended, the host is told to destroy it so they are freed now.
 */
async function endCrashed(deps: SandboxDeps, host: Reporter, id: string, error: string): Promise<void> {
  const ended = await endSandbox(deps.db, id, "crashed", "ERROR", { error });
  if (ended) destroyOnHost(deps, { id, host_id: host.hostId }, "crashed");
}

/** Ends sandboxes whose lease has passed; each claim is atomic, so replicas never double-reap. */
export async function reapExpired(deps: SandboxDeps, batch = 100): Promise<number> {
  const due = await deps.db
    .selectFrom("sandboxes")
    .select(["id", "host_id", "state"])
    .where("ended_at", "is", null)
    .where("expires_at", "<=", new Date())
    .orderBy("expires_at", "asc")
    .limit(batch)
    .execute();
  let reaped = 0;
  for (const sandbox of due) {
    const ended = await endSandbox(deps.db, sandbox.id, "lease_expired", "DESTROYED");
    if (!ended) continue;
    reaped++;
    destroyOnHost(deps, sandbox, "lease_expired");
  }
  return reaped;
}

/** Ends sandboxes on hosts that have been OFFLINE longer than the grace period. */
export function endOnLostHosts(deps: SandboxDeps): Promise<number> {
  const cutoff = new Date(Date.now() - deps.config.hostLostGraceMs);
  const now = new Date();
  return deps.db.transaction().execute(async (tx) => {
    const ended = await tx
      .updateTable("sandboxes")
      .set({
        state: "DESTROYED",
        ended_at: now,
        end_reason: "host_lost",
        updated_at: now,
        error: "its host stayed offline",
      })
      .where("ended_at", "is", null)
      .where("host_id", "in", (eb) =>
        eb.selectFrom("hosts").select("id").where("status", "=", "OFFLINE").where("disconnected_at", "<", cutoff),
      )
      .returningAll()
      .execute();
    for (const sandbox of ended) await recordEnd(tx, sandbox, null);
    return ended.length;
  });
}
