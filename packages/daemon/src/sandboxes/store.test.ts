import { afterEach, describe, expect, it } from "vitest";
import { fakeSandboxHost } from "../testing/fake-sandbox-host.js";

describe("SandboxStore", () => {
  let host: Awaited<ReturnType<typeof fakeSandboxHost>>;
  afterEach(() => host.close());

  it("lists what callers see: no warm pool entries, ended sandboxes only when asked", async () => {
    host = await fakeSandboxHost();
    await host.insert({ id: "live", created_at: 2 });
    await host.insert({ id: "ended", state: "DESTROYED", ended_at: 5, created_at: 1 });
    await host.insert({ id: "pool-1", pooled: 1 });
    const { store } = host.ctx;
    expect((await store.list()).map((r) => r.id)).toEqual(["live"]);
    expect((await store.list({ includeEnded: true })).map((r) => r.id)).toEqual(["ended", "live"]);
    expect((await store.unended()).map((r) => r.id).sort()).toEqual(["live", "pool-1"]);
  });

  it("counts memory of booting and running sandboxes, warm pool entries included", async () => {
    host = await fakeSandboxHost();
    await host.insert({ id: "a", state: "CREATING", memory_mb: 256 });
    await host.insert({ id: "b", state: "RUNNING", memory_mb: 512, pooled: 1 });
    await host.insert({ id: "c", state: "STOPPED", memory_mb: 1024 });
    expect(await host.ctx.store.committedMemoryMb()).toBe(768);
  });

  it("names a missing sandbox or snapshot with not_found, and a stopped one with invalid_state", async () => {
    host = await fakeSandboxHost();
    await host.insert({ id: "stopped", state: "STOPPED" });
    const { store } = host.ctx;
    await expect(store.get("nope")).rejects.toMatchObject({ code: "not_found" });
    await expect(store.getSnapshot("nope")).rejects.toMatchObject({ code: "not_found" });
    await expect(store.running("stopped")).rejects.toMatchObject({ code: "invalid_state" });
    await expect(store.assertAbsent("stopped")).rejects.toMatchObject({ code: "invalid_state" });
  });

  it("finds leases that have run out and stamps updates", async () => {
    host = await fakeSandboxHost();
    await host.insert({ id: "due", expires_at: 100 });
    await host.insert({ id: "later", expires_at: 300 });
    const { store } = host.ctx;
    expect(await store.expired(200)).toEqual([{ id: "due", state: "RUNNING" }]);
    await store.update("due", { state: "STOPPED" });
    expect(await store.get("due")).toMatchObject({ state: "STOPPED", updated_at: expect.any(Number) });
    expect((await store.get("due")).updated_at).toBeGreaterThan(1);
  });

  it("hides warm pool templates' snapshots from listings but hands them to the pool", async () => {
    host = await fakeSandboxHost();
    await host.insert({ id: "s1" });
    await host.insert({ id: "tpl", pooled: 1 });
    await host.insertSnapshot({ id: "mine", sandbox_id: "s1" });
    await host.insertSnapshot({ id: "template", sandbox_id: "tpl" });
    const { store } = host.ctx;
    expect((await store.listSnapshots()).map((s) => s.id)).toEqual(["mine"]);
    expect((await store.pooled()).snapshots.map((s) => s.id)).toEqual(["template"]);
    await store.deleteSnapshot("mine");
    expect(await store.listSnapshots("s1")).toEqual([]);
  });
});
