import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { databaseKinds, openTestDatabase } from "@fluid/testkit";
import { sql } from "kysely";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Database, openDatabase } from "../db/database.js";
import { migrateToLatest } from "../db/migrate.js";
import { newId } from "../lib/ids.js";
import { quotaCommand } from "./operator.js";

async function addOrg(database: Database, slug: string): Promise<string> {
  const userId = newId();
  const orgId = newId();
  await database.db
    .insertInto("users")
    .values({ id: userId, email: `${slug}@example.com`, display_name: "u" })
    .execute();
  await database.db.insertInto("orgs").values({ id: orgId, name: slug, slug, owner_id: userId }).execute();
  return orgId;
}

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { stdout: (t: string) => out.push(t), stderr: (t: string) => err.push(t) }, out, err };
}

describe.each(databaseKinds)("fluid-server quota (%s)", (kind) => {
  let database: Database;
  let orgId: string;
  const run = (argv: string[], io = capture()) =>
    quotaCommand(argv, {}, io.io, async () => ({ ...database, close: async () => undefined }));

  beforeEach(async () => {
    database = await openTestDatabase(kind);
    orgId = await addOrg(database, "acme");
  });
  afterEach(async () => {
    await database.close();
  });

  it("sets an org's own limits, keeps the others at the default, and audits the change", async () => {
    const io = capture();
    expect(await run(["set", "acme", "--sandboxes", "10", "--vcpus", "0", "--snapshot-gb", "5"], io)).toBe(0);
    expect(io.out.join("")).toBe(
      "acme (default: the server's --quota-* setting)\n" +
        "  sandboxes    10\n  vcpus        unlimited\n  memory-mb    default\n  snapshot-gb  5\n",
    );
    const row = await database.db.selectFrom("org_quotas").selectAll().where("org_id", "=", orgId).executeTakeFirst();
    expect(row).toMatchObject({ max_sandboxes: 10, max_vcpus: 0, max_memory_mb: null });
    expect(Number(row?.max_snapshot_bytes)).toBe(5 * 1024 ** 3);
    const audit = await database.db.selectFrom("audit_events").selectAll().where("org_id", "=", orgId).execute();
    expect(audit).toMatchObject([{ action: "org.quota_changed", actor_user_id: null, target_id: orgId }]);

    expect(await run(["set", "acme", "--sandboxes", "default", "--memory-mb", "4096"])).toBe(0);
    const shown = capture();
    expect(await run(["show", "acme"], shown)).toBe(0);
    expect(shown.out.join("")).toContain("  sandboxes    default\n  vcpus        unlimited\n  memory-mb    4096\n");
  });

  it("refuses bad input with status 2 and an unknown org with status 1, changing nothing", async () => {
    for (const argv of [
      [],
      ["raise", "acme"],
      ["set", "acme"],
      ["set", "acme", "--vcpus", "lots"],
      ["set", "acme", "--vcpus=-1"],
      ["show", "acme", "--vcpus", "1"],
      ["set", "acme", "other", "--vcpus", "1"],
      ["set", "acme", "--cpus", "1"],
    ]) {
      const io = capture();
      expect(await run(argv, io)).toBe(2);
      expect(io.err.join("")).toContain("Usage: fluid-server quota");
    }
    const io = capture();
    expect(await run(["set", "initech", "--vcpus", "1"], io)).toBe(1);
    expect(io.err.join("")).toBe('fluid-server quota: no organization "initech"\n');
    expect(await database.db.selectFrom("org_quotas").selectAll().execute()).toEqual([]);
  });
});

describe("fluid-server quota on a PGlite data directory", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "quota-pglite-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("opens FLUID_DATA_DIR itself, and refuses a database whose schema is not migrated", async () => {
    const fresh = capture();
    expect(await quotaCommand(["show", "acme"], { FLUID_DATA_DIR: dir }, fresh.io)).toBe(1);
    expect(fresh.err.join("")).toMatch(/schema is out of date/);

    const database = await openDatabase({ kind: "pglite", dataDir: dir });
    await migrateToLatest(database.db);
    await addOrg(database, "acme");
    await database.close();
    const io = capture();
    expect(await quotaCommand(["set", "acme", "--memory-mb", "2048"], { FLUID_DATA_DIR: dir }, io.io)).toBe(0);
    const reopened = await openDatabase({ kind: "pglite", dataDir: dir });
    const rows = await sql<{ max_memory_mb: number }>`SELECT max_memory_mb FROM org_quotas`.execute(reopened.db);
    await reopened.close();
    expect(rows.rows).toEqual([{ max_memory_mb: 2048 }]);
  });
});
