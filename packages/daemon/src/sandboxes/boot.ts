import { rm } from "node:fs/promises";
import { join } from "node:path";
import { recordListeningBaseline } from "../agent/guest-sockets.js";
import type { ResolvedImage } from "../images/source.js";
import type { SandboxRow, SnapshotRow } from "../state/schema.js";
import { kernelCmdline } from "../vm/kernel-cmdline.js";
import type { VmSpec } from "../vm/qemu.js";
import type { QmpClient } from "../vm/qmp.js";
import type { SandboxContext } from "./context.js";
import { settleDisk } from "./disk-layers.js";
import { hostnameFor, identityParams } from "./identity.js";
import type { NetAttachment } from "./ports.js";
import type { ResolvedOptions } from "./types.js";
import { withQmp } from "./vm-control.js";

/** The QEMU launch for `row` on `disk`, resuming guest RAM from `incomingFile` when given. */
export function vmSpec(
  options: Pick<ResolvedOptions, "accel" | "tscKhz" | "tcgCacheMb" | "machine">,
  row: SandboxRow,
  disk: string,
  image: Pick<ResolvedImage, "kernel" | "initrd" | "rootDevice" | "boot">,
  net: NetAttachment,
  incomingFile?: string,
): VmSpec {
  const cmdline = kernelCmdline({
    rootDevice: image.rootDevice ?? "/dev/vda",
    boot: image.boot ?? "fast",
    tscKhz: options.accel === "tcg" ? options.tscKhz : undefined,
    identity: identityParams(hostnameFor(row.name), net),
  });
  return {
    dir: row.dir,
    kernel: image.kernel,
    initrd: image.initrd,
    disk,
    memoryMb: row.memory_mb,
    vcpus: row.vcpus,
    accel: options.accel,
    tcgCacheMb: options.tcgCacheMb,
    machine: options.machine,
    cmdline,
    netArgs: net.qemuArgs,
    incomingFile,
  };
}

/** Launches a VM for `row` from a snapshot (resuming RAM if it has it) and waits for its agent. */
export async function boot(
  ctx: SandboxContext,
  row: SandboxRow,
  net: NetAttachment,
  snapshot?: SnapshotRow,
): Promise<void> {
  const image = await ctx.options.images.resolve(row.image);
  const withMemory = snapshot?.has_memory === 1;
  const disk = await settleDisk(row.dir);
  const launchedAt = performance.now();
  const pid = await ctx.vm.launch(
    vmSpec(ctx.options, row, disk, image, net, withMemory ? join(snapshot.dir, "memory.state") : undefined),
  );
  await ctx.store.update(row.id, { pid });
  if (withMemory) {
    await withQmp(ctx.vm, row.dir, async (qmp) => {
      await waitForIncoming(qmp);
      await qmp.execute("cont");
    });
  }
  const agent = await ctx.agents.get(row.id);
  ctx.options.observe?.booted((performance.now() - launchedAt) / 1000, withMemory ? "resume" : "cold");
  await recordListeningBaseline(agent, row.dir, ctx.options.log);
  await ctx.store.update(row.id, { state: "RUNNING" });
}

/** Kills the VM and removes everything created for it: process, network, overlay and sockets. */
export async function teardown(ctx: SandboxContext, id: string): Promise<void> {
  ctx.agents.drop(id);
  const row = await ctx.store.find(id);
  if (!row) return;
  const pid = row.pid ?? (await ctx.vm.pidOf(row.dir));
  if (pid) await ctx.vm.kill(pid, row.dir);
  await ctx.options.network.detach(id);
  await rm(row.dir, { recursive: true, force: true });
}

async function waitForIncoming(qmp: QmpClient): Promise<void> {
  for (;;) {
    const status = await qmp.execute<{ status: string }>("query-status");
    if (status.status === "paused" || status.status === "running") return;
    if (status.status === "inmigrate") {
      await new Promise((resolve) => setTimeout(resolve, 20));
      continue;
    }
    throw new Error(`restoring guest memory failed: VM is ${status.status}`);
  }
}
