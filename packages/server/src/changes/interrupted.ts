import { type Kysely, sql } from "kysely";
import type { DB } from "../db/schema.js";
import { notYetRun } from "./verification.js";

/** How often a server renews the change requests it is verifying or applying. */
export const WORK_RENEW_MS = 10_000;
/** A claim not renewed for this long belongs to a server that stopped (six missed renewals). */
export const WORK_STALE_MS = 60_000;

const stoppedVerification = () => notYetRun("the server stopped while this verification ran; verify again");

/**
 * Fails the verifications and releases the applies a stopped server left behind, found by the age of
 * their worker's last renewal (the claim's own time for rows claimed before renewals existed). Safe
 * with several replicas: work a live replica runs is renewed and never stale. Answers the counts.
 */
export async function endStaleWork(db: Kysely<DB>, staleMs: number): Promise<{ failed: number; released: number }> {
  const cutoff = sql<Date>`now() - make_interval(secs => ${staleMs / 1000})`;
  const failed = await db
    .updateTable("change_requests")
    .set({ state: "verification_failed", verification: JSON.stringify(stoppedVerification()), updated_at: new Date() })
    .where("state", "=", "verifying")
    .where(sql<boolean>`coalesce(worker_seen_at, verification_started_at) < ${cutoff}`)
    .executeTakeFirst();
  const released = await db
    .updateTable("change_requests")
    .set({ applying_since: null })
    .where("applying_since", "is not", null)
    .where(sql<boolean>`coalesce(worker_seen_at, applying_since) < ${cutoff}`)
    .executeTakeFirst();
  return { failed: Number(failed.numUpdatedRows), released: Number(released.numUpdatedRows) };
}

/**
 * Work left by this very server's previous run, at its start: with one process per database (PGlite)
 * everything claimed before this start was interrupted, so it is ended at once rather than after the
 * stale age.
 */
export async function endWorkStartedBefore(
  db: Kysely<DB>,
  startedBefore: Date,
): Promise<{ failed: number; released: number }> {
  const failed = await db
    .updateTable("change_requests")
    .set({ state: "verification_failed", verification: JSON.stringify(stoppedVerification()), updated_at: new Date() })
    .where("state", "=", "verifying")
    .where("verification_started_at", "<", startedBefore)
    .executeTakeFirst();
  const released = await db
    .updateTable("change_requests")
    .set({ applying_since: null })
    .where("applying_since", "<", startedBefore)
    .executeTakeFirst();
  return { failed: Number(failed.numUpdatedRows), released: Number(released.numUpdatedRows) };
}

/** The change requests this server is working on, renewed every `WORK_RENEW_MS` while it does. */
export class WorkRenewal {
  private readonly ids = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly db: Kysely<DB>,
    private readonly onError: (err: unknown) => void,
    private readonly everyMs = WORK_RENEW_MS,
  ) {}

  /** Marks `id` as worked on here until the returned function is called. */
  track(id: string): () => void {
    this.ids.set(id, (this.ids.get(id) ?? 0) + 1);
    this.timer ??= setInterval(() => void this.renew().catch(this.onError), this.everyMs).unref();
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const left = (this.ids.get(id) ?? 1) - 1;
      if (left > 0) this.ids.set(id, left);
      else this.ids.delete(id);
      if (this.ids.size === 0) this.stop();
    };
  }

  async renew(): Promise<void> {
    if (this.ids.size === 0) return;
    await this.db
      .updateTable("change_requests")
      .set({ worker_seen_at: sql<Date>`now()` })
      .where("id", "in", [...this.ids.keys()])
      .execute();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
