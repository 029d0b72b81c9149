import { afterEach, describe, expect, it, vi } from "vitest";
import type { WarmPoolSize } from "../config.js";
import { SandboxError } from "../errors.js";
import type { SandboxRow, SnapshotRow } from "../state/schema.js";
import { type PoolSandboxes, WarmPool } from "./pool.js";
import type { CreateInput } from "./types.js";

const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };

function sandboxRow(id: string, image: string, mode: "bridge" | "user"): SandboxRow {
  return {
    id,
    name: `sbx-${id.slice(0, 8)}`,
    image,
    state: "RUNNING",
    vcpus: 1,
    memory_mb: 512,
    allow_egress: 0,
    egress_allow: null,
    dir: `/state/sandboxes/${id}`,
    pid: 4242,
    ip: null,
    mac: null,
    tap: null,
    network: JSON.stringify({ mode, mac: "52:54:00:00:00:01", qemuArgs: [] }),
    agent_id: null,
    created_at: 0,
    updated_at: 0,
    expires_at: null,
    ended_at: null,
    end_reason: null,
    error: null,
    pooled: 1,
  };
}

/** Records what the pool asks of the sandbox manager; VMs are names in a set. */
class FakeSandboxes implements PoolSandboxes {
  readonly live = new Map<string, SandboxRow>();
  readonly snapshots = new Map<string, SnapshotRow>();
  readonly calls: string[] = [];
  readonly claims: Array<{ entry: string; id: string }> = [];
  readonly parked: string[] = [];
  networkMode: "bridge" | "user" = "user";
  forkFailures = 0;
  forking = 0;
  maxConcurrentForks = 0;

  async create(input: CreateInput): Promise<SandboxRow> {
    this.calls.push(`create ${input.image}`);
    const row = sandboxRow(input.id ?? "cold", input.image, this.networkMode);
    this.live.set(row.id, row);
    return row;
  }

  async snapshot(id: string, input: { name: string }): Promise<SnapshotRow> {
    const source = this.live.get(id);
    if (!source) throw new SandboxError("not_found", id);
    const snapshot = { ...snapshotRow(`snap-${this.snapshots.size}`, source.image, input.name), sandbox_id: id };
    this.snapshots.set(snapshot.id, snapshot);
    return snapshot;
  }

  async destroy(id: string): Promise<void> {
    this.calls.push(`destroy ${id}`);
    this.live.delete(id);
  }

  async fork(snapshotId: string, clones: Array<{ id?: string | undefined }>): Promise<SandboxRow[]> {
    this.forking++;
    this.maxConcurrentForks = Math.max(this.maxConcurrentForks, this.forking);
    try {
      await new Promise((resolve) => setTimeout(resolve, 5));
      if (this.forkFailures > 0) {
        this.forkFailures--;
        throw new Error("QEMU would not start");
      }
      const snapshot = this.snapshots.get(snapshotId);
      if (!snapshot) throw new SandboxError("not_found", snapshotId);
      const row = sandboxRow(clones[0]?.id ?? "", snapshot.image, this.networkMode);
      this.live.set(row.id, row);
      return [row];
    } finally {
      this.forking--;
    }
  }

  async claimPooled(entryId: string, input: CreateInput & { id: string }): Promise<SandboxRow> {
    const entry = this.live.get(entryId);
    if (!entry) throw new SandboxError("invalid_state", `${entryId} is gone`);
    this.claims.push({ entry: entryId, id: input.id });
    this.live.delete(entryId);
    const row = { ...entry, id: input.id, pooled: 0 };
    this.live.set(row.id, row);
    return row;
  }

  async parkPooled(id: string): Promise<void> {
    this.parked.push(id);
  }

  async deleteSnapshot(snapshotId: string): Promise<void> {
    this.calls.push(`delete-snapshot ${snapshotId}`);
    this.snapshots.delete(snapshotId);
  }

  async pooled(): Promise<{ sandboxes: SandboxRow[]; snapshots: SnapshotRow[] }> {
    return {
      sandboxes: [...this.live.values()].filter((row) => row.pooled === 1),
      snapshots: [...this.snapshots.values()],
    };
  }

  entries(): string[] {
    return [...this.live.values()].filter((row) => row.pooled === 1 && row.id.startsWith("pool-")).map((r) => r.id);
  }
}

function snapshotRow(id: string, image: string, name: string): SnapshotRow {
  return {
    id,
    sandbox_id: "pool-template",
    name,
    dir: `/state/snapshots/${id}`,
    image,
    vcpus: 1,
    memory_mb: 512,
    has_memory: 1,
    size_bytes: 0,
    created_at: 0,
  };
}

const manifests = new Map<string, { recipeHash: string; builtAt: string }>();
const images = { manifest: async (name: string) => manifests.get(name) };
const tiny: WarmPoolSize = { image: "tiny", size: 2, vcpus: 1, memoryMb: 512 };
const request = (extra: Partial<CreateInput> = {}) => ({
  id: `sbx-${Math.random().toString(16).slice(2, 10)}`,
  image: "tiny",
  vcpus: 1,
  memoryMb: 512,
  allowEgress: false,
  ...extra,
});

const pools: WarmPool[] = [];

async function startPool(sandboxes: FakeSandboxes, sizes: WarmPoolSize[] = [tiny], layout?: string) {
  const pool = new WarmPool({
    sizes,
    ...(layout ? { deviceLayout: () => layout } : {}),
    sandboxes,
    images,
    log: quiet,
    retry: { baseMs: 5, capMs: 20 },
    checkEveryMs: 10,
    quietMs: 0,
  });
  pools.push(pool);
  await pool.start();
  return { pool };
}

const ready = (pool: WarmPool, image = "tiny") => pool.status().find((p) => p.image === image)?.ready ?? 0;

describe("WarmPool", () => {
  manifests.set("tiny", { recipeHash: "a".repeat(64), builtAt: "2026-12-01T00:00:00.000Z" });
  manifests.set("debian-12", { recipeHash: "b".repeat(64), builtAt: "2026-12-01T00:00:00.000Z" });

  afterEach(async () => {
    for (const pool of pools.splice(0)) await pool.stop();
  });

  it("fills each image's pool to its size from one template boot, and pauses every entry", async () => {
    const sandboxes = new FakeSandboxes();
    const { pool } = await startPool(sandboxes, [tiny, { ...tiny, image: "debian-12", size: 1 }]);
    await pool.full();
    expect(pool.status().map((p) => [p.image, p.ready])).toEqual([
      ["tiny", 2],
      ["debian-12", 1],
    ]);
    expect(sandboxes.calls.filter((call) => call.startsWith("create"))).toEqual(["create tiny", "create debian-12"]);
    expect(sandboxes.snapshots.size).toBe(2);
    expect(sandboxes.parked.sort()).toEqual(sandboxes.entries().sort());
    expect(sandboxes.live.size).toBe(3);
  });

  it("a matching create takes an entry instead of booting, and the pool refills behind it", async () => {
    const sandboxes = new FakeSandboxes();
    const { pool } = await startPool(sandboxes);
    await pool.full();
    const before = sandboxes.entries();
    const cold = vi.fn(async () => sandboxRow("cold", "tiny", "user"));
    const input = request();
    const row = await pool.create(input, cold);
    expect(cold).not.toHaveBeenCalled();
    expect(row.id).toBe(input.id);
    expect(before).toContain(sandboxes.claims[0]?.entry);
    expect(ready(pool)).toBe(1);
    await pool.full();
    expect(ready(pool)).toBe(2);
    expect(sandboxes.calls.filter((call) => call.startsWith("create"))).toHaveLength(1);
  });

  it("boots cold when the image, shape or egress does not match an entry", async () => {
    const sandboxes = new FakeSandboxes();
    const { pool } = await startPool(sandboxes);
    await pool.full();
    const cold = vi.fn(async () => sandboxRow("cold", "tiny", "user"));
    await pool.create(request({ image: "debian-12" }), cold);
    await pool.create(request({ memoryMb: 1024 }), cold);
    await pool.create(request({ vcpus: 2 }), cold);
    await pool.create(request({ allowEgress: true }), cold);
    expect(cold).toHaveBeenCalledTimes(4);
    expect(sandboxes.claims).toEqual([]);
    expect(ready(pool)).toBe(2);
  });

  it("on bridge networking an entry serves a create with egress (it is applied at claim time)", async () => {
    const sandboxes = new FakeSandboxes();
    sandboxes.networkMode = "bridge";
    const { pool } = await startPool(sandboxes);
    await pool.full();
    const cold = vi.fn(async () => sandboxRow("cold", "tiny", "bridge"));
    await pool.create(request({ allowEgress: true }), cold);
    expect(cold).not.toHaveBeenCalled();
    expect(sandboxes.claims).toHaveLength(1);
  });

  it("refills one at a time and not while a create is in flight", async () => {
    const sandboxes = new FakeSandboxes();
    const { pool } = await startPool(sandboxes, [{ ...tiny, size: 3 }]);
    await pool.full();
    expect(sandboxes.maxConcurrentForks).toBe(1);
    let finishCold: () => void = () => undefined;
    const slowCold = pool.create(
      request({ image: "debian-12" }),
      () =>
        new Promise<SandboxRow>((resolve) => {
          finishCold = () => resolve(sandboxRow("cold", "debian-12", "user"));
        }),
    );
    await pool.create(request(), async () => sandboxRow("cold", "tiny", "user"));
    const forksDuringCreate = sandboxes.entries().length;
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(sandboxes.entries().length).toBe(forksDuringCreate);
    expect(ready(pool)).toBe(2);
    finishCold();
    await slowCold;
    await pool.full();
    expect(ready(pool)).toBe(3);
  });

  it("waits a quiet period after the last create before refilling", async () => {
    const sandboxes = new FakeSandboxes();
    const pool = new WarmPool({
      sizes: [tiny],
      sandboxes,
      images,
      log: quiet,
      quietMs: 300,
    });
    pools.push(pool);
    await pool.start();
    await pool.full();
    const claimedAt = Date.now();
    await pool.create(request(), async () => sandboxRow("cold", "tiny", "user"));
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(ready(pool)).toBe(1);
    await pool.full();
    expect(Date.now() - claimedAt).toBeGreaterThanOrEqual(300);
  });

  it("a rebuilt image discards its entries and template, and the pool refills from a new template", async () => {
    const sandboxes = new FakeSandboxes();
    const { pool } = await startPool(sandboxes);
    await pool.full();
    const [oldTemplate] = sandboxes.snapshots.keys();
    const oldEntries = sandboxes.entries();
    manifests.set("tiny", { recipeHash: "c".repeat(64), builtAt: "2026-12-02T00:00:00.000Z" });
    try {
      await vi.waitFor(() => expect(sandboxes.calls).toContain(`delete-snapshot ${oldTemplate}`), { timeout: 2000 });
      await pool.full();
      for (const id of oldEntries) expect(sandboxes.calls).toContain(`destroy ${id}`);
      expect(sandboxes.calls.filter((call) => call.startsWith("create"))).toHaveLength(2);
      expect(sandboxes.snapshots.size).toBe(1);
    } finally {
      manifests.set("tiny", { recipeHash: "a".repeat(64), builtAt: "2026-12-01T00:00:00.000Z" });
    }
  });

  it("a create right after a rebuild boots cold rather than take a stale entry", async () => {
    const sandboxes = new FakeSandboxes();
    // Checks the image only when woken, so the create is what notices the rebuild.
    const pool = new WarmPool({ sizes: [tiny], sandboxes, images, log: quiet });
    pools.push(pool);
    await pool.start();
    await pool.full();
    const stale = sandboxes.entries();
    manifests.set("tiny", { recipeHash: "d".repeat(64), builtAt: "2026-12-03T00:00:00.000Z" });
    try {
      const cold = vi.fn(async () => sandboxRow("cold", "tiny", "user"));
      await pool.create(request(), cold);
      expect(cold).toHaveBeenCalledOnce();
      expect(sandboxes.claims).toEqual([]);
      for (const id of stale) expect(sandboxes.calls).toContain(`destroy ${id}`);
    } finally {
      manifests.set("tiny", { recipeHash: "a".repeat(64), builtAt: "2026-12-01T00:00:00.000Z" });
    }
  });

  it("retries a failing refill with backoff and never throws out of the background loop", async () => {
    const sandboxes = new FakeSandboxes();
    sandboxes.forkFailures = 3;
    const warnings: string[] = [];
    const pool = new WarmPool({
      sizes: [tiny],
      sandboxes,
      images,
      log: {
        ...quiet,
        warn: (_fields: unknown, message?: string) => {
          warnings.push(message ?? "");
        },
      },
      retry: { baseMs: 5, capMs: 20 },
      checkEveryMs: 10,
    });
    pools.push(pool);
    await pool.start();
    await pool.full();
    expect(warnings.filter((message) => message === "warm pool refill failed")).toHaveLength(3);
    expect(ready(pool)).toBe(2);
  });

  it("gives an entry up when a cold create finds no memory left", async () => {
    const sandboxes = new FakeSandboxes();
    const { pool } = await startPool(sandboxes);
    await pool.full();
    let attempts = 0;
    const cold = async () => {
      attempts++;
      if (sandboxes.entries().length === 2) throw new SandboxError("no_capacity", "not enough memory");
      return sandboxRow("cold", "debian-12", "user");
    };
    await pool.create(request({ image: "debian-12" }), cold);
    expect(attempts).toBe(2);
    expect(sandboxes.entries()).toHaveLength(1);
  });

  it("destroys its entries on stop; the next start clears leftovers and reuses a still-valid template", async () => {
    const sandboxes = new FakeSandboxes();
    const { pool } = await startPool(sandboxes);
    await pool.full();
    await pool.stop();
    expect(sandboxes.entries()).toEqual([]);
    sandboxes.live.set("pool-leftover", sandboxRow("pool-leftover", "tiny", "user"));
    const { pool: next } = await startPool(sandboxes);
    await next.full();
    expect(sandboxes.calls).toContain("destroy pool-leftover");
    expect(sandboxes.calls.filter((call) => call.startsWith("create"))).toHaveLength(1);
    expect(ready(next)).toBe(2);
  });

  it("a template saved with another VM device layout is retired, not restored into the new one", async () => {
    const sandboxes = new FakeSandboxes();
    const { pool } = await startPool(sandboxes, [tiny], "blk+agent");
    await pool.full();
    await pool.stop();
    const [oldTemplate] = sandboxes.snapshots.keys();
    const { pool: next } = await startPool(sandboxes, [tiny], "blk+agent+console*4");
    await next.full();
    expect(sandboxes.calls.filter((call) => call.startsWith("create"))).toHaveLength(2);
    await vi.waitFor(() => expect(sandboxes.calls).toContain(`delete-snapshot ${oldTemplate}`), { timeout: 2000 });
  });
});
