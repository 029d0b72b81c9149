import { type Kysely, sql } from "kysely";
import type { DB } from "../db/schema.js";

/** One UTC day of an org's running time. */
export interface UsageDay {
  day: string;
  sandbox_seconds: number;
  vcpu_seconds: number;
  memory_mb_seconds: number;
}

export type UsageTotals = Omit<UsageDay, "day">;

/**
 * Books the running time of every running sandbox up to `upto` (the database's clock when absent,
 * so replicas with skewed clocks agree). It only moves `accounted_until` forward, with a condition
 * on its current value; the sandboxes' row trigger turns each move into usage_records. Rows another
 * transaction holds (a replica accruing, a stop) are skipped, not waited for, so replicas neither
 * book a second twice nor deadlock on each other's row order; a skipped row is booked by whoever
 * holds it or at the next pass.
 */
export async function accrueUsage(db: Kysely<DB>, upto?: Date): Promise<number> {
  const until = upto ?? sql<Date>`now()`;
  const result = await db
    .updateTable("sandboxes")
    .set({ accounted_until: until })
    .where("id", "in", (eb) =>
      eb
        .selectFrom("sandboxes as s")
        .select("s.id")
        .where("s.state", "=", "RUNNING")
        .where("s.ended_at", "is", null)
        .where("s.accounted_until", "<", until)
        .orderBy("s.id")
        .forUpdate()
        .skipLocked(),
    )
    .where("accounted_until", "<", until)
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

const ms = (value: string | number): number => Math.round(Number(value) * 1000) / 1000;

/** The org's days with usage in [from, to] (YYYY-MM-DD, UTC), oldest first, and their totals. */
export async function readUsage(
  db: Kysely<DB>,
  orgId: string,
  from: string,
  to: string,
): Promise<{ days: UsageDay[]; totals: UsageTotals }> {
  const rows = await db
    .selectFrom("usage_records")
    .select([sql<string>`to_char(day, 'YYYY-MM-DD')`.as("day"), "sandbox_seconds", "vcpu_seconds", "memory_mb_seconds"])
    .where("org_id", "=", orgId)
    .where("day", ">=", from)
    .where("day", "<=", to)
    .orderBy("usage_records.day", "asc")
    .execute();
  const days = rows.map((row) => ({
    day: row.day,
    sandbox_seconds: ms(row.sandbox_seconds),
    vcpu_seconds: ms(row.vcpu_seconds),
    memory_mb_seconds: ms(row.memory_mb_seconds),
  }));
  const totals = { sandbox_seconds: 0, vcpu_seconds: 0, memory_mb_seconds: 0 };
  for (const row of rows) {
    totals.sandbox_seconds += Number(row.sandbox_seconds);
    totals.vcpu_seconds += Number(row.vcpu_seconds);
    totals.memory_mb_seconds += Number(row.memory_mb_seconds);
  }
  return {
    days,
    totals: {
      sandbox_seconds: ms(totals.sandbox_seconds),
      vcpu_seconds: ms(totals.vcpu_seconds),
      memory_mb_seconds: ms(totals.memory_mb_seconds),
    },
  };
}
