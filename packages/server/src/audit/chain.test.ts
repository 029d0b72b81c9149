import { databaseKinds, openTestDatabase } from "@fluid/testkit";
import { sql } from "kysely";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Database } from "../db/database.js";
import { newId } from "../lib/ids.js";
import { appendAuditEvent } from "./append.js";
import { GENESIS_HASH } from "./canonical.js";
import { verifyAuditChain } from "./verify.js";

describe.each(databaseKinds)("audit chain (%s)", (kind) => {
  let database: Database;
  let userId: string;

  async function newOrg(): Promise<string> {
    const id = newId();
    await database.db
      .insertInto("orgs")
      .values({ id, name: id, slug: `o-${id.slice(-12)}`, owner_id: userId, deleted_at: null })
      .execute();
    return id;
  }

  async function appendMany(orgId: string, n: number): Promise<void> {
    for (let i = 1; i <= n; i++) {
      await appendAuditEvent(database.db, {
        orgId,
        actor: { userId },
        action: "sandbox.created",
        target: { type: "sandbox", id: `sbx-${i}` },
        details: { n: i, nested: { z: 1, a: [1, "two"] } },
      });
    }
  }

  beforeEach(async () => {
    database = await openTestDatabase(kind);
    userId = newId();
    await database.db
      .insertInto("users")
      .values({ id: userId, email: `${userId}@example.com`, display_name: "U", password_hash: null, avatar_url: null })
      .execute();
  });
  afterEach(async () => {
    await database.close();
  });

  it("numbers an org's events 1, 2, 3 and links each to the previous hash", async () => {
    const orgId = await newOrg();
    await appendMany(orgId, 3);
    const rows = await database.db
      .selectFrom("audit_events")
      .selectAll()
      .where("org_id", "=", orgId)
      .orderBy("seq")
      .execute();
    expect(rows.map((r) => Number(r.seq))).toEqual([1, 2, 3]);
    expect(rows[0]?.prev_hash).toBe(GENESIS_HASH);
    expect(rows[1]?.prev_hash).toBe(rows[0]?.hash);
    expect(rows[2]?.prev_hash).toBe(rows[1]?.hash);
  });

  it("verifies an untouched chain, and an empty one", async () => {
    const orgId = await newOrg();
    expect(await verifyAuditChain(database.db, orgId)).toEqual({ valid: true, events: 0, head_hash: null });
    await appendMany(orgId, 5);
    const verdict = await verifyAuditChain(database.db, orgId);
    expect(verdict).toMatchObject({ valid: true, events: 5 });
    expect(verdict.first_invalid).toBeUndefined();
  });

  it("keeps separate chains per org", async () => {
    const a = await newOrg();
    const b = await newOrg();
    await appendMany(a, 2);
    await appendMany(b, 1);
    const first = await database.db.selectFrom("audit_events").select("seq").where("org_id", "=", b).execute();
    expect(first.map((r) => Number(r.seq))).toEqual([1]);
    expect((await verifyAuditChain(database.db, a)).valid).toBe(true);
  });

  it("reports a row whose details were altered in SQL at its seq", async () => {
    const orgId = await newOrg();
    await appendMany(orgId, 4);
    await sql`UPDATE audit_events SET details = '{"n": 99}' WHERE org_id = ${orgId} AND seq = 3`.execute(database.db);
    const verdict = await verifyAuditChain(database.db, orgId);
    expect(verdict.valid).toBe(false);
    expect(verdict.first_invalid?.seq).toBe(3);
    expect(verdict.first_invalid?.reason).toMatch(/altered/);
    expect(verdict.events).toBe(4);
  });

  it("reads the chain in pages and still finds a break past the first page", async () => {
    const orgId = await newOrg();
    await appendMany(orgId, 7);
    await sql`UPDATE audit_events SET action = 'sandbox.destroyed' WHERE org_id = ${orgId} AND seq = 6`.execute(
      database.db,
    );
    const verdict = await verifyAuditChain(database.db, orgId, { pageSize: 2 });
    expect(verdict).toMatchObject({ valid: false, events: 7, first_invalid: { seq: 6 } });
  });

  it("reports a deleted middle row", async () => {
    const orgId = await newOrg();
    await appendMany(orgId, 4);
    await sql`DELETE FROM audit_events WHERE org_id = ${orgId} AND seq = 2`.execute(database.db);
    const verdict = await verifyAuditChain(database.db, orgId);
    expect(verdict).toMatchObject({ valid: false, events: 3, first_invalid: { seq: 3 } });
    expect(verdict.first_invalid?.reason).toMatch(/seq 2 missing/);
  });

  it("reports a deleted row even when the later ones were renumbered to close the gap", async () => {
    const orgId = await newOrg();
    await appendMany(orgId, 4);
    await sql`DELETE FROM audit_events WHERE org_id = ${orgId} AND seq = 2`.execute(database.db);
    await sql`UPDATE audit_events SET seq = seq - 1 WHERE org_id = ${orgId} AND seq > 2`.execute(database.db);
    const verdict = await verifyAuditChain(database.db, orgId);
    expect(verdict).toMatchObject({ valid: false, first_invalid: { seq: 2 } });
    expect(verdict.first_invalid?.reason).toMatch(/prev_hash/);
  });

  it("reports two rows that swapped places", async () => {
    const orgId = await newOrg();
    await appendMany(orgId, 3);
    await sql`UPDATE audit_events SET seq = 100 WHERE org_id = ${orgId} AND seq = 1`.execute(database.db);
    await sql`UPDATE audit_events SET seq = 1 WHERE org_id = ${orgId} AND seq = 2`.execute(database.db);
    await sql`UPDATE audit_events SET seq = 2 WHERE org_id = ${orgId} AND seq = 100`.execute(database.db);
    const verdict = await verifyAuditChain(database.db, orgId);
    expect(verdict).toMatchObject({ valid: false, first_invalid: { seq: 1 } });
  });

  it("rolls the event back with the caller's transaction", async () => {
    const orgId = await newOrg();
    await database.db
      .transaction()
      .execute(async (tx) => {
        await appendAuditEvent(tx, {
          orgId,
          actor: null,
          action: "sandbox.ended",
          target: { type: "sandbox", id: "x" },
        });
        throw new Error("the recorded change failed");
      })
      .catch(() => undefined);
    expect(await verifyAuditChain(database.db, orgId)).toMatchObject({ valid: true, events: 0 });
  });

  it("keeps seq and the chain intact under concurrent appends to one org", async () => {
    const orgId = await newOrg();
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        appendAuditEvent(database.db, {
          orgId,
          actor: { userId },
          action: "source.command",
          target: { type: "source_vm", id: `vm-${i}` },
        }),
      ),
    );
    const verdict = await verifyAuditChain(database.db, orgId);
    expect(verdict).toMatchObject({ valid: true, events: 20 });
  });

  it("refuses an action that is not dotted lower case", async () => {
    const orgId = await newOrg();
    await expect(
      appendAuditEvent(database.db, { orgId, actor: null, action: "SandboxCreated", target: { type: "x", id: "y" } }),
    ).rejects.toThrow(/dotted/);
  });
});
