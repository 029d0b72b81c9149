import type { Kysely } from "kysely";
import type { ServerConfig } from "../config/config.js";
import type { DB, Sandbox, Snapshot } from "../db/schema.js";
import { AppError, conflict } from "../http/errors.js";
import type { OrgScope } from "../orgs/access.js";
import { assertWithinQuota, lockOrg, type QuotaRequest } from "../quotas/limits.js";
import type { HostRouter } from "../replicas/hosts.js";
import { toAppError } from "../stream/errors.js";
import type { ReplyValue } from "../stream/replies.js";
import { sandboxDefaults } from "./limits.js";
import { explainNoFit, type PlacementHost, rankHosts } from "./placement.js";
import { bootedColumns, recordNewSandbox } from "./record.js";
import { placementHostNow } from "./reservation.js";
import type { SandboxService } from "./service.js";

export interface ForkInput {
  count: number;
  /** A snapshot of the parent to fork from; without it one is taken now (with RAM when the parent runs). */
  snapshotId?: string | undefined;
  /** One per clone; default `<parent>-fork-<n>` with the lowest n not in use. */
  names?: string[] | undefined;
  /** The clones may reach the parent's other forks made with a shared network; default isolated. */
  sharedNetwork?: boolean | undefined;
}

const NAME_MAX = 63;

/** A set of forks asks for `count` sandboxes the size of their parent. */
function forkQuota(parent: Sandbox, count: number): QuotaRequest {
  return { sandboxes: count, vcpus: parent.vcpus * count, memoryMb: parent.memory_mb * count };
}

/** The part of the server's context that forking uses. */
export interface ForkDeps {
  db: Kysely<DB>;
  config: Pick<ServerConfig, "defaultTtlMs" | "cpuOvercommit" | "quotas">;
  hosts: HostRouter;
  sandboxes: SandboxService;
}

/**
 * Forks: `count` sandboxes started from one snapshot of a parent, on the parent's host (where the
 * snapshot is). They are recorded and placed as one set: the host creates all or none, and a
 * failure ends every row of the set.
 */
export class SandboxForks {
  private readonly db: Kysely<DB>;
  private readonly sandboxes: SandboxService;

  constructor(private readonly ctx: ForkDeps) {
    this.db = ctx.db;
    this.sandboxes = ctx.sandboxes;
  }

  async fork(scope: OrgScope, parentId: string, input: ForkInput): Promise<Sandbox[]> {
    const parent = await this.sandboxes.get(scope, parentId);
    this.sandboxes.assertCanModify(scope, parent);
    this.sandboxes.assertState(parent, ["RUNNING", "STOPPED"], "fork");
    if (input.names) await this.assertNamesFree(this.db, scope.orgId, input.names);
    // Checked again under lock when recording them; checked here so a refusal takes no snapshot.
    await assertWithinQuota(this.db, scope.orgId, this.ctx.config.quotas, forkQuota(parent, input.count));
    await this.assertRoom(this.db, scope.orgId, parent.host_id, parent, input.count, { lock: false });
    const snapshot = input.snapshotId
      ? await this.sandboxes.ownSnapshot(scope, parent.id, input.snapshotId)
      : await this.sandboxes.snapshot(scope, parent.id, {
          name: `fork-${Date.now().toString(36)}`,
          includeMemory: parent.state === "RUNNING",
        });
    const clones = await this.reserve(scope, parent, snapshot, input);
    return this.provision(parent, snapshot, clones, input.sharedNetwork ?? false);
  }

  private async assertNamesFree(db: Kysely<DB>, orgId: string, names: string[]): Promise<void> {
    if (names.length === 0) return;
    const taken = await db
      .selectFrom("sandboxes")
      .select("name")
      .where("org_id", "=", orgId)
      .where("ended_at", "is", null)
      .where("name", "in", names)
      .execute();
    if (taken.length > 0) {
      throw conflict(`a sandbox of this organization is already named ${taken.map((row) => row.name).join(", ")}`);
    }
  }

  /** `<parent>-fork-<n>` for the lowest n not held by a live sandbox of the org, `count` of them. */
  private async defaultNames(db: Kysely<DB>, orgId: string, parent: Sandbox, count: number): Promise<string[]> {
    const stem = `${parent.name.slice(0, NAME_MAX - "-fork-".length - 2)}-fork-`;
    const live = await db
      .selectFrom("sandboxes")
      .select("name")
      .where("org_id", "=", orgId)
      .where("ended_at", "is", null)
      .where("name", "like", `${stem.replace(/[\\%_]/g, "\\$&")}%`)
      .execute();
    const used = new Set(live.map((row) => row.name));
    const names: string[] = [];
    for (let n = 1; names.length < count; n++) if (!used.has(`${stem}${n}`)) names.push(`${stem}${n}`);
    return names;
  }

  /**
   * Records the clones on the snapshot's host in one transaction that locks the host row (as
   * create does, so concurrent placements cannot overcommit it) and the org row (so two forks
   * cannot take the same names nor the same quota).
   */
  private async reserve(scope: OrgScope, parent: Sandbox, snapshot: Snapshot, input: ForkInput): Promise<Sandbox[]> {
    return this.db.transaction().execute(async (tx) => {
      await lockOrg(tx, scope.orgId);
      await assertWithinQuota(tx, scope.orgId, this.ctx.config.quotas, forkQuota(parent, input.count));
      const host = await this.assertRoom(tx, scope.orgId, snapshot.host_id, parent, input.count, { lock: true });
      const names = input.names ?? (await this.defaultNames(tx, scope.orgId, parent, input.count));
      if (input.names) await this.assertNamesFree(tx, scope.orgId, names);
      const expiresAt = new Date(Date.now() + this.ctx.config.defaultTtlMs);
      const rows: Sandbox[] = [];
      for (const name of names) {
        const row = await recordNewSandbox(tx, scope, {
          hostId: host.id,
          name,
          agentId: parent.agent_id,
          sourceVm: parent.source_vm,
          sourceHostId: parent.source_host_id,
          sourceCapturedAt: parent.source_captured_at,
          vcpus: parent.vcpus,
          memoryMb: parent.memory_mb,
          allowEgress: parent.allow_egress,
          egressAllow: parent.egress_allow,
          expiresAt,
          fork: { parentId: parent.id, snapshotId: snapshot.id },
        });
        rows.push(row);
      }
      return rows;
    });
  }

  /**
   * Whether the host can take `count` more sandboxes the size of `parent`, counted as create's
   * placement counts; with `lock` the host row stays locked until the transaction ends.
   */
  private async assertRoom(
    db: Kysely<DB>,
    orgId: string,
    hostId: string,
    parent: Sandbox,
    count: number,
    options: { lock: boolean },
  ): Promise<PlacementHost> {
    if (!(await this.ctx.hosts.isConnected(hostId))) {
      throw new AppError("host_unavailable", "the host holding the snapshot is not connected");
    }
    let query = db
      .selectFrom("hosts")
      .select(["id", "total_cpus", "total_memory_mb", "available_memory_mb", "available_disk_mb", "status"])
      .where("id", "=", hostId)
      .where("org_id", "=", orgId);
    if (options.lock) query = query.forUpdate();
    const host = await query.executeTakeFirst();
    if (host?.status !== "ONLINE") throw new AppError("host_unavailable", "the host holding the snapshot is offline");
    const placement = await placementHostNow(db, host);
    const policy = { cpuOvercommit: this.ctx.config.cpuOvercommit };
    const demand = {
      vcpus: parent.vcpus * count,
      memoryMb: parent.memory_mb * count,
      diskMb: sandboxDefaults.diskMb * count,
    };
    if (rankHosts([placement], demand, policy).length === 0) {
      throw new AppError(
        "no_capacity",
        `the parent's host cannot take the forks: ${explainNoFit([placement], demand, policy)}`,
      );
    }
    return placement;
  }

  private async provision(
    parent: Sandbox,
    snapshot: Snapshot,
    clones: Sandbox[],
    sharedNetwork: boolean,
  ): Promise<Sandbox[]> {
    let forked: ReplyValue<"sandboxesForked">;
    try {
      forked = await this.sandboxes.host.forkSandbox(snapshot.host_id, {
        parentSandboxId: parent.id,
        snapshotId: snapshot.host_snapshot_id,
        clones: clones.map((clone) => ({
          sandboxId: clone.id,
          name: clone.name,
          ttlSeconds: Math.max(0, Math.round((clone.expires_at.getTime() - Date.now()) / 1000)),
          agentId: clone.agent_id ?? "",
          allowEgress: clone.allow_egress,
          egressAllow: clone.egress_allow ?? [],
        })),
        sharedNetwork,
      });
    } catch (err) {
      const appError = toAppError(err, "fork sandbox");
      for (const clone of clones) {
        await this.sandboxes.end(clone.id, "create_failed", "ERROR", { error: appError.message });
      }
      throw appError;
    }
    const byId = new Map(forked.sandboxes.map((created) => [created.sandboxId, created]));
    const running: Sandbox[] = [];
    for (const clone of clones) {
      const created = byId.get(clone.id);
      const row = created
        ? await this.db
            .updateTable("sandboxes")
            .set(bootedColumns(created))
            .where("id", "=", clone.id)
            .where("state", "=", "CREATING")
            .where("ended_at", "is", null)
            .returningAll()
            .executeTakeFirst()
        : undefined;
      if (row) running.push(row);
      else {
        // Destroyed while the host worked, or missing from its answer: nothing may run untracked.
        await this.sandboxes.end(clone.id, "create_failed", "ERROR", { error: "the host did not report this fork" });
        await this.sandboxes.compensate(clone);
      }
    }
    return running;
  }
}
