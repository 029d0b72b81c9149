import { randomUUID } from "node:crypto";
import { link, readdir, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { runChecked } from "../system/run.js";
import type { QmpClient } from "../vm/qmp.js";

/** A copy-on-write qcow2 overlay: milliseconds whatever the size of its base, which it never writes. */
export async function createOverlay(backing: string, path: string): Promise<void> {
  await runChecked(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", backing, path]);
}

/** Every file in a disk's backing chain, the disk itself first. `-U` reads images a running VM holds. */
export async function backingChain(disk: string): Promise<string[]> {
  const info = await runChecked(["qemu-img", "info", "-U", "--backing-chain", "--output=json", disk]);
  return (JSON.parse(info.stdout) as Array<{ filename: string }>).map((layer) => layer.filename);
}

const ACTIVE_NAME = /^disk(?:-(\d+))?\.qcow2$/;

async function generations(dir: string): Promise<number[]> {
  const names = await readdir(dir).catch(() => [] as string[]);
  return names.flatMap((name) => {
    const match = ACTIVE_NAME.exec(name);
    return match ? [Number(match[1] ?? 0)] : [];
  });
}

const generationPath = (dir: string, generation: number) =>
  join(dir, generation === 0 ? "disk.qcow2" : `disk-${generation}.qcow2`);

/**
 * The overlay a sandbox's VM writes: the newest of disk.qcow2, disk-1.qcow2, ... in its directory.
 * A running VM keeps every overlay it has switched away from open under its original name (QEMU
 * cannot save guest RAM once a file it holds has been renamed), so older names stay until the
 * next boot settles them.
 */
export async function activeDisk(dir: string): Promise<string> {
  return generationPath(dir, Math.max(0, ...(await generations(dir))));
}

/**
 * Before a boot, with no QEMU holding the files: the active overlay becomes disk.qcow2 again and
 * the older names go. Each older name is a hard link of a snapshot's layer, which keeps its data;
 * backing files are always named by their snapshot path, never by these names.
 */
export async function settleDisk(dir: string): Promise<string> {
  const settled = generationPath(dir, 0);
  const active = await activeDisk(dir);
  if (active !== settled) await rename(active, settled);
  for (const generation of await generations(dir)) {
    if (generation > 0) await rm(generationPath(dir, generation), { force: true });
  }
  return settled;
}

/** Replaces a stopped sandbox's disk with a fresh overlay on `backing` (a snapshot's layer). */
export async function resetDisk(dir: string, backing: string): Promise<void> {
  for (const generation of await generations(dir)) await rm(generationPath(dir, generation), { force: true });
  await createOverlay(backing, generationPath(dir, 0));
}

/**
 * Turns the active overlay of the sandbox in `dir` into the immutable layer of a snapshot in O(1),
 * whatever its size: the overlay file is hard-linked to `layer` (no data copied), a new empty
 * overlay backed by `layer` becomes the active one, and a running VM (`qmp`) is switched onto it
 * with an external snapshot (`blockdev-snapshot-sync`, which drains and flushes the old one first).
 * From then on the VM writes only the new overlay, and every other user opens the layer as a
 * read-only backing file, so nothing writes a snapshot's layer again. The caller quiesces the guest.
 */
export async function sealActiveLayer(dir: string, layer: string, qmp?: QmpClient): Promise<string> {
  const generation = Math.max(0, ...(await generations(dir)));
  const active = generationPath(dir, generation);
  const next = generationPath(dir, generation + 1);
  const info = await runChecked(["qemu-img", "info", "-U", "--output=json", active]);
  const size = (JSON.parse(info.stdout) as { "virtual-size": number })["virtual-size"];
  await link(active, layer);
  try {
    // -u: the size is given, so the layer (open in the VM) need not be opened to create its child.
    await runChecked(["qemu-img", "create", "-q", "-f", "qcow2", "-u", "-F", "qcow2", "-b", layer, next, String(size)]);
    await qmp?.execute("blockdev-snapshot-sync", {
      device: "root",
      "snapshot-file": next,
      format: "qcow2",
      mode: "existing",
    });
  } catch (err) {
    await rm(next, { force: true });
    await rm(layer, { force: true });
    throw err;
  }
  return next;
}

/**
 * Every snapshot adds a layer under a sandbox's disk, and every read that misses the top walks
 * down the chain. Past `maxLayers` layers above the image, a running VM streams them into its
 * active overlay in the background (`block-stream` down to the image): only the active overlay
 * is written, the layers stay intact for their snapshots, and when the job ends the overlay's
 * backing file is the image again, so the layers no longer hold up deleting those snapshots. The
 * job needs no client; if it fails the disk simply keeps its chain. Returns whether one started.
 */
export async function streamLongChain(
  qmp: Pick<QmpClient, "execute">,
  active: string,
  image: string,
  maxLayers: number,
): Promise<boolean> {
  const chain = await backingChain(active);
  const layers = chain.indexOf(image) - 1;
  if (layers <= maxLayers) return false;
  await qmp.execute("block-stream", { "job-id": `stream-${randomUUID()}`, device: "root", base: image });
  return true;
}
