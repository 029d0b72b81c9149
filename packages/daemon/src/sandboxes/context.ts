import { GuestAgent } from "../agent/client.js";
import { DEFAULT_TCG_CACHE_MB, vmPaths } from "../vm/qemu.js";
import { GuestAgents } from "./agents.js";
import { sandboxLimits } from "./defaults.js";
import { KeyedLocks } from "./locks.js";
import { SandboxStore } from "./store.js";
import type { ManagerOptions, ResolvedOptions } from "./types.js";
import { qemuVms, type VmControl } from "./vm-control.js";

/** What the sandbox modules share: options, the tables, per-sandbox locks, agent connections and QEMU. */
export interface SandboxContext {
  options: ResolvedOptions;
  store: SandboxStore;
  /** Serialises lifecycle operations on one sandbox (exec and file access do not take the lock). */
  locks: KeyedLocks;
  agents: GuestAgents;
  vm: VmControl;
}

export function sandboxContext(options: ManagerOptions): SandboxContext {
  const resolved: ResolvedOptions = {
    machine: "microvm",
    tcgCacheMb: DEFAULT_TCG_CACHE_MB,
    bootTimeoutMs: sandboxLimits.bootTimeoutMs,
    maxOutputBytes: sandboxLimits.maxOutputBytes,
    maxFrozenMs: sandboxLimits.maxFrozenMs,
    vm: qemuVms,
    ...options,
  };
  const store = new SandboxStore(resolved.db);
  return {
    options: resolved,
    store,
    locks: new KeyedLocks(),
    agents: new GuestAgents(async (id) =>
      GuestAgent.connect(vmPaths((await store.get(id)).dir).agent, resolved.bootTimeoutMs),
    ),
    vm: resolved.vm,
  };
}
