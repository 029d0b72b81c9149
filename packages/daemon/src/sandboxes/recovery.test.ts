import { existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { fakeSandboxHost } from "../testing/fake-sandbox-host.js";
import { detectCrashes, reapExpired, recover } from "./recovery.js";

describe("recovery", () => {
  let host: Awaited<ReturnType<typeof fakeSandboxHost>>;
  afterEach(() => host.close());

  it("after a restart adopts live VMs, rolls back unfinished creates and removes what nothing owns", async () => {
    host = await fakeSandboxHost();
    const alive = await host.insert({ id: "alive" });
    await host.insert({ id: "gone", pid: 8 });
    const creating = await host.insert({ id: "creating", state: "CREATING" });
    host.vms.alive.add(7);
    host.vms.pids.set(alive.dir, 7);
    const orphan = join(host.stateDir, "sandboxes", "orphan");
    await mkdir(orphan, { recursive: true });
    await mkdir(creating.dir, { recursive: true });
    host.vms.pids.set(orphan, 9);

    expect(await recover(host.ctx)).toEqual({
      adopted: ["alive"],
      rolledBack: ["creating"],
      crashed: ["gone"],
      orphansRemoved: ["orphan"],
    });
    expect(await host.ctx.store.get("alive")).toMatchObject({ pid: 7, state: "RUNNING" });
    expect(await host.ctx.store.get("creating")).toMatchObject({ state: "ERROR", end_reason: "create_failed" });
    expect(await host.ctx.store.get("gone")).toMatchObject({ state: "ERROR", pid: null });
    expect(existsSync(orphan)).toBe(false);
    expect(existsSync(creating.dir)).toBe(false);
    expect(host.vms.calls).toEqual(["kill 9"]);
    expect(host.network).toEqual(["detach creating", "cleanup alive,gone"]);
  });

  it("destroys sandboxes whose lease has passed and reports each", async () => {
    host = await fakeSandboxHost();
    await host.insert({ id: "due", expires_at: 100 });
    await host.insert({ id: "later", expires_at: 300 });
    expect(await reapExpired(host.ctx, 200)).toEqual(["due"]);
    expect(host.events).toEqual([
      { sandboxId: "due", previousState: "RUNNING", newState: "DESTROYED", reason: "lease_expired" },
    ]);
    expect((await host.ctx.store.get("due")).end_reason).toBe("lease_expired");
  });

  it("tells a guest that powered itself off (STOPPED) from a VM that died (ERROR)", async () => {
    host = await fakeSandboxHost();
    const off = await host.insert({ id: "off", pid: 5 });
    await host.insert({ id: "died", pid: 6 });
    await host.insert({ id: "fine", pid: 7 });
    host.vms.alive.add(7);
    await mkdir(off.dir, { recursive: true });
    await writeFile(join(off.dir, "serial.log"), "[   12.3] reboot: Power down\n");
    expect(await detectCrashes(host.ctx)).toEqual(["died"]);
    expect(await host.ctx.store.get("off")).toMatchObject({ state: "STOPPED", pid: null });
    expect(await host.ctx.store.get("died")).toMatchObject({ state: "ERROR", pid: null });
    expect(host.events.map((e) => `${e.sandboxId} ${e.newState}`)).toEqual(["off STOPPED", "died ERROR"]);
  });
});
