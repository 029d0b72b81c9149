import { create } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { RunCommandCommandSchema } from "@fluid/proto";
import {
  type Caller,
  databaseKinds,
  openTestDatabase,
  startTestServer,
  TestDaemon,
  type TestServer,
} from "@fluid/testkit";
import { sql } from "kysely";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Database } from "../db/database.js";
import { AppError } from "../http/errors.js";
import { CommandTimeoutError } from "../stream/errors.js";
import type { Command } from "../stream/host-session.js";

const until = async (check: () => Promise<boolean> | boolean, timeoutMs = 8_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 25));
  }
};

const run = (command: string): Command => ({
  case: "runCommand",
  value: create(RunCommandCommandSchema, { sandboxId: "sb-1", command, timeoutSeconds: 5 }),
});

const settled = <T>(promise: Promise<T>) =>
  promise.then(
    (value) => ({ value, error: undefined }),
    (error: unknown) => ({ value: undefined, error }),
  );

describe.skipIf(!databaseKinds.includes("postgres"))(
  "two replicas on one PostgreSQL (needs FLUID_TEST_DATABASE_URL)",
  () => {
    let database: Database;
    let a: TestServer;
    let b: TestServer;
    let owner: Caller;
    const daemons: TestDaemon[] = [];

    const connect = async (
      server: TestServer,
      token: string,
      options: Partial<Parameters<typeof TestDaemon.connect>[1]> = {},
    ) => {
      const daemon = await TestDaemon.connect(server.grpcUrl, { token, keepAlive: true, ...options });
      daemons.push(daemon);
      return daemon;
    };

    const commandRows = () => database.db.selectFrom("host_commands").selectAll().orderBy("created_at").execute();

    beforeEach(async () => {
      database = await openTestDatabase("postgres");
      const deadlines = { createMs: 5_000, destroyMs: 3_000, commandGraceMs: 1_000 };
      a = await startTestServer("postgres", { replicaId: "a", deadlines, sharedDatabase: database });
      b = await startTestServer("postgres", { replicaId: "b", deadlines, sharedDatabase: database });
      owner = await a.user("owner@example.com");
      await a.org(owner, "acme");
    });

    afterEach(async () => {
      for (const d of daemons.splice(0)) d.abort();
      await a.close();
      await b.close();
      await database.close();
    });

    it("both replicas record themselves as live; a clean stop marks the row stopped", async () => {
      const rows = await database.db.selectFrom("replicas").selectAll().orderBy("id").execute();
      expect(rows.map((r) => [r.id, r.stopped_at])).toEqual([
        ["a", null],
        ["b", null],
      ]);
      await b.close();
      const stopped = await database.db
        .selectFrom("replicas")
        .select("stopped_at")
        .where("id", "=", "b")
        .executeTakeFirst();
      expect(stopped?.stopped_at).toBeInstanceOf(Date);
    });

    it("a second process under a live replica id is refused at startup, after waiting out one live window", async () => {
      const started = Date.now();
      await expect(startTestServer("postgres", { replicaId: "a", sharedDatabase: database })).rejects.toThrow(
        'replica id "a" is in use by a live replica',
      );
      expect(Date.now() - started).toBeGreaterThan(10_000);
    }, 30_000);

    it("a replica restarted under its id right after a crash waits for the old row to go silent, then starts", async () => {
      // The crashed process's row: fresh heartbeat, never stopped, nobody beating it any more.
      await sql`INSERT INTO replicas (id, heartbeat_at) VALUES ('crashed', now() - interval '7 seconds')`.execute(
        database.db,
      );
      const started = Date.now();
      const again = await startTestServer("postgres", { replicaId: "crashed", sharedDatabase: database });
      try {
        expect(Date.now() - started).toBeGreaterThan(2_000);
        const row = await database.db.selectFrom("replicas").selectAll().where("id", "=", "crashed").executeTakeFirst();
        expect(row?.stopped_at).toBeNull();
      } finally {
        await again.close();
      }
    }, 30_000);

    it("a host streaming to B is placed on, created on and runs commands through A", async () => {
      const token = await a.hostToken(owner, "acme");
      const daemon = await connect(b, token.token);
      const lease = await database.db.selectFrom("host_leases").selectAll().executeTakeFirst();
      expect(lease).toMatchObject({ host_id: token.id, replica_id: "b", epoch: "1" });
      expect(await a.server.ctx.hosts.isConnected(token.id)).toBe(true);

      const created = await a.call("POST", "/v1/orgs/acme/sandboxes", { as: owner, body: { source_vm: "tiny" } });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      expect(created.body).toMatchObject({ state: "RUNNING", host_id: token.id });
      const ran = await a.call("POST", `/v1/orgs/acme/sandboxes/${created.body.id}/run`, {
        as: owner,
        body: { command: "echo hi" },
      });
      expect(ran.status, JSON.stringify(ran.body)).toBe(200);
      expect(ran.body).toMatchObject({ stdout: "ran: echo hi\n", exit_code: 0 });
      expect(daemon.commands("createSandbox")).toHaveLength(1);
      expect(daemon.commands("runCommand")).toHaveLength(1);

      const rows = await commandRows();
      expect(rows.map((r) => [r.requested_by, r.state, r.error_code])).toEqual([
        ["a", "done", null],
        ["a", "done", null],
      ]);
      // B reaches its own host from memory: no row.
      await b.server.ctx.hosts.request(token.id, run("local"), 5_000);
      expect(await commandRows()).toHaveLength(2);
    });

    it("a host's error report crosses replicas as the same error a local request gives", async () => {
      const token = await a.hostToken(owner, "acme");
      await connect(b, token.token, {
        handlers: { runCommand: () => ({ error: "no such sandbox", code: "not_found" }) },
      });
      const outcome = await settled(a.server.ctx.hosts.request(token.id, run("x"), 5_000));
      expect(outcome.error).toMatchObject({
        name: "HostCommandError",
        hostCode: "not_found",
        message: "no such sandbox",
      });
      expect((await commandRows())[0]).toMatchObject({ state: "failed", error_code: "host:not_found" });
    });

    it("the requester's deadline gives one outcome, and a reply after it changes nothing", async () => {
      const token = await a.hostToken(owner, "acme");
      let replied = false;
      await connect(b, token.token, {
        handlers: {
          runCommand: async (m) => {
            await new Promise((r) => setTimeout(r, 1_200));
            replied = true;
            return { case: "commandResult", value: { sandboxId: m.requestId, stdout: "late", exitCode: 0 } };
          },
        },
      });
      const started = Date.now();
      const outcome = await settled(a.server.ctx.hosts.request(token.id, run("slow"), 400));
      expect(outcome.error).toBeInstanceOf(CommandTimeoutError);
      expect(Date.now() - started).toBeLessThan(1_500);
      await until(() => replied);
      await new Promise((r) => setTimeout(r, 300));
      const rows = await commandRows();
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ state: "failed", error_code: "timeout", reply: null });
    });

    it("progress reported on the owner's stream moves the deadline on the requester's side too", async () => {
      const token = await a.hostToken(owner, "acme");
      const daemon = await connect(b, token.token, { handlers: { runCommand: () => "hold" } });
      const started = Date.now();
      const outcome = settled(a.server.ctx.hosts.request(token.id, run("long pull"), 700));
      const command = await daemon.waitFor((m) => m.payload.case === "runCommand");
      while (Date.now() - started < 2_000) {
        daemon.send({
          requestId: command.requestId,
          payload: { case: "sandboxProgress", value: { sandboxId: "sb-1", phase: "copy", bytesDone: 1n } },
        });
        await new Promise((r) => setTimeout(r, 250));
      }
      daemon.reply(command.requestId, {
        case: "commandResult",
        value: { sandboxId: "sb-1", stdout: "done", exitCode: 0 },
      });
      const { value, error } = await outcome;
      expect(error).toBeUndefined();
      expect(value?.payload.case === "commandResult" && value.payload.value.stdout).toBe("done");
      expect(Date.now() - started).toBeGreaterThan(2_000);

      // Once the reports stop, the deadline runs out as before.
      const stalled = await settled(a.server.ctx.hosts.request(token.id, run("stalls"), 500));
      expect(stalled.error).toBeInstanceOf(CommandTimeoutError);
    });

    it("a dropped LISTEN connection reconnects, and commands keep flowing meanwhile", async () => {
      const token = await a.hostToken(owner, "acme");
      await connect(b, token.token);
      const listeners = sql<{ application_name: string }>`
        SELECT application_name FROM pg_stat_activity
        WHERE datname = current_database() AND application_name LIKE 'fluid-listen:%' ORDER BY 1`;
      expect((await listeners.execute(database.db)).rows.map((r) => r.application_name)).toEqual([
        "fluid-listen:a",
        "fluid-listen:b",
      ]);
      await sql`SELECT pg_terminate_backend(pid) FROM pg_stat_activity
        WHERE datname = current_database() AND application_name LIKE 'fluid-listen:%'`.execute(database.db);
      const during = await a.server.ctx.hosts.request(token.id, run("during"), 5_000);
      expect(during.payload.case).toBe("commandResult");
      await until(async () => (await listeners.execute(database.db)).rows.length === 2);
      const started = Date.now();
      await a.server.ctx.hosts.request(token.id, run("after"), 5_000);
      expect(Date.now() - started).toBeLessThan(500);
    });

    it("a reconnect to another replica takes the lease over and closes the stale stream as replaced", async () => {
      const token = await a.hostToken(owner, "acme");
      const first = await connect(a, token.token);
      const second = await connect(b, token.token);
      const ended = await Promise.race([first.ended, new Promise((r) => setTimeout(() => r("still open"), 6_000))]);
      expect(ended).toMatchObject({ code: Code.Aborted });
      const lease = await database.db.selectFrom("host_leases").selectAll().executeTakeFirst();
      expect(lease).toMatchObject({ replica_id: "b", epoch: "2" });
      await until(() => a.server.ctx.hosts.local.get(token.id) === undefined);
      const reply = await a.server.ctx.hosts.request(token.id, run("moved"), 5_000);
      expect(reply.payload.case).toBe("commandResult");
      expect(second.commands("runCommand")).toHaveLength(1);
      expect(first.commands("runCommand")).toHaveLength(0);
      // The stale stream's cleanup left the host ONLINE under its new stream.
      const host = await database.db.selectFrom("hosts").select("status").where("id", "=", token.id).executeTakeFirst();
      expect(host?.status).toBe("ONLINE");
    });

    it("a host whose replica stopped answering fails at once with host_unavailable, in flight or new", async () => {
      const token = await a.hostToken(owner, "acme");
      await connect(b, token.token, { handlers: { runCommand: () => "hold" } });
      const inFlight = settled(a.server.ctx.hosts.request(token.id, run("held"), 60_000));
      await until(async () => (await commandRows())[0]?.state === "sent");
      // B goes silent as a crashed process would (its row no longer counts as live).
      await sql`UPDATE replicas SET stopped_at = now() WHERE id = 'b'`.execute(database.db);
      const started = Date.now();
      const fresh = await settled(a.server.ctx.hosts.request(token.id, run("new"), 60_000));
      expect(Date.now() - started).toBeLessThan(500);
      expect(fresh.error).toBeInstanceOf(AppError);
      expect(fresh.error).toMatchObject({ code: "host_unavailable", message: expect.stringContaining("replica b") });
      const held = await inFlight;
      expect(Date.now() - started).toBeLessThan(3_000);
      expect(held.error).toMatchObject({ code: "host_unavailable" });
      expect(await a.server.ctx.hosts.isConnected(token.id)).toBe(false);
      const created = await a.call("POST", "/v1/orgs/acme/sandboxes", { as: owner, body: { source_vm: "tiny" } });
      expect(created.status).toBe(503);
    });

    it("a sent command whose stream no longer holds the host's lease fails at the next sweep and is never sent again", async () => {
      const token = await a.hostToken(owner, "acme");
      const held = await connect(b, token.token, { handlers: { runCommand: () => "hold" } });
      const inFlight = settled(a.server.ctx.hosts.request(token.id, run("held"), 60_000));
      await until(async () => (await commandRows())[0]?.state === "sent");
      expect((await commandRows())[0]).toMatchObject({ claimed_by: "b", claimed_epoch: "1" });
      // As if it had gone out on an earlier stream of this host, one that died with a crashed replica.
      await sql`UPDATE host_commands SET claimed_epoch = claimed_epoch - 1`.execute(database.db);
      const started = Date.now();
      const outcome = await inFlight;
      expect(Date.now() - started).toBeLessThan(3_000);
      expect(outcome.error).toMatchObject({
        code: "host_unavailable",
        message: expect.stringContaining("may have run"),
      });
      expect((await commandRows())[0]?.state).toBe("failed");
      expect(held.commands("runCommand")).toHaveLength(1);
    });

    it("revoking a host's token through A closes its stream on B at once, not at its next heartbeat", async () => {
      const token = await a.hostToken(owner, "acme");
      const daemon = await connect(b, token.token, { keepAlive: false });
      const started = Date.now();
      const revoked = await a.call("DELETE", `/v1/orgs/acme/hosts/tokens/${token.id}`, { as: owner });
      expect(revoked.status).toBe(200);
      const ended = await Promise.race([daemon.ended, new Promise((r) => setTimeout(() => r("still open"), 5_000))]);
      expect(ended).toMatchObject({ code: Code.Unauthenticated });
      expect(Date.now() - started).toBeLessThan(2_000);
    });

    it("deleting an org through A closes its hosts' streams on B at once", async () => {
      const token = await a.hostToken(owner, "acme");
      const daemon = await connect(b, token.token, { keepAlive: false });
      expect((await a.call("DELETE", "/v1/orgs/acme", { as: owner })).status).toBe(200);
      const ended = await Promise.race([daemon.ended, new Promise((r) => setTimeout(() => r("still open"), 5_000))]);
      expect(ended).not.toBe("still open");
      expect(b.server.ctx.hosts.local.get(token.id)).toBeUndefined();
    });

    it("after the owner stops cleanly its hosts are simply not connected", async () => {
      const token = await a.hostToken(owner, "acme");
      await connect(b, token.token);
      await b.close();
      expect(await database.db.selectFrom("host_leases").selectAll().execute()).toEqual([]);
      const outcome = await settled(a.server.ctx.hosts.request(token.id, run("x"), 5_000));
      expect(outcome.error).toMatchObject({ code: "host_unavailable", message: "the sandbox's host is not connected" });
    });
  },
);

describe("one replica on PGlite", () => {
  let t: TestServer;
  afterEach(() => t.close());

  it("keeps no replica rows, leases or command rows: hosts are reached from memory only", async () => {
    t = await startTestServer("pglite");
    const owner = await t.user("owner@example.com");
    await t.org(owner, "acme");
    const token = await t.hostToken(owner, "acme");
    const daemon = await TestDaemon.connect(t.grpcUrl, { token: token.token });
    try {
      await t.server.ctx.hosts.request(token.id, run("x"), 5_000);
      for (const table of ["replicas", "host_leases", "host_commands"] as const) {
        expect(await t.server.ctx.db.selectFrom(table).selectAll().execute()).toEqual([]);
      }
      const unknown = await settled(
        t.server.ctx.hosts.request("00000000-0000-7000-8000-000000000000", run("x"), 1_000),
      );
      expect(unknown.error).toMatchObject({ code: "host_unavailable" });
    } finally {
      daemon.abort();
    }
  });
});
