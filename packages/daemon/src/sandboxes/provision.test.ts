import { existsSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { fakeSandboxHost } from "../testing/fake-sandbox-host.js";
import { createSandbox, forkSnapshot } from "./provision.js";
import type { CreateInput } from "./types.js";

const input: CreateInput = { image: "debian", vcpus: 1, memoryMb: 512, allowEgress: false };

describe("provisioning", () => {
  let host: Awaited<ReturnType<typeof fakeSandboxHost>>;
  afterEach(() => host.close());

  it("refuses a shape below the minimum, an unknown image and a malformed id before doing anything", async () => {
    host = await fakeSandboxHost();
    await expect(createSandbox(host.ctx, { ...input, vcpus: 0 }, undefined)).rejects.toMatchObject({
      code: "invalid_request",
      message: "need at least 1 vCPU and 64 MB",
    });
    await expect(createSandbox(host.ctx, { ...input, image: "arch" }, undefined)).rejects.toMatchObject({
      code: "not_found",
    });
    await expect(createSandbox(host.ctx, { ...input, id: "-bad" }, undefined)).rejects.toMatchObject({
      code: "invalid_request",
    });
    expect(await host.ctx.store.list({ includeEnded: true })).toEqual([]);
  });

  it("refuses an invalid allowlist entry with invalid_request before recording anything", async () => {
    host = await fakeSandboxHost();
    await expect(createSandbox(host.ctx, { ...input, egressAllow: ["10.1.2.3/8"] }, undefined)).rejects.toMatchObject({
      code: "invalid_request",
    });
    expect([await host.ctx.store.list({ includeEnded: true }), host.network]).toEqual([[], []]);
  });

  it("refuses an id in use and memory the host has not got", async () => {
    host = await fakeSandboxHost({ allocatableMemoryMb: 1024 });
    await host.insert({ id: "s1", memory_mb: 768 });
    await expect(createSandbox(host.ctx, { ...input, id: "s1" }, undefined)).rejects.toMatchObject({
      code: "invalid_state",
    });
    await expect(createSandbox(host.ctx, { ...input, id: "s2" }, undefined)).rejects.toMatchObject({
      code: "no_capacity",
      message: "not enough memory: 512 MB asked, 256 MB free",
    });
  });

  it("lets the warm pool answer a create, but never a pool entry's own", async () => {
    host = await fakeSandboxHost();
    const asked: string[] = [];
    const pool = {
      create: async (request: CreateInput & { id: string }) => {
        asked.push(request.id);
        return host.insert({ id: request.id });
      },
    };
    expect(await createSandbox(host.ctx, { ...input, id: "warm" }, pool)).toMatchObject({ id: "warm" });
    expect(asked).toEqual(["warm"]);
    await expect(
      createSandbox(host.ctx, { ...input, id: "entry", pooled: true, memoryMb: 1 << 20 }, pool),
    ).rejects.toMatchObject({ code: "no_capacity" });
    expect(asked).toEqual(["warm"]);
  });

  it("rolls a failed create back: no directory or network left, the row ended as create_failed", async () => {
    host = await fakeSandboxHost();
    await expect(createSandbox(host.ctx, { ...input, id: "s1" }, undefined)).rejects.toMatchObject({
      code: "host_error",
    });
    const row = await host.ctx.store.get("s1");
    expect(row).toMatchObject({ state: "ERROR", end_reason: "create_failed", ended_at: expect.any(Number) });
    expect(existsSync(row.dir)).toBe(false);
    expect(host.network).toEqual(["detach s1"]);
  });

  it("forks only from a snapshot this host has", async () => {
    host = await fakeSandboxHost();
    await expect(forkSnapshot(host.ctx, "nope", [{ allowEgress: false }])).rejects.toMatchObject({
      code: "not_found",
    });
  });
});
