import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Database } from "../db/database.js";
import type { OrgScope } from "../orgs/access.js";
import { HostCommandError } from "../stream/errors.js";
import { capturedAt, createSandbox, destroySandbox, extendSandbox, startSandbox, stopSandbox } from "./lifecycle.js";
import {
  auditActions,
  openUnitDatabase,
  type Payload,
  rejection,
  ScriptedHosts,
  sandboxDeps,
  seedHost,
  seedMember,
  seedOrg,
  seedSandbox,
} from "./sandbox-deps.fixtures.js";
import { endSandbox, getSandbox } from "./store.js";

const booted = { state: "RUNNING", ipAddress: "10.0.0.7", macAddress: "52:54:00:00:00:07", bridge: "br0", pid: 42 };

describe("sandbox lifecycle", () => {
  let database: Database;
  let hosts: ScriptedHosts;
  let deps: ReturnType<typeof sandboxDeps>;
  let scope: OrgScope;
  let hostId: string;
  let orgs = 0;

  beforeAll(async () => {
    database = await openUnitDatabase();
  });

  afterAll(async () => {
    await database?.close();
  });

  beforeEach(async () => {
    hosts = new ScriptedHosts();
    deps = sandboxDeps(database, hosts, { maxTtlMs: 3_600_000 });
    scope = await seedOrg(database, `life-${++orgs}`);
    hostId = await seedHost(database, hosts, scope);
  });

  const noTracking = () => undefined;
  const settle = () => new Promise((resolve) => setTimeout(resolve, 10));

  describe("create", () => {
    it("records what the host booted once the host answers, when the caller waits", async () => {
      hosts.answer = () => ({ case: "sandboxCreated", value: { ...booted, sourceCapturedAt: "2026-01-02T03:04:05Z" } });
      const row = await createSandbox(deps, noTracking, scope, { sourceVm: "img" }, { wait: true });
      expect(row).toMatchObject({ state: "RUNNING", ip_address: "10.0.0.7", bridge: "br0", pid: 42 });
      expect(row.source_captured_at?.toISOString()).toBe("2026-01-02T03:04:05.000Z");
      expect(hosts.commands("createSandbox")[0]).toMatchObject({ sandboxId: row.id, sourceVm: "img" });
    });

    it("returns the CREATING row at once without wait, and hands the host work to track", async () => {
      let release: () => void = () => undefined;
      hosts.answer = () =>
        new Promise((resolve) => {
          release = () => resolve({ case: "sandboxCreated", value: booted });
        });
      const tracked: Promise<unknown>[] = [];
      const row = await createSandbox(deps, (work) => tracked.push(work), scope, { sourceVm: "img" }, { wait: false });
      expect(row.state).toBe("CREATING");
      expect(tracked).toHaveLength(1);
      release();
      await tracked[0];
      expect((await getSandbox(deps.db, scope, row.id)).state).toBe("RUNNING");
    });

    it("refuses a TTL past the server's maximum with invalid_request before reserving anything", async () => {
      const err = await rejection(
        createSandbox(deps, noTracking, scope, { sourceVm: "img", ttlSeconds: 7200 }, { wait: true }),
      );
      expect(err.code).toBe("invalid_request");
      expect(hosts.sent).toEqual([]);
    });

    it("ends the row as create_failed with the host's error when the host cannot create it", async () => {
      hosts.answer = () => new HostCommandError("host_error", "disk full");
      const err = await rejection(createSandbox(deps, noTracking, scope, { sourceVm: "img" }, { wait: true }));
      expect(err.code).toBe("host_error");
      const [row] = await deps.db.selectFrom("sandboxes").selectAll().where("org_id", "=", scope.orgId).execute();
      expect(row).toMatchObject({ state: "ERROR", end_reason: "create_failed" });
      expect(row?.error).toContain("disk full");
    });

    it("destroys the VM as orphaned when the sandbox was destroyed while the host created it", async () => {
      hosts.answer = async (command) => {
        if (command.case === "createSandbox") {
          await destroySandbox(deps, scope, command.value.sandboxId);
          return { case: "sandboxCreated", value: booted };
        }
        return { case: "sandboxDestroyed", value: {} };
      };
      const err = await rejection(createSandbox(deps, noTracking, scope, { sourceVm: "img" }, { wait: true }));
      await settle();
      expect(err.code).toBe("conflict");
      expect(hosts.commands("destroySandbox").map((c) => c.reason)).toContain("orphaned");
    });

    it("logs an ORPHANED VM loudly when the compensating destroy fails too", async () => {
      hosts.answer = async (command) => {
        if (command.case === "createSandbox") {
          await deps.db
            .updateTable("sandboxes")
            .set({ state: "ERROR" })
            .where("id", "=", command.value.sandboxId)
            .execute();
          return { case: "sandboxCreated", value: booted };
        }
        return new HostCommandError("host_error", "stuck");
      };
      await rejection(createSandbox(deps, noTracking, scope, { sourceVm: "img" }, { wait: true }));
      expect(deps.logged.some((l) => l.level === "error" && l.message.startsWith("ORPHANED VM"))).toBe(true);
    });
  });

  describe("destroy", () => {
    it("destroys a running sandbox on its host, then ends it as DESTROYED by user_request", async () => {
      hosts.answer = () => ({ case: "sandboxDestroyed", value: {} });
      const sandbox = await seedSandbox(deps, scope, hostId, "RUNNING");
      const row = await destroySandbox(deps, scope, sandbox.id);
      expect(row).toMatchObject({ state: "DESTROYED", end_reason: "user_request" });
      expect(hosts.commands("destroySandbox")).toMatchObject([{ sandboxId: sandbox.id, reason: "user_request" }]);
      expect(await auditActions(database, sandbox.id)).toEqual(["sandbox.created", "sandbox.destroyed"]);
    });

    it("ends the record even when the host is away: reconciliation removes the VM later", async () => {
      const sandbox = await seedSandbox(deps, scope, hostId, "RUNNING");
      hosts.connected.clear();
      expect((await destroySandbox(deps, scope, sandbox.id)).state).toBe("DESTROYED");
      expect(hosts.commands("destroySandbox")).toHaveLength(1);
    });

    it("ends the record when the host no longer knows the VM", async () => {
      hosts.answer = () => new HostCommandError("not_found", "gone");
      const sandbox = await seedSandbox(deps, scope, hostId, "RUNNING");
      expect((await destroySandbox(deps, scope, sandbox.id)).state).toBe("DESTROYED");
    });

    it("returns an ended sandbox as it is, sending nothing to its host", async () => {
      hosts.answer = () => ({ case: "sandboxDestroyed", value: {} });
      const sandbox = await seedSandbox(deps, scope, hostId, "RUNNING");
      await destroySandbox(deps, scope, sandbox.id);
      const again = await destroySandbox(deps, scope, sandbox.id);
      expect(again.end_reason).toBe("user_request");
      expect(hosts.commands("destroySandbox")).toHaveLength(1);
    });

    it("ends a CREATING sandbox first and asks its host to destroy it in the background", async () => {
      hosts.answer = () => ({ case: "sandboxDestroyed", value: {} });
      const sandbox = await seedSandbox(deps, scope, hostId, "CREATING");
      expect((await destroySandbox(deps, scope, sandbox.id)).state).toBe("DESTROYED");
      await settle();
      expect(hosts.commands("destroySandbox")).toMatchObject([{ sandboxId: sandbox.id }]);
    });

    it("forbids a viewer, and a member destroying someone else's sandbox", async () => {
      const sandbox = await seedSandbox(deps, scope, hostId, "RUNNING");
      const viewer = await seedMember(database, scope, "viewer");
      const member = await seedMember(database, scope, "member");
      expect((await rejection(destroySandbox(deps, viewer, sandbox.id))).code).toBe("forbidden");
      expect((await rejection(destroySandbox(deps, member, sandbox.id))).code).toBe("forbidden");
      expect(hosts.sent).toEqual([]);
    });

    it("answers not_found for another org's sandbox id", async () => {
      const sandbox = await seedSandbox(deps, scope, hostId, "RUNNING");
      const other = await seedOrg(database, `life-other-${orgs}`);
      expect((await rejection(destroySandbox(deps, other, sandbox.id))).code).toBe("not_found");
      expect(hosts.sent).toEqual([]);
    });
  });

  describe("start and stop", () => {
    it("stops a RUNNING sandbox on its host and records STOPPED with an audit event", async () => {
      hosts.answer = () => ({ case: "sandboxStopped", value: {} });
      const sandbox = await seedSandbox(deps, scope, hostId, "RUNNING");
      expect((await stopSandbox(deps, scope, sandbox.id, true)).state).toBe("STOPPED");
      expect(hosts.commands("stopSandbox")).toMatchObject([{ sandboxId: sandbox.id, force: true }]);
      expect(await auditActions(database, sandbox.id)).toEqual(["sandbox.created", "sandbox.stopped"]);
    });

    it("starts a STOPPED sandbox and records RUNNING with the address the host reports", async () => {
      hosts.answer = () => ({ case: "sandboxStarted", value: { ipAddress: "10.0.0.9" } });
      const sandbox = await seedSandbox(deps, scope, hostId, "STOPPED");
      expect(await startSandbox(deps, scope, sandbox.id)).toMatchObject({ state: "RUNNING", ip_address: "10.0.0.9" });
    });

    it("refuses to start a RUNNING or stop a STOPPED sandbox with invalid_state, asking no host", async () => {
      const running = await seedSandbox(deps, scope, hostId, "RUNNING");
      const stopped = await seedSandbox(deps, scope, hostId, "STOPPED");
      expect((await rejection(startSandbox(deps, scope, running.id))).code).toBe("invalid_state");
      expect((await rejection(stopSandbox(deps, scope, stopped.id, false))).code).toBe("invalid_state");
      expect(hosts.sent).toEqual([]);
    });

    it("refuses to act on an ended sandbox with invalid_state naming its end", async () => {
      hosts.answer = () => ({ case: "sandboxDestroyed", value: {} });
      const sandbox = await seedSandbox(deps, scope, hostId, "RUNNING");
      await destroySandbox(deps, scope, sandbox.id);
      const err = await rejection(stopSandbox(deps, scope, sandbox.id, false));
      expect(err.code).toBe("invalid_state");
      expect(err.message).toContain("user_request");
    });

    it("answers conflict when the row moved while the host was working", async () => {
      const sandbox = await seedSandbox(deps, scope, hostId, "RUNNING");
      hosts.answer = async () => {
        await deps.db.updateTable("sandboxes").set({ state: "ERROR" }).where("id", "=", sandbox.id).execute();
        return { case: "sandboxStopped", value: {} };
      };
      const err = await rejection(stopSandbox(deps, scope, sandbox.id, false));
      expect(err.code).toBe("conflict");
      expect(err.message).toContain("ERROR");
    });

    it("refuses a start past the org's vCPU quota with quota_exceeded before asking the host", async () => {
      const limited = sandboxDeps(database, hosts, {
        quotas: { sandboxes: null, vcpus: 1, memoryMb: null, snapshotBytes: null },
      });
      await seedSandbox(limited, scope, hostId, "RUNNING");
      const stopped = await seedSandbox(limited, scope, hostId, "STOPPED");
      expect((await rejection(startSandbox(limited, scope, stopped.id))).code).toBe("quota_exceeded");
      expect(hosts.sent).toEqual([]);
    });

    it("stops again a sandbox another create outran to the quota while its host was starting it", async () => {
      const limited = sandboxDeps(database, hosts, {
        quotas: { sandboxes: null, vcpus: 1, memoryMb: null, snapshotBytes: null },
      });
      const stopped = await seedSandbox(limited, scope, hostId, "STOPPED");
      hosts.answer = async (command): Promise<Payload> => {
        if (command.case === "startSandbox") {
          await seedSandbox(limited, scope, hostId, "RUNNING");
          return { case: "sandboxStarted", value: { ipAddress: "10.0.0.9" } };
        }
        return { case: "sandboxStopped", value: {} };
      };
      expect((await rejection(startSandbox(limited, scope, stopped.id))).code).toBe("quota_exceeded");
      expect(hosts.commands("stopSandbox")).toMatchObject([{ sandboxId: stopped.id, force: true }]);
      expect((await getSandbox(deps.db, scope, stopped.id)).state).toBe("STOPPED");
    });
  });

  describe("extend", () => {
    it("tells the host the new lease end first, then records it with an audit event", async () => {
      hosts.answer = () => ({ case: "sandboxExtended", value: {} });
      const sandbox = await seedSandbox(deps, scope, hostId, "RUNNING");
      const before = Date.now();
      const row = await extendSandbox(deps, scope, sandbox.id, 600);
      expect(row.expires_at.getTime()).toBeGreaterThanOrEqual(before + 599_000);
      expect(hosts.commands("extendSandbox")[0]?.expiresAtUnix).toBe(
        BigInt(Math.floor(row.expires_at.getTime() / 1000)),
      );
      expect(await auditActions(database, sandbox.id)).toEqual(["sandbox.created", "sandbox.extended"]);
    });

    it("extends a CREATING sandbox in the database only: its host learns the lease on create", async () => {
      const sandbox = await seedSandbox(deps, scope, hostId, "CREATING");
      await extendSandbox(deps, scope, sandbox.id, 600);
      expect(hosts.sent).toEqual([]);
    });

    it("refuses a TTL past the maximum with invalid_request", async () => {
      const sandbox = await seedSandbox(deps, scope, hostId, "RUNNING");
      expect((await rejection(extendSandbox(deps, scope, sandbox.id, 7200))).code).toBe("invalid_request");
    });

    it("answers invalid_state when the sandbox ended while the host moved its lease", async () => {
      const sandbox = await seedSandbox(deps, scope, hostId, "RUNNING");
      hosts.answer = async () => {
        await endSandbox(deps.db, sandbox.id, "lease_expired", "DESTROYED");
        return { case: "sandboxExtended", value: {} };
      };
      expect((await rejection(extendSandbox(deps, scope, sandbox.id, 600))).code).toBe("invalid_state");
    });
  });

  it("capturedAt reads an RFC 3339 time and takes an empty or unreadable one as none", () => {
    expect(capturedAt("2026-01-02T03:04:05Z")?.toISOString()).toBe("2026-01-02T03:04:05.000Z");
    expect(capturedAt("")).toBeNull();
    expect(capturedAt("yesterday")).toBeNull();
  });
});
