import { readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { vmPaths } from "../vm/qemu.js";
import { teardown } from "./boot.js";
import type { SandboxContext } from "./context.js";
import { guestPoweredOff } from "./guest-exit.js";
import { destroy } from "./lifecycle.js";

export interface Recovered {
  adopted: string[];
  rolledBack: string[];
  crashed: string[];
  orphansRemoved: string[];
}

/** Destroys sandboxes whose lease has passed and reports each to the control plane. */
export async function reapExpired(ctx: SandboxContext, now: number): Promise<string[]> {
  const reaped: string[] = [];
  for (const { id, state } of await ctx.store.expired(now)) {
    try {
      await destroy(ctx, id, "lease_expired");
      reaped.push(id);
      ctx.options.onEvent?.({ sandboxId: id, previousState: state, newState: "DESTROYED", reason: "lease_expired" });
    } catch (err) {
      ctx.options.log.error({ err, sandboxId: id }, "could not reap an expired sandbox");
    }
  }
  return reaped;
}

/**
 * Notices VMs that ended on their own: a guest that powered itself off is STOPPED (it can be
 * started again, like a machine shut down from inside), anything else (QEMU crash, guest panic) ERROR.
 */
export async function detectCrashes(ctx: SandboxContext): Promise<string[]> {
  const { store, options } = ctx;
  const crashed: string[] = [];
  for (const row of await store.runningVms()) {
    if (ctx.locks.has(row.id) || (row.pid && (await ctx.vm.isOurs(row.pid, row.dir)))) continue;
    ctx.agents.drop(row.id);
    if (await guestPoweredOff(vmPaths(row.dir).serial)) {
      await store.update(row.id, { state: "STOPPED", pid: null });
      options.onEvent?.({
        sandboxId: row.id,
        previousState: "RUNNING",
        newState: "STOPPED",
        reason: "the guest shut itself down",
      });
      continue;
    }
    await store.update(row.id, { state: "ERROR", pid: null, error: "the VM exited unexpectedly (see serial.log)" });
    crashed.push(row.id);
    options.onEvent?.({
      sandboxId: row.id,
      previousState: "RUNNING",
      newState: "ERROR",
      reason: "the VM exited unexpectedly",
    });
  }
  return crashed;
}

/**
 * After a daemon restart: running VMs are re-adopted (pidfile + liveness), creations the old
 * process never finished are rolled back, and overlays, TAPs and processes nothing owns are removed.
 */
export async function recover(ctx: SandboxContext): Promise<Recovered> {
  const { store, options, vm } = ctx;
  const result: Recovered = { adopted: [], rolledBack: [], crashed: [], orphansRemoved: [] };
  for (const row of await store.unended()) {
    const pid = row.pid ?? (await vm.pidOf(row.dir));
    const alive = pid !== undefined && pid !== null && (await vm.isOurs(pid, row.dir));
    if (row.state === "CREATING") {
      await teardown(ctx, row.id).catch((err: unknown) =>
        options.log.error({ err, sandboxId: row.id }, "rollback failed"),
      );
      await store.update(row.id, {
        state: "ERROR",
        pid: null,
        ended_at: Date.now(),
        end_reason: "create_failed",
        error: "the daemon stopped while creating this sandbox",
      });
      result.rolledBack.push(row.id);
    } else if (row.state === "RUNNING" && alive) {
      if (pid !== row.pid) await store.update(row.id, { pid });
      result.adopted.push(row.id);
    } else if (row.state === "RUNNING") {
      await store.update(row.id, { state: "ERROR", pid: null, error: "the VM was gone when the daemon restarted" });
      result.crashed.push(row.id);
    }
  }
  const liveRows = await store.list();
  const live = new Set(liveRows.map((row) => row.id));
  // A claimed warm pool entry keeps the directory named after its pool id.
  const liveDirs = new Set(liveRows.map((row) => row.dir));
  const sandboxesDir = join(options.stateDir, "sandboxes");
  for (const entry of await readdir(sandboxesDir).catch(() => [] as string[])) {
    const dir = join(sandboxesDir, entry);
    if (liveDirs.has(dir)) continue;
    const orphanPid = await vm.pidOf(dir);
    if (orphanPid) await vm.kill(orphanPid, dir);
    await rm(dir, { recursive: true, force: true });
    result.orphansRemoved.push(entry);
  }
  await options.network.cleanupOrphans(live);
  return result;
}
