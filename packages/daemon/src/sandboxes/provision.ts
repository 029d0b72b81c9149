import { randomUUID } from "node:crypto";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { codeOf, SandboxError } from "../errors.js";
import { egressOf, storedAllowlist } from "../network/egress.js";
import type { SandboxRow, SnapshotRow } from "../state/schema.js";
import { boot, teardown } from "./boot.js";
import type { SandboxContext } from "./context.js";
import { sandboxLimits } from "./defaults.js";
import { createOverlay } from "./disk-layers.js";
import { reidentify } from "./guest-setup.js";
import type { CreateInput, PoolCreate } from "./types.js";

const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

export const defaultName = (id: string) => `sbx-${id.slice(0, 8)}`;

export function assertSandboxId(id: string): void {
  if (!ID_PATTERN.test(id)) {
    throw new SandboxError("invalid_request", "sandbox id must be 1-64 letters, digits, - or _");
  }
}

/** A new sandbox from an image: a ready warm pool entry when `pool` has one, a cold boot otherwise. */
export async function createSandbox(
  ctx: SandboxContext,
  input: CreateInput,
  pool: PoolCreate | undefined,
): Promise<SandboxRow> {
  if (input.vcpus < sandboxLimits.minVcpus || input.memoryMb < sandboxLimits.minMemoryMb) {
    throw new SandboxError(
      "invalid_request",
      `need at least ${sandboxLimits.minVcpus} vCPU and ${sandboxLimits.minMemoryMb} MB`,
    );
  }
  const image = await ctx.options.images.resolve(input.image).catch((err: unknown) => {
    throw new SandboxError("not_found", `no image "${input.image}" on this host`, { cause: err });
  });
  const cold = (id: string) => provision(ctx, { ...input, id }, image.disk);
  const id = input.id ?? randomUUID();
  return pool && !input.pooled ? pool.create({ ...input, id }, () => cold(id)) : cold(id);
}

/** A fork's input: a create's, less what the snapshot decides, and whether its network is shared. */
export type ForkClone = Omit<CreateInput, "image" | "vcpus" | "memoryMb" | "peerGroup"> & {
  /** Shares a network with the parent's other forks that asked for one; otherwise it is isolated. */
  sharedNetwork?: boolean | undefined;
};

/** The peer group of the forks of one parent that share a network, whatever fork request made them. */
export const forkPeerGroup = (parentSandboxId: string) => `forks-of:${parentSandboxId}`;

/**
 * N new sandboxes from one snapshot, each on its own overlay and network identity. Memory
 * snapshots resume in well under a second; the clone is then re-identified through its agent.
 */
export async function forkSnapshot(
  ctx: SandboxContext,
  snapshotId: string,
  clones: ForkClone[],
): Promise<SandboxRow[]> {
  const snapshot = await ctx.store.getSnapshot(snapshotId);
  const results: SandboxRow[] = [];
  for (const { sharedNetwork, ...clone } of clones) {
    const peerGroup = sharedNetwork ? forkPeerGroup(snapshot.sandbox_id) : undefined;
    results.push(
      await provision(
        ctx,
        { ...clone, peerGroup, image: snapshot.image, vcpus: snapshot.vcpus, memoryMb: snapshot.memory_mb },
        join(snapshot.dir, "disk.qcow2"),
        snapshot,
      ),
    );
  }
  return results;
}

/**
 * Builds one sandbox on an overlay of `backingDisk` (an image, or a snapshot's disk) and boots it,
 * resuming guest RAM when `snapshot` has it. The row is written before any side effect, so a
 * crash from there on leaves a CREATING row that recovery rolls back.
 */
function provision(
  ctx: SandboxContext,
  input: CreateInput,
  backingDisk: string,
  snapshot?: SnapshotRow,
): Promise<SandboxRow> {
  const id = input.id ?? randomUUID();
  assertSandboxId(id);
  const { store, options } = ctx;
  return ctx.locks.run(id, async () => {
    await store.assertAbsent(id);
    const committed = await store.committedMemoryMb();
    if (committed + input.memoryMb > options.allocatableMemoryMb) {
      throw new SandboxError(
        "no_capacity",
        `not enough memory: ${input.memoryMb} MB asked, ${Math.max(0, options.allocatableMemoryMb - committed)} MB free`,
      );
    }
    const dir = join(options.stateDir, "sandboxes", id);
    const egress = egressOf(input);
    const now = Date.now();
    await store.insert({
      id,
      name: input.name ?? defaultName(id),
      image: input.image,
      state: "CREATING",
      vcpus: input.vcpus,
      memory_mb: input.memoryMb,
      allow_egress: input.allowEgress ? 1 : 0,
      dir,
      pid: null,
      ip: null,
      mac: null,
      tap: null,
      network: null,
      agent_id: input.agentId ?? null,
      pooled: input.pooled ? 1 : 0,
      egress_allow: storedAllowlist(egress),
      created_at: now,
      updated_at: now,
      expires_at: input.expiresAt ?? null,
      ended_at: null,
      end_reason: null,
      error: null,
    });
    try {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      await createOverlay(backingDisk, join(dir, "disk.qcow2"));
      const net = await options.network.attach(id, { egress, peerGroup: input.peerGroup });
      await store.update(id, { ip: net.ip ?? null, mac: net.mac, tap: net.tap ?? null, network: JSON.stringify(net) });
      const row = await store.get(id);
      await boot(ctx, row, net, snapshot);
      if (snapshot?.has_memory === 1) await reidentify(ctx, row, net);
      return await store.get(id);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      options.log.warn({ err, sandboxId: id }, "sandbox creation failed; cleaning up");
      await teardown(ctx, id).catch((cleanupErr: unknown) =>
        options.log.error({ err: cleanupErr, sandboxId: id }, "cleanup failed"),
      );
      await store.update(id, {
        state: "ERROR",
        ended_at: Date.now(),
        end_reason: "create_failed",
        error: message.slice(0, 2000),
        pid: null,
      });
      throw err instanceof SandboxError
        ? err
        : new SandboxError(codeOf(err), `could not create sandbox: ${message}`, { cause: err });
    }
  });
}
