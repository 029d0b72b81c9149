import { SandboxError } from "../errors.js";
import { egressOf, storedAllowlist } from "../network/egress.js";
import type { SandboxRow } from "../state/schema.js";
import type { SandboxContext } from "./context.js";
import { setGuestClock, writeIdentity } from "./guest-setup.js";
import { assertSandboxId, defaultName } from "./provision.js";
import type { CreateInput } from "./types.js";
import { withQmp } from "./vm-control.js";

/**
 * Gives a warm pool entry (paused, on its own overlay, address and host keys) to a create: it
 * resumes with the current time, its own hostname and a fresh machine id, then takes the
 * requested id, name, lease and egress. The entry is still the pool's when this throws.
 */
export async function claimPooled(
  ctx: SandboxContext,
  entryId: string,
  input: CreateInput & { id: string },
): Promise<SandboxRow> {
  const id = input.id;
  assertSandboxId(id);
  const { store, locks } = ctx;
  return locks.run(id, () =>
    locks.run(entryId, async () => {
      await store.assertAbsent(id);
      const entry = await store.get(entryId);
      if (entry.pooled !== 1 || entry.state !== "RUNNING" || !entry.network)
        throw new SandboxError("invalid_state", `${entryId} is not a ready warm pool entry`);
      const name = input.name ?? defaultName(id);
      const egress = egressOf(input);
      await withQmp(ctx.vm, entry.dir, (qmp) => qmp.execute("cont"));
      const agent = await ctx.agents.get(entry.id);
      await writeIdentity(agent, name);
      await setGuestClock(agent);
      ctx.agents.rekey(entryId, id);
      const net = await ctx.options.network.rekey(entryId, id, { egress });
      const now = Date.now();
      await store.update(entryId, {
        id,
        name,
        pooled: 0,
        allow_egress: input.allowEgress ? 1 : 0,
        egress_allow: storedAllowlist(egress),
        agent_id: input.agentId ?? null,
        expires_at: input.expiresAt ?? null,
        tap: net.tap ?? null,
        network: JSON.stringify(net),
        created_at: now,
        updated_at: now,
      });
      return store.get(id);
    }),
  );
}

/**
 * Pauses a ready warm pool entry: paused, it holds its memory but uses no CPU. Its clock is set
 * once first, so under TCG the guest code a claim runs to set it again is already translated
 * (tens of milliseconds at claim time instead of hundreds).
 */
export async function parkPooled(ctx: SandboxContext, id: string): Promise<void> {
  const row = await ctx.store.get(id);
  if (row.pooled !== 1) throw new SandboxError("invalid_state", `${id} is not a warm pool entry`);
  await setGuestClock(await ctx.agents.get(id));
  await withQmp(ctx.vm, row.dir, (qmp) => qmp.execute("stop"));
}
