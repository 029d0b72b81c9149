import { afterEach, describe, expect, it } from "vitest";
import { fakeSandboxHost } from "../testing/fake-sandbox-host.js";
import { claimPooled, parkPooled } from "./pool-entries.js";
import type { CreateInput } from "./types.js";

const input: CreateInput = { image: "debian", vcpus: 1, memoryMb: 512, allowEgress: false };

describe("warm pool entries", () => {
  let host: Awaited<ReturnType<typeof fakeSandboxHost>>;
  afterEach(() => host.close());

  it("hands a ready entry to a create: resumed, re-identified and renamed with its lease and egress", async () => {
    host = await fakeSandboxHost();
    const entry = await host.insert({ id: "pool-1", pooled: 1 });
    const row = await claimPooled(host.ctx, "pool-1", { ...input, id: "s1", allowEgress: true, expiresAt: 99_000 });
    expect(row).toMatchObject({
      id: "s1",
      name: "sbx-s1",
      pooled: 0,
      allow_egress: 1,
      expires_at: 99_000,
      tap: "tap9",
      dir: entry.dir,
    });
    expect(host.vms.calls).toEqual(["qmp cont"]);
    expect(host.guest.files.get("/etc/hostname")?.toString()).toBe("sbx-s1\n");
    expect(host.network).toEqual(["rekey pool-1 s1"]);
    await expect(host.ctx.store.get("pool-1")).rejects.toMatchObject({ code: "not_found" });
  });

  it("gives a claimed entry the create's allowlist, canonical, and records it", async () => {
    host = await fakeSandboxHost();
    await host.insert({ id: "pool-1", pooled: 1 });
    const row = await claimPooled(host.ctx, "pool-1", {
      ...input,
      id: "s1",
      egressAllow: ["10.1.2.0/24:443", "Deb.Debian.org."],
    });
    expect(host.attachedEgress.get("s1")).toEqual(["10.1.2.0/24:443", "deb.debian.org"]);
    expect([row.allow_egress, JSON.parse(row.egress_allow ?? "null")]).toEqual([
      0,
      ["10.1.2.0/24:443", "deb.debian.org"],
    ]);
  });

  it("claims only a ready entry, and parks only an entry", async () => {
    host = await fakeSandboxHost();
    await host.insert({ id: "pool-1", pooled: 1, network: null });
    await host.insert({ id: "s1" });
    await expect(claimPooled(host.ctx, "pool-1", { ...input, id: "s2" })).rejects.toMatchObject({
      code: "invalid_state",
    });
    await expect(claimPooled(host.ctx, "pool-1", { ...input, id: "s1" })).rejects.toMatchObject({
      code: "invalid_state",
      message: "sandbox s1 already exists on this host",
    });
    await expect(parkPooled(host.ctx, "s1")).rejects.toMatchObject({ code: "invalid_state" });
    await parkPooled(host.ctx, "pool-1");
    expect(host.vms.calls).toEqual(["qmp stop"]);
    expect(host.guest.calls[0]).toMatch(/^date -u -s/);
  });
});
