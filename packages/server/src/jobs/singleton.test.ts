import { changeRequestFixture, testConfig } from "@fluid/testkit";
import { sql } from "kysely";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { openDatabase } from "../db/database.js";
import { type RunningServer, startServer } from "../server.js";

type Fixture = Awaited<ReturnType<typeof changeRequestFixture>>;

const postgres = inject("postgres");

/** A second replica on the fixture's PostgreSQL database, as another process would run it. */
async function secondReplica(first: RunningServer): Promise<RunningServer> {
  if (!postgres) throw new Error("PostgreSQL is not available in this run");
  const { rows } = await sql<{ name: string }>`SELECT current_database() AS name`.execute(first.ctx.db);
  const url = new URL(postgres.adminUrl);
  url.pathname = `/${rows[0]?.name}`;
  const database = await openDatabase({ kind: "postgres", url: url.toString(), maxConnections: 4 });
  const server = await startServer(testConfig(), { log: pino({ level: "silent" }), database });
  return {
    ...server,
    close: async () => {
      await server.close();
      await database.close();
    },
  };
}

describe.skipIf(!postgres)(
  "jobs run once across replicas (two servers on one PostgreSQL; skipped without FLUID_TEST_DATABASE_URL)",
  () => {
    let f: Fixture;
    let a: RunningServer;
    let b: RunningServer | undefined;

    beforeAll(async () => {
      f = await changeRequestFixture("postgres");
      a = f.t.server;
    });
    afterAll(async () => {
      await b?.close();
      f.daemon.abort();
      await f.t.close();
    });

    it("a reaper tick is skipped on one replica while the other runs it, and runs once it is free", async () => {
      b ??= await secondReplica(a);
      let release = () => {};
      const held = new Promise<void>((resolve) => {
        release = resolve;
      });
      let started = () => {};
      const running = new Promise<void>((resolve) => {
        started = resolve;
      });
      const onA = a.jobs.runExclusive("reaper", async () => {
        started();
        await held;
      });
      await running;
      expect(await b.reaper.tick()).toBe(false);
      // A different job is not held up by it.
      expect(await b.jobs.runExclusive("interrupted-work", async () => {})).toBe(true);
      release();
      expect(await onA).toBe(true);
      expect(await b.reaper.tick()).toBe(true);
      expect(await a.reaper.tick()).toBe(true);
    });

    it("two replicas ticking at once: exactly one pass runs", async () => {
      b ??= await secondReplica(a);
      let passes = 0;
      const slowPass = async () => {
        passes++;
        await new Promise((resolve) => setTimeout(resolve, 300));
      };
      const ran = await Promise.all([a.jobs.runExclusive("reaper", slowPass), b.jobs.runExclusive("reaper", slowPass)]);
      expect(passes).toBe(1);
      expect(ran.filter(Boolean)).toHaveLength(1);
    });

    it("a replica starting does not fail a verification another live replica runs; a stale one is failed", async () => {
      const created = await f.createRequest();
      expect(created.status).toBe(201);
      const id = created.body.id as string;
      // Replica A is verifying it and renewed its claim just now.
      await a.ctx.db
        .updateTable("change_requests")
        .set({
          state: "verifying",
          verification_started_at: new Date(Date.now() - 3_600_000),
          worker_seen_at: new Date(),
        })
        .where("id", "=", id)
        .execute();
      await b?.close();
      b = await secondReplica(a);
      const state = async () =>
        (await a.ctx.db.selectFrom("change_requests").select("state").where("id", "=", id).executeTakeFirstOrThrow())
          .state;
      expect(await state()).toBe("verifying");
      expect(await b.reaper.tick()).toBe(true);
      expect(await state()).toBe("verifying");

      // A stops renewing (it died): once the claim is stale, the next tick anywhere fails it.
      await a.ctx.db
        .updateTable("change_requests")
        .set({ worker_seen_at: new Date(Date.now() - 5 * 60_000) })
        .where("id", "=", id)
        .execute();
      expect(await b.reaper.tick()).toBe(true);
      const row = await a.ctx.db
        .selectFrom("change_requests")
        .select(["state", "verification"])
        .where("id", "=", id)
        .executeTakeFirstOrThrow();
      expect(row.state).toBe("verification_failed");
      expect(JSON.stringify(row.verification)).toContain("the server stopped while this verification ran");
    });
  },
);
