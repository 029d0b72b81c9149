import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { afterEach, describe, expect, it } from "vitest";
import { fakeSandboxHost } from "../testing/fake-sandbox-host.js";
import { destroy, extend, setEgress, start, stop } from "./lifecycle.js";

describe("sandbox lifecycle", () => {
  let host: Awaited<ReturnType<typeof fakeSandboxHost>>;
  afterEach(() => host.close());

  it("stops a running sandbox by asking its guest to shut down, killing it only if it does not", async () => {
    host = await fakeSandboxHost();
    await host.insert({ id: "s1", pid: 7 });
    host.vms.exitsOnShutdown.value = false;
    expect(await stop(host.ctx, "s1", false)).toMatchObject({ state: "STOPPED", pid: null });
    expect(host.guest.calls).toContain("shutdown");
    expect(host.vms.calls).toEqual(["wait 7", "kill 7"]);
  });

  it("kills at once when forced, and refuses to stop a sandbox that is not running", async () => {
    host = await fakeSandboxHost();
    await host.insert({ id: "s1", pid: 7 });
    await stop(host.ctx, "s1", true);
    expect(host.vms.calls).toEqual(["kill 7"]);
    expect(host.guest.calls).not.toContain("shutdown");
    await expect(stop(host.ctx, "s1", true)).rejects.toMatchObject({ code: "invalid_state" });
  });

  it("starts only a stopped sandbox that has a recorded network attachment", async () => {
    host = await fakeSandboxHost();
    await host.insert({ id: "running" });
    await host.insert({ id: "lost", state: "STOPPED", network: null });
    await expect(start(host.ctx, "running")).rejects.toMatchObject({ code: "invalid_state" });
    await expect(start(host.ctx, "lost")).rejects.toMatchObject({ code: "host_error" });
  });

  it("destroys a sandbox's VM, network and directory once; a second destroy does nothing", async () => {
    host = await fakeSandboxHost();
    const row = await host.insert({ id: "s1", pid: 7 });
    await mkdir(row.dir, { recursive: true });
    await destroy(host.ctx, "s1", "user_request");
    expect(await host.ctx.store.get("s1")).toMatchObject({
      state: "DESTROYED",
      pid: null,
      end_reason: "user_request",
      ended_at: expect.any(Number),
    });
    expect(existsSync(row.dir)).toBe(false);
    expect(host.vms.calls).toEqual(["kill 7"]);
    await destroy(host.ctx, "s1", "again");
    expect(host.network).toEqual(["detach s1"]);
    expect((await host.ctx.store.get("s1")).end_reason).toBe("user_request");
  });

  it("moves a lease and switches egress, but not for a sandbox that has ended", async () => {
    host = await fakeSandboxHost();
    await host.insert({ id: "s1" });
    await host.insert({ id: "gone", state: "DESTROYED", ended_at: 5 });
    await extend(host.ctx, "s1", 123_000);
    await setEgress(host.ctx, "s1", true);
    expect(await host.ctx.store.get("s1")).toMatchObject({ expires_at: 123_000, allow_egress: 1 });
    expect(host.network).toEqual(["egress s1 true"]);
    await expect(extend(host.ctx, "gone", 1)).rejects.toMatchObject({ code: "invalid_state" });
    await expect(setEgress(host.ctx, "gone", true)).rejects.toMatchObject({ code: "invalid_state" });
  });
});
