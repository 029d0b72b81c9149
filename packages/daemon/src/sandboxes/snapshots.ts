import { randomUUID } from "node:crypto";
import { mkdir, readdir, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { SandboxError } from "../errors.js";
import type { SandboxRow, SnapshotRow } from "../state/schema.js";
import type { QmpClient } from "../vm/qmp.js";
import { boot } from "./boot.js";
import type { SandboxContext } from "./context.js";
import { sandboxLimits } from "./defaults.js";
import { activeDisk, backingChain, resetDisk, sealActiveLayer, streamLongChain } from "./disk-layers.js";
import type { NetAttachment } from "./ports.js";
import { withQuiescedGuest } from "./quiesce.js";

/**
 * A snapshot in O(1) of the disk's size: the sandbox's overlay becomes the snapshot's immutable
 * layer and the sandbox continues on a new overlay above it (see sealActiveLayer). A running
 * guest's filesystems are quiesced first; a memory snapshot pauses the VM instead, taking the
 * layer and then guest RAM at the same instant (RAM holds the unflushed page cache, and a guest
 * frozen in it would resume frozen).
 */
export function takeSnapshot(
  ctx: SandboxContext,
  id: string,
  input: { name: string; includeMemory: boolean },
): Promise<SnapshotRow> {
  const { options, store } = ctx;
  return ctx.locks.run(id, async () => {
    const row = await store.get(id);
    if (row.state !== "RUNNING" && row.state !== "STOPPED") {
      throw new SandboxError("invalid_state", `cannot snapshot a sandbox that is ${row.state}`);
    }
    if (input.includeMemory && row.state !== "RUNNING") {
      throw new SandboxError("invalid_state", "a memory snapshot needs a running sandbox");
    }
    const snapshotId = randomUUID();
    const dir = join(options.stateDir, "snapshots", snapshotId);
    const layer = join(dir, "disk.qcow2");
    await mkdir(dir, { recursive: true, mode: 0o700 });
    let sealed = false;
    const seal = async (qmp?: QmpClient) => {
      await sealActiveLayer(row.dir, layer, qmp);
      sealed = true;
    };
    try {
      if (row.state === "STOPPED") await seal();
      else await sealRunning(ctx, row, dir, input.includeMemory, seal);
      const snapshot: SnapshotRow = {
        id: snapshotId,
        sandbox_id: id,
        name: input.name,
        dir,
        image: row.image,
        vcpus: row.vcpus,
        memory_mb: row.memory_mb,
        has_memory: input.includeMemory ? 1 : 0,
        size_bytes: await directorySize(dir),
        created_at: Date.now(),
      };
      await store.insertSnapshot(snapshot);
      return snapshot;
    } catch (err) {
      // Once sealed, the layer is part of the sandbox's disk: only what came after it may go.
      if (sealed) await rm(join(dir, "memory.state"), { force: true });
      else await rm(dir, { recursive: true, force: true });
      throw err;
    }
  });
}

/** Seals a running sandbox's layer, paused with its RAM saved or quiesced, then keeps its chain short. */
async function sealRunning(
  ctx: SandboxContext,
  row: SandboxRow,
  dir: string,
  includeMemory: boolean,
  seal: (qmp: QmpClient) => Promise<void>,
): Promise<void> {
  const { options } = ctx;
  const qmp = await ctx.vm.qmp(row.dir);
  try {
    if (includeMemory) {
      await qmp.execute("stop");
      try {
        await seal(qmp);
        await migrateToFile(qmp, join(dir, "memory.state"));
      } finally {
        await qmp.execute("cont");
      }
    } else {
      await withQuiescedGuest(await ctx.agents.get(row.id), () => seal(qmp), {
        maxFrozenMs: options.maxFrozenMs,
        onWarning: (message, err) => options.log.warn({ err, sandboxId: row.id }, message),
      });
    }
    const image = await options.images.resolve(row.image);
    await streamLongChain(qmp, await activeDisk(row.dir), image.disk, sandboxLimits.maxDiskLayers).catch(
      (err: unknown) => options.log.warn({ err, sandboxId: row.id }, "could not start flattening a long disk chain"),
    );
  } finally {
    qmp.close();
  }
}

/**
 * Removes a snapshot unless its layer is still read: by a live sandbox's disk (its own sandbox
 * keeps running on top of it) or by another snapshot taken later on top of it. Such a delete is
 * refused rather than done by rewriting the dependants, because a snapshot's layer is never
 * written again; it succeeds once the dependants are gone.
 */
export async function deleteSnapshot(ctx: SandboxContext, snapshotId: string): Promise<void> {
  const { store } = ctx;
  const snapshot = await store.getSnapshot(snapshotId);
  const layer = join(snapshot.dir, "disk.qcow2");
  const dependants: string[] = [];
  for (const { id, dir } of await store.list()) {
    const chain = await backingChain(await activeDisk(dir)).catch(() => [] as string[]);
    if (chain.includes(layer)) dependants.push(`sandbox ${id}`);
  }
  for (const other of await store.listSnapshots()) {
    if (other.id === snapshot.id) continue;
    const chain = await backingChain(join(other.dir, "disk.qcow2")).catch(() => [] as string[]);
    if (chain.includes(layer)) dependants.push(`snapshot ${other.id}`);
  }
  if (dependants.length > 0) {
    throw new SandboxError("invalid_state", `snapshot is the base of ${dependants.join(", ")}`);
  }
  await rm(snapshot.dir, { recursive: true, force: true });
  await store.deleteSnapshot(snapshotId);
}

/** Puts a sandbox back to a snapshot of itself: the disk always, RAM too when the snapshot has it. */
export function restoreSnapshot(ctx: SandboxContext, id: string, snapshotId: string): Promise<SandboxRow> {
  return ctx.locks.run(id, async () => {
    const row = await ctx.store.get(id);
    if (row.ended_at) throw new SandboxError("invalid_state", "sandbox has ended");
    const snapshot = await ctx.store.getSnapshot(snapshotId);
    if (snapshot.image !== row.image)
      throw new SandboxError("invalid_request", "snapshot was taken from a different image");
    ctx.agents.drop(id);
    if (row.pid) await ctx.vm.kill(row.pid, row.dir);
    await resetDisk(row.dir, join(snapshot.dir, "disk.qcow2"));
    const net = JSON.parse(row.network ?? "null") as NetAttachment;
    await boot(ctx, row, net, snapshot);
    return ctx.store.get(id);
  });
}

async function migrateToFile(qmp: QmpClient, file: string): Promise<void> {
  // `exec:` runs through QEMU's own /bin/sh; the path is ours (a UUID under the state dir), never user input.
  await qmp.execute("migrate", { uri: `exec:cat > ${file}` });
  for (;;) {
    const info = await qmp.execute<{ status?: string; "error-desc"?: string }>("query-migrate");
    if (info.status === "completed") return;
    if (info.status === "failed" || info.status === "cancelled") {
      throw new Error(`saving guest memory failed: ${info["error-desc"] ?? info.status}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function directorySize(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir)) {
    total += (await stat(join(dir, entry))).blocks * 512;
  }
  return total;
}
