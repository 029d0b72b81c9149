import { createHash, randomBytes } from "node:crypto";
import type { Logger } from "pino";
import type { WarmPoolSize } from "../config.js";
import { codeOf } from "../errors.js";
import { egressOf } from "../network/egress.js";
import type { SandboxRow } from "../state/schema.js";
import { VERSION } from "../version.js";
import { deviceLayout } from "../vm/qemu.js";
import type { SandboxManager } from "./manager.js";
import type { NetAttachment } from "./ports.js";
import type { CreateInput } from "./types.js";

/** What the pool needs from the sandbox manager (unit tests stand in for it). */
export type PoolSandboxes = Pick<
  SandboxManager,
  "create" | "snapshot" | "destroy" | "fork" | "claimPooled" | "parkPooled" | "deleteSnapshot" | "pooled"
>;

export interface PoolImages {
  manifest(name: string): Promise<{ recipeHash: string; builtAt: string } | undefined>;
}

export interface WarmPoolOptions {
  sizes: WarmPoolSize[];
  sandboxes: PoolSandboxes;
  images: PoolImages;
  log: Pick<Logger, "info" | "warn" | "error">;
  /** Wait before retrying a failed refill: base·2ⁿ⁻¹ after the nth failure in a row, at most cap. */
  retry?: { baseMs: number; capMs: number };
  /** How often an idle pool checks that its image has not been rebuilt. */
  checkEveryMs?: number;
  /** Refills wait this long after the last create, so a burst of creates is not slowed by them. */
  quietMs?: number;
  /** The VMs' device set (qemu.ts deviceLayout), which a template's key includes. */
  deviceLayout?: () => string;
}

interface Entry {
  id: string;
  /** QEMU user-mode networking fixes egress when the VM starts: such an entry only serves creates without. */
  egressFixed: boolean;
}

interface ImagePool {
  size: WarmPoolSize;
  template?: { key: string; snapshotId: string } | undefined;
  ready: Entry[];
  failures: number;
  retryAt: number;
}

export interface PoolStatus {
  image: string;
  size: number;
  ready: number;
  vcpus: number;
  memoryMb: number;
}

/**
 * Warm pools: per image, sandboxes restored from a memory snapshot of a freshly booted one (the
 * template), moved onto their own overlay, address and host keys, and paused. A create asking for
 * exactly an entry's image and shape takes one (SandboxManager.claimPooled); anything else boots cold.
 *
 * CPU budget: one refill step at a time (a template boot or one restore), none while a create is in
 * flight or for `quietMs` after one, so refills do not compete with a boot or claim someone waits for.
 * Entries are destroyed on shutdown; templates stay on disk and are reused while the daemon
 * version, image build and shape are the same (that is the template's key).
 */
export class WarmPool {
  private readonly o: Required<Omit<WarmPoolOptions, "sizes">>;
  private readonly pools = new Map<string, ImagePool>();
  private readonly retired = new Set<string>();
  private inFlight = 0;
  private lastCreateAt = 0;
  private stopped = false;
  private wakers: Array<() => void> = [];
  private loop: Promise<void> | undefined;

  constructor(options: WarmPoolOptions) {
    this.o = {
      retry: { baseMs: 5_000, capMs: 300_000 },
      checkEveryMs: 30_000,
      quietMs: 2_000,
      deviceLayout,
      ...options,
    };
    for (const size of options.sizes) this.pools.set(size.image, { size, ready: [], failures: 0, retryAt: 0 });
  }

  /** Cleans up what a previous run left, adopts its templates, and starts refilling in the background. */
  async start(): Promise<void> {
    const previous = await this.o.sandboxes.pooled();
    for (const row of previous.sandboxes) await this.discard(row.id);
    for (const snapshot of previous.snapshots) {
      const pool = [...this.pools.values()].find((p) => !p.template && p.size.image === snapshot.image);
      if (pool && snapshot.name === (await this.keyFor(pool)))
        pool.template = { key: snapshot.name, snapshotId: snapshot.id };
      else this.retired.add(snapshot.id);
    }
    this.loop = this.run();
  }

  /** Stops refilling and destroys the entries (a refill in progress finishes first). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wake();
    await this.loop;
    for (const pool of this.pools.values()) {
      for (const entry of pool.ready.splice(0)) await this.discard(entry.id);
    }
  }

  status(): PoolStatus[] {
    return [...this.pools.values()].map(({ size, ready }) => ({
      image: size.image,
      size: size.size,
      ready: ready.length,
      vcpus: size.vcpus,
      memoryMb: size.memoryMb,
    }));
  }

  /** Resolves once every pool is full (for tests and benchmarks). */
  async full(): Promise<void> {
    while (!this.status().every((pool) => pool.ready >= pool.size)) await this.sleep(this.o.checkEveryMs);
  }

  /** A create: takes a matching entry, else runs `cold`; refills wait until it is done. */
  async create(input: CreateInput & { id: string }, cold: () => Promise<SandboxRow>): Promise<SandboxRow> {
    this.inFlight++;
    try {
      return (await this.claim(input)) ?? (await this.coldWithRoom(cold));
    } finally {
      this.inFlight--;
      this.lastCreateAt = Date.now();
      this.wake();
    }
  }

  private async claim(input: CreateInput & { id: string }): Promise<SandboxRow | undefined> {
    const pool = this.pools.get(input.image);
    if (!pool || pool.size.vcpus !== input.vcpus || pool.size.memoryMb !== input.memoryMb) return undefined;
    const index = pool.ready.findIndex((entry) => !(egressOf(input) !== false && entry.egressFixed));
    const [entry] = index < 0 ? [] : pool.ready.splice(index, 1);
    if (!entry) return undefined;
    if (pool.template?.key !== (await this.keyFor(pool))) {
      await this.discard(entry.id);
      await this.invalidate(pool);
      return undefined;
    }
    try {
      const row = await this.o.sandboxes.claimPooled(entry.id, input);
      this.o.log.info({ sandboxId: row.id, entry: entry.id, image: input.image }, "create took a warm pool entry");
      return row;
    } catch (err) {
      this.o.log.warn({ err, entry: entry.id, image: input.image }, "could not claim a warm pool entry; booting cold");
      await this.discard(entry.id);
      return undefined;
    }
  }

  /** Pool entries hold memory a create may need more: they give it up, one at a time. */
  private async coldWithRoom(cold: () => Promise<SandboxRow>): Promise<SandboxRow> {
    for (;;) {
      try {
        return await cold();
      } catch (err) {
        const victim = codeOf(err) === "no_capacity" ? this.evictable() : undefined;
        if (!victim) throw err;
        this.o.log.info({ entry: victim }, "evicting a warm pool entry to make room for a create");
        await this.discard(victim);
      }
    }
  }

  private evictable(): string | undefined {
    const fullest = [...this.pools.values()].sort((a, b) => b.ready.length - a.ready.length)[0];
    return fullest?.ready.pop()?.id;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      for (const pool of this.pools.values()) await this.checkImage(pool);
      const quietFor = this.lastCreateAt + this.o.quietMs - Date.now();
      if (this.inFlight > 0 || quietFor > 0) {
        await this.sleep(this.inFlight > 0 ? this.o.checkEveryMs : quietFor);
        continue;
      }
      const now = Date.now();
      const due = [...this.pools.values()].find((p) => p.ready.length < p.size.size && p.retryAt <= now);
      if (due) {
        await this.refill(due);
        this.wake();
      }
      await this.collectRetired();
      if (!due) await this.sleep(this.nextWakeMs());
    }
  }

  private async refill(pool: ImagePool): Promise<void> {
    try {
      const key = await this.keyFor(pool);
      if (!key) throw new Error(`image ${pool.size.image} is not on this host`);
      pool.template ??= { key, snapshotId: await this.buildTemplate(pool, key) };
      const template = pool.template;
      const [row] = await this.o.sandboxes.fork(template.snapshotId, [
        { id: `pool-${randomBytes(8).toString("hex")}`, allowEgress: false, pooled: true },
      ]);
      if (!row) throw new Error("fork returned no sandbox");
      await this.o.sandboxes.parkPooled(row.id).catch(async (err: unknown) => {
        await this.discard(row.id);
        throw err;
      });
      if (this.stopped || pool.template !== template) await this.discard(row.id);
      else
        pool.ready.push({
          id: row.id,
          egressFixed: (JSON.parse(row.network ?? "{}") as NetAttachment).mode !== "bridge",
        });
      pool.failures = 0;
      this.o.log.info(
        { image: pool.size.image, ready: pool.ready.length, size: pool.size.size },
        "warm pool entry ready",
      );
    } catch (err) {
      pool.failures++;
      const waitMs = Math.min(this.o.retry.capMs, this.o.retry.baseMs * 2 ** (pool.failures - 1));
      pool.retryAt = Date.now() + waitMs;
      this.o.log.warn({ err, image: pool.size.image, retryInMs: waitMs }, "warm pool refill failed");
    }
  }

  /** Boots the image once, cold, and keeps a memory snapshot of it; the booted sandbox goes. */
  private async buildTemplate(pool: ImagePool, key: string): Promise<string> {
    const { image, vcpus, memoryMb } = pool.size;
    const id = `pool-template-${randomBytes(6).toString("hex")}`;
    await this.o.sandboxes.create({ id, image, vcpus, memoryMb, allowEgress: false, pooled: true });
    try {
      return (await this.o.sandboxes.snapshot(id, { name: key, includeMemory: true })).id;
    } finally {
      await this.discard(id);
    }
  }

  /** A rebuilt image (or a new daemon) makes the template and every entry restored from it stale. */
  private async checkImage(pool: ImagePool): Promise<void> {
    if (pool.template && pool.template.key !== (await this.keyFor(pool))) await this.invalidate(pool);
  }

  private async invalidate(pool: ImagePool): Promise<void> {
    this.o.log.info({ image: pool.size.image }, "image changed; discarding its warm pool");
    if (pool.template) this.retired.add(pool.template.snapshotId);
    pool.template = undefined;
    for (const entry of pool.ready.splice(0)) await this.discard(entry.id);
  }

  /** Old templates go once no sandbox restored from them is left (their disk layer is under those). */
  private async collectRetired(): Promise<void> {
    for (const snapshotId of this.retired) {
      try {
        await this.o.sandboxes.deleteSnapshot(snapshotId);
        this.retired.delete(snapshotId);
      } catch (err) {
        if (codeOf(err) === "not_found") this.retired.delete(snapshotId);
      }
    }
  }

  private async keyFor(pool: ImagePool): Promise<string | undefined> {
    const { image, vcpus, memoryMb } = pool.size;
    const manifest = await this.o.images.manifest(image).catch(() => undefined);
    if (!manifest) return undefined;
    // The device layout is part of the key: a template saved with other devices cannot be restored.
    const build = createHash("sha256")
      .update(`${VERSION}\n${manifest.recipeHash}\n${manifest.builtAt}\n${this.o.deviceLayout()}`)
      .digest("hex");
    return `pool:${image}:${vcpus}x${memoryMb}:${build.slice(0, 16)}`;
  }

  private async discard(id: string): Promise<void> {
    await this.o.sandboxes
      .destroy(id, "pool_discarded")
      .catch((err: unknown) => this.o.log.error({ err, sandboxId: id }, "could not destroy a warm pool sandbox"));
  }

  private nextWakeMs(): number {
    const retries = [...this.pools.values()]
      .filter((p) => p.ready.length < p.size.size)
      .map((p) => p.retryAt - Date.now());
    return Math.max(0, Math.min(this.o.checkEveryMs, ...retries));
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wakers = this.wakers.filter((waker) => waker !== done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wakers.push(done);
    });
  }

  private wake(): void {
    for (const waker of this.wakers.splice(0)) waker();
  }
}
