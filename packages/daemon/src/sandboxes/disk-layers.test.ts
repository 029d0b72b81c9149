import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { run, runChecked } from "../system/run.js";
import type { QmpClient } from "../vm/qmp.js";
import {
  activeDisk,
  backingChain,
  createOverlay,
  sealActiveLayer,
  settleDisk,
  streamLongChain,
} from "./disk-layers.js";

const holds = async (disk: string, pattern: number) =>
  (await run(["qemu-io", "-f", "qcow2", "-c", `read -P ${pattern} 0 1M`, disk])).code === 0;
const write = (disk: string, pattern: number) =>
  runChecked(["qemu-io", "-f", "qcow2", "-c", `write -P ${pattern} 0 1M`, disk]);

/** Records QMP commands without a VM. */
const recorder = (fail?: string) => {
  const calls: Array<[string, Record<string, unknown>]> = [];
  const qmp = {
    execute: async (command: string, args: Record<string, unknown>) => {
      if (fail) throw new Error(fail);
      calls.push([command, args]);
    },
  } as unknown as QmpClient;
  return { calls, qmp };
};

describe("disk layers", () => {
  let scratch: string;
  let image: string;
  let dir: string;
  let layer: string;

  beforeEach(async () => {
    scratch = mkdtempSync(join(tmpdir(), "fluid-layers-"));
    image = join(scratch, "image.qcow2");
    dir = join(scratch, "sandbox");
    layer = join(scratch, "snapshot-disk.qcow2");
    mkdirSync(dir);
    await runChecked(["qemu-img", "create", "-q", "-f", "qcow2", image, "64M"]);
    await createOverlay(image, join(dir, "disk.qcow2"));
    await write(join(dir, "disk.qcow2"), 0xaa);
  });

  afterEach(() => {
    rmSync(scratch, { recursive: true, force: true });
  });

  it("a disk snapshot copies nothing: the overlay itself becomes the snapshot's layer", async () => {
    const overlayInode = statSync(join(dir, "disk.qcow2")).ino;
    const next = await sealActiveLayer(dir, layer);
    expect(statSync(layer).ino).toBe(overlayInode);
    expect(next).toBe(join(dir, "disk-1.qcow2"));
    expect(await activeDisk(dir)).toBe(next);
    expect(await backingChain(next)).toEqual([next, layer, image]);
  });

  it("the sandbox keeps its bytes after a snapshot, and its later writes never reach the layer", async () => {
    const next = await sealActiveLayer(dir, layer);
    expect(await holds(next, 0xaa)).toBe(true);
    const layerBefore = await runChecked(["sha256sum", layer]);
    await write(next, 0xbb);
    expect(await holds(next, 0xbb)).toBe(true);
    expect(await holds(layer, 0xaa)).toBe(true);
    expect((await runChecked(["sha256sum", layer])).stdout).toBe(layerBefore.stdout);
  });

  it("switches a running VM onto the new overlay under its final name (QEMU's open files are never renamed)", async () => {
    const { calls, qmp } = recorder();
    const next = await sealActiveLayer(dir, layer, qmp);
    expect(calls).toEqual([
      ["blockdev-snapshot-sync", { device: "root", "snapshot-file": next, format: "qcow2", mode: "existing" }],
    ]);
    expect(existsSync(join(dir, "disk.qcow2"))).toBe(true);
  });

  it("a snapshot QEMU refuses leaves the sandbox's disk as it was", async () => {
    const { qmp } = recorder("QMP GenericError: no such device");
    await expect(sealActiveLayer(dir, layer, qmp)).rejects.toThrow("no such device");
    expect(existsSync(layer)).toBe(false);
    expect(readdirSync(dir)).toEqual(["disk.qcow2"]);
    expect(await backingChain(join(dir, "disk.qcow2"))).toEqual([join(dir, "disk.qcow2"), image]);
  });

  it("the next boot settles the active overlay back to disk.qcow2, keeping its data and chain", async () => {
    await sealActiveLayer(dir, layer);
    await write(await activeDisk(dir), 0xcc);
    const settled = await settleDisk(dir);
    expect(settled).toBe(join(dir, "disk.qcow2"));
    expect(readdirSync(dir)).toEqual(["disk.qcow2"]);
    expect(await holds(settled, 0xcc)).toBe(true);
    expect(await holds(layer, 0xaa)).toBe(true);
    expect(await backingChain(settled)).toEqual([settled, layer, image]);
  });

  it("a chain grown long by snapshots is streamed into the active overlay, down to the image", async () => {
    for (let i = 0; i < 3; i++) await sealActiveLayer(dir, join(scratch, `layer-${i}.qcow2`));
    const { calls, qmp } = recorder();
    expect(await streamLongChain(qmp, await activeDisk(dir), image, 2)).toBe(true);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.[0]).toBe("block-stream");
    expect(calls[0]?.[1]).toMatchObject({ device: "root", base: image });
  });

  it("a short chain is left alone", async () => {
    for (let i = 0; i < 2; i++) await sealActiveLayer(dir, join(scratch, `layer-${i}.qcow2`));
    const { calls, qmp } = recorder();
    expect(await streamLongChain(qmp, await activeDisk(dir), image, 2)).toBe(false);
    expect(calls).toEqual([]);
  });
});
