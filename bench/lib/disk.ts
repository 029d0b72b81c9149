import { link, mkdir } from "node:fs/promises";
import { join } from "node:path";
import { sealActiveLayer } from "../../packages/daemon/src/sandboxes/disk-layers.ts";
import { runChecked } from "../../packages/daemon/src/system/run.ts";
import { time } from "./stats.ts";

/** qcow2 overlay create on a 20 GiB base and on a 1 GiB base, `samples` times each. */
export async function overlayCreateMs(scratch: string, samples: number): Promise<Record<"1G" | "20G", number[]>> {
  const overlay: Record<"1G" | "20G", number[]> = { "1G": [], "20G": [] };
  for (const size of ["1G", "20G"] as const) {
    const baseFile = join(scratch, `base-${size}.qcow2`);
    await runChecked(["qemu-img", "create", "-q", "-f", "qcow2", baseFile, size]);
    for (let i = 0; i < samples; i++) {
      const target = join(scratch, `ov-${size}-${i}.qcow2`);
      overlay[size].push(
        await time(() =>
          runChecked(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", baseFile, target]),
        ),
      );
    }
  }
  return overlay;
}

/**
 * The daemon's own snapshot step on overlays holding 100 MiB and 2 GiB of written data. Each
 * sample seals a fresh name for the same filled overlay (sealing never writes the overlay itself);
 * the two sizes alternate, so load drift on the machine hits both alike.
 */
export async function diskSnapshotMs(scratch: string, samples: number): Promise<Record<"100M" | "2G", number[]>> {
  const sizes = { "100M": 100, "2G": 2048 } as const;
  const sealMs: Record<"100M" | "2G", number[]> = { "100M": [], "2G": [] };
  for (const [size, mib] of Object.entries(sizes)) {
    const baseFile = join(scratch, `snap-base-${size}.qcow2`);
    const filled = join(scratch, `snap-filled-${size}.qcow2`);
    await runChecked(["qemu-img", "create", "-q", "-f", "qcow2", baseFile, "4G"]);
    await runChecked(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", baseFile, filled]);
    // qemu-io writes at most just under 2 GiB per request.
    for (let offset = 0; offset < mib; offset += 1024) {
      const length = Math.min(1024, mib - offset);
      await runChecked(["qemu-io", "-f", "qcow2", "-c", `write -P 0x5a ${offset}M ${length}M`, filled]);
    }
  }
  for (let i = 0; i < samples; i++) {
    for (const size of Object.keys(sizes) as Array<keyof typeof sizes>) {
      const sandboxDir = join(scratch, `snap-sandbox-${size}-${i}`);
      await mkdir(sandboxDir);
      await link(join(scratch, `snap-filled-${size}.qcow2`), join(sandboxDir, "disk.qcow2"));
      const layer = join(scratch, `snap-layer-${size}-${i}.qcow2`);
      sealMs[size].push(await time(() => sealActiveLayer(sandboxDir, layer)));
    }
  }
  return sealMs;
}
