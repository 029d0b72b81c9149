import { describe, expect, it } from "vitest";
import { HostCommandError } from "../stream/errors.js";
import { capturedAt, createSandbox, destroySandbox, extendSandbox, startSandbox, stopSandbox } from "./lifecycle.js";
import {
  auditActions,
  type Payload,
  rejection,
  sandboxDeps,
  seedMember,
  seedOrg,
  seedSandbox,
  useSandboxUnit,
} from "./sandbox-deps.fixtures.js";
import { endSandbox, getSandbox } from "./store.js";

const booted = { state: "RUNNING", ipAddress: "10.0.0.7", macAddress: "52:54:00:00:00:07", bridge: "br0", pid: 42 };

describe("sandbox lifecycle", () => {
  const unit = useSandboxUnit("life", { maxTtlMs: 3_600_000 });

  const noTracking = () => undefined;
  const settle = () => new Promise((resolve) => setTimeout(resolve, 10));

  describe("create", () => {
    it("records what the host booted once the host answers, when the caller waits", async () => {
      unit.hosts.answer = () => ({
        case: "sandboxCreated",
        value: { ...booted, sourceCapturedAt: "2026-01-02T03:04:05Z" },
      });
      const row = await createSandbox(unit.deps, noTracking, unit.scope, { sourceVm: "img" }, { wait: true });
      expect(row).toMatchObject({ state: "RUNNING", ip_address: "10.0.0.7", bridge: "br0", pid: 42 });
      expect(row.source_captured_at?.toISOString()).toBe("2026-01-02T03:04:05.000Z");
      expect(unit.hosts.commands("createSandbox")[0]).toMatchObject({ sandboxId: row.id, sourceVm: "img" });
    });

    it("returns the CREATING row at once without wait, and hands the host work to track", async () => {
      let release: () => void = () => undefined;
      unit.hosts.answer = () =>
        new Promise((resolve) => {
          release = () => resolve({ case: "sandboxCreated", value: booted });
        });
      const tracked: Promise<unknown>[] = [];
      const row = await createSandbox(
        unit.deps,
        (work) => tracked.push(work),
        unit.scope,
        { sourceVm: "img" },
        { wait: false },
      );
      expect(row.state).toBe("CREATING");
      expect(tracked).toHaveLength(1);
      release();
      await tracked[0];
      expect((await getSandbox(unit.deps.db, unit.scope, row.id)).state).toBe("RUNNING");
    });

    it("refuses a TTL past the server's maximum with invalid_request before reserving anything", async () => {
      const err = await rejection(
        createSandbox(unit.deps, noTracking, unit.scope, { sourceVm: "img", ttlSeconds: 7200 }, { wait: true }),
      );
      expect(err.code).toBe("invalid_request");
      expect(unit.hosts.sent).toEqual([]);
    });

    it("ends the row as create_failed with the host's error when the host cannot create it", async () => {
      unit.hosts.answer = () => new HostCommandError("host_error", "disk full");
      const err = await rejection(
        createSandbox(unit.deps, noTracking, unit.scope, { sourceVm: "img" }, { wait: true }),
      );
      expect(err.code).toBe("host_error");
      const [row] = await unit.deps.db
        .selectFrom("sandboxes")
        .selectAll()
        .where("org_id", "=", unit.scope.orgId)
        .execute();
      expect(row).toMatchObject({ state: "ERROR", end_reason: "create_failed" });
      expect(row?.error).toContain("disk full");
    });

    it("destroys the VM as orphaned when the sandbox was destroyed while the host created it", async () => {
      unit.hosts.answer = async (command) => {
        if (command.case === "createSandbox") {
          await destroySandbox(unit.deps, unit.scope, command.value.sandboxId);
          return { case: "sandboxCreated", value: booted };
        }
        return { case: "sandboxDestroyed", value: {} };
      };
      const err = await rejection(
        createSandbox(unit.deps, noTracking, unit.scope, { sourceVm: "img" }, { wait: true }),
      );
      await settle();
      expect(err.code).toBe("conflict");
      expect(unit.hosts.commands("destroySandbox").map((c) => c.reason)).toContain("orphaned");
    });

    it("logs an ORPHANED VM loudly when the compensating destroy fails too", async () => {
      unit.hosts.answer = async (command) => {
        if (command.case === "createSandbox") {
          await unit.deps.db
            .updateTable("sandboxes")
            .set({ state: "ERROR" })
            .where("id", "=", command.value.sandboxId)
            .execute();
          return { case: "sandboxCreated", value: booted };
        }
        return new HostCommandError("host_error", "stuck");
      };
      await rejection(createSandbox(unit.deps, noTracking, unit.scope, { sourceVm: "img" }, { wait: true }));
      expect(unit.deps.logged.some((l) => l.level === "error" && l.message.startsWith("ORPHANED VM"))).toBe(true);
    });
  });

  describe("destroy", () => {
    it("destroys a running sandbox on its host, then ends it as DESTROYED by user_request", async () => {
      unit.hosts.answer = () => ({ case: "sandboxDestroyed", value: {} });
      const sandbox = await seedSandbox(unit.deps, unit.scope, unit.hostId, "RUNNING");
      const row = await destroySandbox(unit.deps, unit.scope, sandbox.id);
      expect(row).toMatchObject({ state: "DESTROYED", end_reason: "user_request" });
      expect(unit.hosts.commands("destroySandbox")).toMatchObject([{ sandboxId: sandbox.id, reason: "user_request" }]);
      expect(await auditActions(unit.database, sandbox.id)).toEqual(["sandbox.created", "sandbox.destroyed"]);
    });

    it("ends the record even when the host is away: reconciliation removes the VM later", async () => {
      const sandbox = await seedSandbox(unit.deps, unit.scope, unit.hostId, "RUNNING");
      unit.hosts.connected.clear();
      expect((await destroySandbox(unit.deps, unit.scope, sandbox.id)).state).toBe("DESTROYED");
      expect(unit.hosts.commands("destroySandbox")).toHaveLength(1);
    });

    it("ends the record when the host no longer knows the VM", async () => {
      unit.hosts.answer = () => new HostCommandError("not_found", "gone");
      const sandbox = await seedSandbox(unit.deps, unit.scope, unit.hostId, "RUNNING");
      expect((await destroySandbox(unit.deps, unit.scope, sandbox.id)).state).toBe("DESTROYED");
    });

    it("returns an ended sandbox as it is, sending nothing to its host", async () => {
      unit.hosts.answer = () => ({ case: "sandboxDestroyed", value: {} });
      const sandbox = await seedSandbox(unit.deps, unit.scope, unit.hostId, "RUNNING");
      await destroySandbox(unit.deps, unit.scope, sandbox.id);
      const again = await destroySandbox(unit.deps, unit.scope, sandbox.id);
      expect(again.end_reason).toBe("user_request");
      expect(unit.hosts.commands("destroySandbox")).toHaveLength(1);
    });

    it("ends a CREATING sandbox first and asks its host to destroy it in the background", async () => {
      unit.hosts.answer = () => ({ case: "sandboxDestroyed", value: {} });
      const sandbox = await seedSandbox(unit.deps, unit.scope, unit.hostId, "CREATING");
      expect((await destroySandbox(unit.deps, unit.scope, sandbox.id)).state).toBe("DESTROYED");
      await settle();
      expect(unit.hosts.commands("destroySandbox")).toMatchObject([{ sandboxId: sandbox.id }]);
    });

    it("forbids a viewer, and a member destroying someone else's sandbox", async () => {
      const sandbox = await seedSandbox(unit.deps, unit.scope, unit.hostId, "RUNNING");
      const viewer = await seedMember(unit.database, unit.scope, "viewer");
      const member = await seedMember(unit.database, unit.scope, "member");
      expect((await rejection(destroySandbox(unit.deps, viewer, sandbox.id))).code).toBe("forbidden");
      expect((await rejection(destroySandbox(unit.deps, member, sandbox.id))).code).toBe("forbidden");
      expect(unit.hosts.sent).toEqual([]);
    });

    it("answers not_found for another org's sandbox id", async () => {
      const sandbox = await seedSandbox(unit.deps, unit.scope, unit.hostId, "RUNNING");
      const other = await seedOrg(unit.database, `${unit.scope.slug}-other`);
      expect((await rejection(destroySandbox(unit.deps, other, sandbox.id))).code).toBe("not_found");
      expect(unit.hosts.sent).toEqual([]);
    });
  });

  describe("start and stop", () => {
    it("stops a RUNNING sandbox on its host and records STOPPED with an audit event", async () => {
      unit.hosts.answer = () => ({ case: "sandboxStopped", value: {} });
      const sandbox = await seedSandbox(unit.deps, unit.scope, unit.hostId, "RUNNING");
      expect((await stopSandbox(unit.deps, unit.scope, sandbox.id, true)).state).toBe("STOPPED");
      expect(unit.hosts.commands("stopSandbox")).toMatchObject([{ sandboxId: sandbox.id, force: true }]);
      expect(await auditActions(unit.database, sandbox.id)).toEqual(["sandbox.created", "sandbox.stopped"]);
    });

    it("starts a STOPPED sandbox and records RUNNING with the address the host reports", async () => {
      unit.hosts.answer = () => ({ case: "sandboxStarted", value: { ipAddress: "10.0.0.9" } });
      const sandbox = await seedSandbox(unit.deps, unit.scope, unit.hostId, "STOPPED");
      expect(await startSandbox(unit.deps, unit.scope, sandbox.id)).toMatchObject({
        state: "RUNNING",
        ip_address: "10.0.0.9",
      });
    });

    it("refuses to start a RUNNING or stop a STOPPED sandbox with invalid_state, asking no host", async () => {
      const running = await seedSandbox(unit.deps, unit.scope, unit.hostId, "RUNNING");
      const stopped = await seedSandbox(unit.deps, unit.scope, unit.hostId, "STOPPED");
      expect((await rejection(startSandbox(unit.deps, unit.scope, running.id))).code).toBe("invalid_state");
      expect((await rejection(stopSandbox(unit.deps, unit.scope, stopped.id, false))).code).toBe("invalid_state");
      expect(unit.hosts.sent).toEqual([]);
    });

    it("refuses to act on an ended sandbox with invalid_state naming its end", async () => {
      unit.hosts.answer = () => ({ case: "sandboxDestroyed", value: {} });
      const sandbox = await seedSandbox(unit.deps, unit.scope, unit.hostId, "RUNNING");
      await destroySandbox(unit.deps, unit.scope, sandbox.id);
      const err = await rejection(stopSandbox(unit.deps, unit.scope, sandbox.id, false));
      expect(err.code).toBe("invalid_state");
      expect(err.message).toContain("user_request");
    });

    it("answers conflict when the row moved while the host was working", async () => {
      const sandbox = await seedSandbox(unit.deps, unit.scope, unit.hostId, "RUNNING");
      unit.hosts.answer = async () => {
        await unit.deps.db.updateTable("sandboxes").set({ state: "ERROR" }).where("id", "=", sandbox.id).execute();
        return { case: "sandboxStopped", value: {} };
      };
      const err = await rejection(stopSandbox(unit.deps, unit.scope, sandbox.id, false));
      expect(err.code).toBe("conflict");
      expect(err.message).toContain("ERROR");
    });

    it("refuses a start past the org's vCPU quota with quota_exceeded before asking the host", async () => {
      const limited = sandboxDeps(unit.database, unit.hosts, {
        quotas: { sandboxes: null, vcpus: 1, memoryMb: null, snapshotBytes: null },
      });
      await seedSandbox(limited, unit.scope, unit.hostId, "RUNNING");
      const stopped = await seedSandbox(limited, unit.scope, unit.hostId, "STOPPED");
      expect((await rejection(startSandbox(limited, unit.scope, stopped.id))).code).toBe("quota_exceeded");
      expect(unit.hosts.sent).toEqual([]);
    });

    it("stops again a sandbox another create outran to the quota while its host was starting it", async () => {
      const limited = sandboxDeps(unit.database, unit.hosts, {
        quotas: { sandboxes: null, vcpus: 1, memoryMb: null, snapshotBytes: null },
      });
      const stopped = await seedSandbox(limited, unit.scope, unit.hostId, "STOPPED");
      unit.hosts.answer = async (command): Promise<Payload> => {
        if (command.case === "startSandbox") {
          await seedSandbox(limited, unit.scope, unit.hostId, "RUNNING");
          return { case: "sandboxStarted", value: { ipAddress: "10.0.0.9" } };
        }
        return { case: "sandboxStopped", value: {} };
      };
      expect((await rejection(startSandbox(limited, unit.scope, stopped.id))).code).toBe("quota_exceeded");
      expect(unit.hosts.commands("stopSandbox")).toMatchObject([{ sandboxId: stopped.id, force: true }]);
      expect((await getSandbox(unit.deps.db, unit.scope, stopped.id)).state).toBe("STOPPED");
    });
  });

  describe("extend", () => {
    it("tells the host the new lease end first, then records it with an audit event", async () => {
      unit.hosts.answer = () => ({ case: "sandboxExtended", value: {} });
      const sandbox = await seedSandbox(unit.deps, unit.scope, unit.hostId, "RUNNING");
      const before = Date.now();
      const row = await extendSandbox(unit.deps, unit.scope, sandbox.id, 600);
      expect(row.expires_at.getTime()).toBeGreaterThanOrEqual(before + 599_000);
      expect(unit.hosts.commands("extendSandbox")[0]?.expiresAtUnix).toBe(
        BigInt(Math.floor(row.expires_at.getTime() / 1000)),
      );
      expect(await auditActions(unit.database, sandbox.id)).toEqual(["sandbox.created", "sandbox.extended"]);
    });

    it("extends a CREATING sandbox in the database only: its host learns the lease on create", async () => {
      const sandbox = await seedSandbox(unit.deps, unit.scope, unit.hostId, "CREATING");
      await extendSandbox(unit.deps, unit.scope, sandbox.id, 600);
      expect(unit.hosts.sent).toEqual([]);
    });

    it("refuses a TTL past the maximum with invalid_request", async () => {
      const sandbox = await seedSandbox(unit.deps, unit.scope, unit.hostId, "RUNNING");
      expect((await rejection(extendSandbox(unit.deps, unit.scope, sandbox.id, 7200))).code).toBe("invalid_request");
    });

    it("answers invalid_state when the sandbox ended while the host moved its lease", async () => {
      const sandbox = await seedSandbox(unit.deps, unit.scope, unit.hostId, "RUNNING");
      unit.hosts.answer = async () => {
        await endSandbox(unit.deps.db, sandbox.id, "lease_expired", "DESTROYED");
        return { case: "sandboxExtended", value: {} };
      };
      expect((await rejection(extendSandbox(unit.deps, unit.scope, sandbox.id, 600))).code).toBe("invalid_state");
    });
  });

  it("capturedAt reads an RFC 3339 time and takes an empty or unreadable one as none", () => {
    expect(capturedAt("2026-01-02T03:04:05Z")?.toISOString()).toBe("2026-01-02T03:04:05.000Z");
    expect(capturedAt("")).toBeNull();
    expect(capturedAt("yesterday")).toBeNull();
  });
});
