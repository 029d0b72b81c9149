import { SandboxError } from "../errors.js";
import type { SandboxContext } from "./context.js";
import { activeDisk } from "./disk-layers.js";
import { withQuiescedGuest } from "./quiesce.js";

export interface ReviewDisks {
  overlay: string;
  base: string;
  rootDevice: string | undefined;
}

/** The disks a review compares: the sandbox's overlay (the top of its chain) and its image's disk. */
export async function reviewDisks(ctx: SandboxContext, id: string): Promise<ReviewDisks> {
  const row = await ctx.store.get(id);
  if (row.state !== "RUNNING" && row.state !== "STOPPED")
    throw new SandboxError("invalid_state", `sandbox ${id} is ${row.state}`);
  const image = await ctx.options.images.resolve(row.image);
  return { overlay: await activeDisk(row.dir), base: image.disk, rootDevice: image.rootDevice };
}

/** Flushes a running guest's filesystems to its disk, so a review reads what the guest wrote. */
export async function flushGuest(ctx: SandboxContext, id: string): Promise<void> {
  const row = await ctx.store.get(id);
  if (row.state !== "RUNNING") return;
  await withQuiescedGuest(await ctx.agents.get(id), async () => undefined, {
    maxFrozenMs: ctx.options.maxFrozenMs,
    onWarning: (message, err) => ctx.options.log.warn({ err, sandboxId: id }, message),
  });
}
