import { randomBytes } from "node:crypto";
import { databaseKinds, openTestDatabase } from "@fluid/testkit";
import { type Kysely, sql } from "kysely";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Database } from "../db/database.js";
import { insertSandboxRow } from "../db/rows.fixtures.js";
import type { DB, SandboxState } from "../db/schema.js";
import { newId } from "../lib/ids.js";
import { accrueUsage, readUsage } from "./usage.js";

const at = (iso: string) => new Date(iso);

/** An org with one host, written straight to the database. */
async function orgWithHost(db: Kysely<DB>): Promise<{ orgId: string; hostId: string; userId: string }> {
  const userId = newId();
  const orgId = newId();
  const hostId = newId();
  const slug = `org-${randomBytes(4).toString("hex")}`;
  await db
    .insertInto("users")
    .values({ id: userId, email: `${slug}@example.com`, display_name: "u" })
    .execute();
  await db.insertInto("orgs").values({ id: orgId, name: slug, slug, owner_id: userId }).execute();
  await db
    .insertInto("host_tokens")
    .values({ id: hostId, org_id: orgId, name: "h", token_hash: randomBytes(16).toString("hex") })
    .execute();
  await sql`INSERT INTO hosts (id, org_id) VALUES (${hostId}, ${orgId})`.execute(db);
  return { orgId, hostId, userId };
}

describe.each(databaseKinds)("usage accrual (%s)", (kind) => {
  let database: Database;
  let db: Kysely<DB>;
  let org: Awaited<ReturnType<typeof orgWithHost>>;

  beforeEach(async () => {
    database = await openTestDatabase(kind);
    db = database.db;
    org = await orgWithHost(db);
  });
  afterEach(async () => {
    await database.close();
  });

  const sandbox = (state: SandboxState, accountedUntil: Date | null, size = { vcpus: 2, memoryMb: 512 }) =>
    insertSandboxRow(db, {
      id: newId(),
      org_id: org.orgId,
      host_id: org.hostId,
      created_by: org.userId,
      source_vm: "tiny",
      state,
      vcpus: size.vcpus,
      memory_mb: size.memoryMb,
      expires_at: at("2099-01-01T00:00:00Z"),
      accounted_until: accountedUntil,
    });
  const usage = (from = "2000-01-01", to = "2099-12-31") => readUsage(db, org.orgId, from, to);
  const setState = (id: string, state: SandboxState) =>
    db.updateTable("sandboxes").set({ state }).where("id", "=", id).execute();

  it("splits running time at UTC midnight and weights it by vCPUs and memory", async () => {
    await sandbox("RUNNING", at("2026-03-01T23:59:00Z"));
    expect(await accrueUsage(db, at("2026-03-02T00:01:30Z"))).toBe(1);
    expect(await usage()).toEqual({
      days: [
        { day: "2026-03-01", sandbox_seconds: 60, vcpu_seconds: 120, memory_mb_seconds: 60 * 512 },
        { day: "2026-03-02", sandbox_seconds: 90, vcpu_seconds: 180, memory_mb_seconds: 90 * 512 },
      ],
      totals: { sandbox_seconds: 150, vcpu_seconds: 300, memory_mb_seconds: 150 * 512 },
    });
    expect((await usage("2026-03-02", "2026-03-02")).totals.sandbox_seconds).toBe(90);
  });

  it("spans whole days in between and keeps fractions of a second", async () => {
    await sandbox("RUNNING", at("2026-03-01T12:00:00Z"), { vcpus: 1, memoryMb: 256 });
    await accrueUsage(db, at("2026-03-04T00:00:00.250Z"));
    const { days } = await usage();
    expect(days.map((d) => [d.day, d.sandbox_seconds])).toEqual([
      ["2026-03-01", 43_200],
      ["2026-03-02", 86_400],
      ["2026-03-03", 86_400],
      ["2026-03-04", 0.25],
    ]);
  });

  it("books each second once: accruing again to the same or an earlier instant adds nothing", async () => {
    await sandbox("RUNNING", at("2026-03-01T10:00:00Z"));
    await accrueUsage(db, at("2026-03-01T10:00:10Z"));
    expect(await accrueUsage(db, at("2026-03-01T10:00:10Z"))).toBe(0);
    expect(await accrueUsage(db, at("2026-03-01T10:00:05Z"))).toBe(0);
    await accrueUsage(db, at("2026-03-01T10:00:30Z"));
    expect((await usage()).totals.sandbox_seconds).toBe(30);
  });

  it("accruers racing (as replicas would) book every second exactly once, up to where each row got", async () => {
    const start = at("2026-03-01T10:00:00Z");
    const ids = await Promise.all([1, 2, 3].map(() => sandbox("RUNNING", start)));
    const accounted = async () => {
      const rows = await db.selectFrom("sandboxes").select("accounted_until").where("id", "in", ids).execute();
      return rows.reduce((sum, row) => sum + ((row.accounted_until?.getTime() ?? 0) - start.getTime()) / 1000, 0);
    };
    for (let round = 1; round <= 5; round++) {
      const upto = at(`2026-03-01T10:0${round}:00Z`);
      const later = at(`2026-03-01T10:0${round}:30Z`);
      await Promise.all([accrueUsage(db, upto), accrueUsage(db, later), accrueUsage(db, upto)]);
      expect((await usage()).totals.sandbox_seconds).toBe(await accounted());
    }
    await accrueUsage(db, at("2026-03-01T10:06:00Z"));
    expect((await usage()).totals.sandbox_seconds).toBe(ids.length * 360);
  });

  it("does not book a sandbox while it is CREATING or STOPPED", async () => {
    await sandbox("CREATING", null);
    await sandbox("STOPPED", at("2026-03-01T10:00:00Z"));
    expect(await accrueUsage(db, at("2026-03-01T11:00:00Z"))).toBe(0);
    expect((await usage()).days).toEqual([]);
  });

  it("a stop books up to the stop; the stopped time is not booked; a start books again from the start", async () => {
    const tenMinutesAgo = new Date(Date.now() - 600_000);
    const id = await sandbox("RUNNING", tenMinutesAgo);
    await setState(id, "STOPPED");
    const stopped = (await usage()).totals.sandbox_seconds;
    expect(stopped).toBeGreaterThanOrEqual(600);
    expect(stopped).toBeLessThan(630);

    await accrueUsage(db, new Date(Date.now() + 3_600_000));
    expect((await usage()).totals.sandbox_seconds).toBe(stopped);

    await setState(id, "RUNNING");
    const restarted = await db
      .selectFrom("sandboxes")
      .select("accounted_until")
      .where("id", "=", id)
      .executeTakeFirst();
    expect(Math.abs((restarted?.accounted_until?.getTime() ?? 0) - Date.now())).toBeLessThan(30_000);
    await accrueUsage(db, new Date((restarted?.accounted_until?.getTime() ?? 0) + 60_000));
    // The database keeps microseconds, a Date milliseconds: the restart instant read back is truncated.
    expect((await usage()).totals.sandbox_seconds).toBeCloseTo(stopped + 60, 2);
  });

  it("an end books up to the end, and an ended sandbox is never booked again", async () => {
    const yesterday = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
    const id = await sandbox("RUNNING", at(`${yesterday}T23:00:00Z`));
    await db
      .updateTable("sandboxes")
      .set({ state: "DESTROYED", ended_at: new Date(), end_reason: "user_request" })
      .where("id", "=", id)
      .execute();
    const { days } = await usage();
    expect(days[0]).toMatchObject({ day: yesterday, sandbox_seconds: 3600 });
    const total = (await usage()).totals.sandbox_seconds;
    expect(await accrueUsage(db, new Date(Date.now() + 3_600_000))).toBe(0);
    expect((await usage()).totals.sandbox_seconds).toBe(total);
  });

  it("keeps each org's usage to itself", async () => {
    await sandbox("RUNNING", at("2026-03-01T10:00:00Z"));
    await accrueUsage(db, at("2026-03-01T10:01:00Z"));
    const other = await orgWithHost(db);
    expect((await readUsage(db, other.orgId, "2000-01-01", "2099-12-31")).days).toEqual([]);
  });
});
