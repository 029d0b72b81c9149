import { SandboxError } from "../errors.js";
import { storedAllowlist } from "../network/egress.js";
import type { SandboxRow } from "../state/schema.js";
import { boot, teardown } from "./boot.js";
import type { SandboxContext } from "./context.js";
import { sandboxLimits } from "./defaults.js";
import type { NetAttachment } from "./ports.js";

export async function destroy(ctx: SandboxContext, id: string, reason: string): Promise<void> {
  await ctx.locks.run(id, async () => {
    const row = await ctx.store.get(id);
    if (row.ended_at && row.state === "DESTROYED") return;
    await teardown(ctx, id);
    await ctx.store.update(id, { state: "DESTROYED", pid: null, ended_at: Date.now(), end_reason: reason });
  });
}

/** Stops a running sandbox: its guest shuts down (killed after a grace period), or is killed at once with `force`. */
export async function stop(ctx: SandboxContext, id: string, force: boolean): Promise<SandboxRow> {
  return ctx.locks.run(id, async () => {
    const row = await ctx.store.get(id);
    if (row.state !== "RUNNING") throw new SandboxError("invalid_state", `cannot stop a sandbox that is ${row.state}`);
    const pid = row.pid;
    if (pid && !force) {
      const agent = await ctx.agents.get(id).catch(() => undefined);
      agent?.shutdown();
      if (!(await ctx.vm.waitForExit(pid, row.dir, sandboxLimits.shutdownGraceMs))) await ctx.vm.kill(pid, row.dir);
    } else if (pid) {
      await ctx.vm.kill(pid, row.dir);
    }
    ctx.agents.drop(id);
    await ctx.store.update(id, { state: "STOPPED", pid: null });
    return ctx.store.get(id);
  });
}

export async function start(ctx: SandboxContext, id: string): Promise<SandboxRow> {
  return ctx.locks.run(id, async () => {
    const row = await ctx.store.get(id);
    if (row.state !== "STOPPED") throw new SandboxError("invalid_state", `cannot start a sandbox that is ${row.state}`);
    const net = JSON.parse(row.network ?? "null") as NetAttachment | null;
    if (!net) throw new SandboxError("host_error", "sandbox has no recorded network attachment");
    await boot(ctx, row, net);
    return ctx.store.get(id);
  });
}

/** Moves the lease's end; the janitor destroys the sandbox then. */
export async function extend(ctx: SandboxContext, id: string, expiresAt: number): Promise<void> {
  const row = await ctx.store.get(id);
  if (row.ended_at) throw new SandboxError("invalid_state", "sandbox has ended");
  await ctx.store.update(id, { expires_at: expiresAt });
}

export async function setEgress(ctx: SandboxContext, id: string, egress: boolean | readonly string[]): Promise<void> {
  const row = await ctx.store.get(id);
  if (row.ended_at) throw new SandboxError("invalid_state", "sandbox has ended");
  await ctx.options.network.setEgress(id, egress);
  await ctx.store.update(id, {
    allow_egress: egress === true ? 1 : 0,
    egress_allow: storedAllowlist(egress),
  });
}
