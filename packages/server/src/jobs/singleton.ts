import { type Kysely, sql } from "kysely";
import type { DB } from "../db/schema.js";

/** Every job that must run on one replica at a time; the name keys its advisory lock. */
export type JobName = "reaper" | "interrupted-work";

/** Namespace of fluid's job locks, so they never meet another advisory lock (the audit chain's, say). */
const JOB_LOCK_NAMESPACE = 0x666c6a62;

export interface JobLocks {
  /**
   * Runs `pass` unless another replica is running the same job right now; answers whether it ran.
   * PGlite serves one process, so there it simply runs.
   */
  runExclusive(job: JobName, pass: () => Promise<void>): Promise<boolean>;
}

/**
 * One pass of a job at a time across replicas: a transaction-level `pg_try_advisory_xact_lock` taken
 * for the length of the pass. It is held by a transaction, not by a leader's session, so no replica
 * has a role to lose: a replica that dies (or loses its connection) mid-pass drops the lock with its
 * transaction and the next replica's tick simply takes it; replicas that find it held skip that tick.
 * The passes are idempotent claims (conditional updates), so what the lock removes is replicas doing
 * the same work, host commands and log lines at the same moment, not a correctness hazard.
 */
export function jobLocks(database: { db: Kysely<DB>; kind: "pglite" | "postgres" }): JobLocks {
  if (database.kind === "pglite") {
    return {
      runExclusive: async (_job, pass) => {
        await pass();
        return true;
      },
    };
  }
  return {
    runExclusive: (job, pass) =>
      // The pass runs its own queries on other pooled connections; this transaction only holds the lock.
      database.db.transaction().execute(async (tx) => {
        const { rows } = await sql<{ locked: boolean }>`
            SELECT pg_try_advisory_xact_lock(${JOB_LOCK_NAMESPACE}, hashtext(${job})) AS locked`.execute(tx);
        if (!rows[0]?.locked) return false;
        await pass();
        return true;
      }),
  };
}
