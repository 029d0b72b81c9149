import type { Kysely } from "kysely";
import { SandboxError } from "../errors.js";
import type { DaemonDB, SandboxRow, SnapshotRow } from "../state/schema.js";

/** The sandboxes and snapshots tables: every query the sandbox modules make. */
export class SandboxStore {
  constructor(private readonly db: Kysely<DaemonDB>) {}

  find(id: string): Promise<SandboxRow | undefined> {
    return this.db.selectFrom("sandboxes").selectAll().where("id", "=", id).executeTakeFirst();
  }

  async get(id: string): Promise<SandboxRow> {
    const row = await this.find(id);
    if (!row) throw new SandboxError("not_found", `no sandbox ${id} on this host`);
    return row;
  }

  async running(id: string): Promise<SandboxRow> {
    const row = await this.get(id);
    if (row.state !== "RUNNING") throw new SandboxError("invalid_state", `sandbox is ${row.state}, not RUNNING`);
    return row;
  }

  async assertAbsent(id: string): Promise<void> {
    if (await this.db.selectFrom("sandboxes").select("id").where("id", "=", id).executeTakeFirst()) {
      throw new SandboxError("invalid_state", `sandbox ${id} already exists on this host`);
    }
  }

  async insert(row: SandboxRow): Promise<void> {
    await this.db.insertInto("sandboxes").values(row).execute();
  }

  /** Sets `values` (the id too, for a claimed warm pool entry) and stamps updated_at unless given. */
  async update(id: string, values: Partial<SandboxRow>): Promise<void> {
    await this.db
      .updateTable("sandboxes")
      .set({ updated_at: Date.now(), ...values })
      .where("id", "=", id)
      .execute();
  }

  /** Sandboxes callers see: warm pool entries never, ended ones only when asked. */
  list(options: { includeEnded?: boolean } = {}): Promise<SandboxRow[]> {
    let query = this.db.selectFrom("sandboxes").selectAll().where("pooled", "=", 0).orderBy("created_at", "asc");
    if (!options.includeEnded) query = query.where("ended_at", "is", null);
    return query.execute();
  }

  /** Every sandbox not yet ended, warm pool entries included. */
  unended(): Promise<SandboxRow[]> {
    return this.db.selectFrom("sandboxes").selectAll().where("ended_at", "is", null).execute();
  }

  /** Memory committed to sandboxes that are booting or running, warm pool entries included. */
  async committedMemoryMb(): Promise<number> {
    const row = await this.db
      .selectFrom("sandboxes")
      .select((eb) => eb.fn.sum<number>("memory_mb").as("mb"))
      .where("ended_at", "is", null)
      .where("state", "in", ["CREATING", "RUNNING"])
      .executeTakeFirst();
    return Number(row?.mb ?? 0);
  }

  /** Sandboxes whose lease ended at or before `now`. */
  expired(now: number): Promise<Array<Pick<SandboxRow, "id" | "state">>> {
    return this.db
      .selectFrom("sandboxes")
      .select(["id", "state"])
      .where("ended_at", "is", null)
      .where("expires_at", "is not", null)
      .where("expires_at", "<=", now)
      .execute();
  }

  /** Sandboxes recorded as running (their VM should be up), warm pool entries left out. */
  runningVms(): Promise<SandboxRow[]> {
    return this.db
      .selectFrom("sandboxes")
      .selectAll()
      .where("state", "=", "RUNNING")
      .where("ended_at", "is", null)
      .where("pooled", "=", 0)
      .execute();
  }

  /** Warm pool entries and their templates' snapshots. */
  async pooled(): Promise<{ sandboxes: SandboxRow[]; snapshots: SnapshotRow[] }> {
    const sandboxes = await this.db
      .selectFrom("sandboxes")
      .selectAll()
      .where("pooled", "=", 1)
      .where("ended_at", "is", null)
      .execute();
    const snapshots = await this.db
      .selectFrom("snapshots")
      .selectAll()
      .where("sandbox_id", "in", (eb) => eb.selectFrom("sandboxes").select("id").where("pooled", "=", 1))
      .execute();
    return { sandboxes, snapshots };
  }

  async getSnapshot(snapshotId: string): Promise<SnapshotRow> {
    const row = await this.db.selectFrom("snapshots").selectAll().where("id", "=", snapshotId).executeTakeFirst();
    if (!row) throw new SandboxError("not_found", `no snapshot ${snapshotId} on this host`);
    return row;
  }

  /** Snapshots callers see (not those of warm pool templates), oldest first. */
  listSnapshots(sandboxId?: string): Promise<SnapshotRow[]> {
    let query = this.db
      .selectFrom("snapshots")
      .selectAll()
      .where("sandbox_id", "not in", (eb) => eb.selectFrom("sandboxes").select("id").where("pooled", "=", 1))
      .orderBy("created_at", "asc");
    if (sandboxId) query = query.where("sandbox_id", "=", sandboxId);
    return query.execute();
  }

  async insertSnapshot(snapshot: SnapshotRow): Promise<void> {
    await this.db.insertInto("snapshots").values(snapshot).execute();
  }

  async deleteSnapshot(snapshotId: string): Promise<void> {
    await this.db.deleteFrom("snapshots").where("id", "=", snapshotId).execute();
  }
}
