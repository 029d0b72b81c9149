import { copyFile, mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ImageStore, validateImageName } from "../images/store.js";
import { makeGuestDisk } from "../testing/fake-guest-disk.js";
import type { PullProgress } from "./pull.js";
import { type PullRequest, SourceImages, sourceImageName } from "./source-images.js";

describe("source image names", () => {
  it("is src-<host>-<vm> when both are already clean", () => {
    expect(sourceImageName("kvm1", "web-1")).toBe("src-kvm1-web-1");
  });

  it("adds a hash when cleaning changed anything, so different VMs never share an image", () => {
    const a = sourceImageName("KVM 1", "Web.Prod");
    const b = sourceImageName("kvm-1", "web-prod");
    const c = sourceImageName("KVM 1", "web.prod");
    expect(a).toMatch(/^src-kvm-1-web-prod-[0-9a-f]{10}$/);
    expect(new Set([a, b, c]).size).toBe(3);
    const long = sourceImageName("h".repeat(128), "v".repeat(64));
    expect(validateImageName(long)).toBe(long);
    expect(long.length).toBeLessThanOrEqual(128);
  });
});

describe("SourceImages: cache and coalescing", () => {
  let dir: string;
  let guestDisk: string;
  let images: SourceImages;
  let copies: number;

  const copy =
    (options: { delayMs?: number; fail?: boolean } = {}): PullRequest["copy"] =>
    async (workDir, onProgress) => {
      copies++;
      const capturedAt = new Date().toISOString();
      onProgress({ phase: "copy", bytesCopied: 0, totalBytes: 100 });
      await new Promise((resolve) => setTimeout(resolve, options.delayMs ?? 0));
      if (options.fail) throw new Error("ssh went away");
      const layer = join(workDir, "layer-0.qcow2");
      await copyFile(guestDisk, layer);
      const bytes = (await stat(layer)).size;
      onProgress({ phase: "copy", bytesCopied: bytes, totalBytes: bytes });
      const disk = { type: "file", device: "disk", target: "vda", source: "/var/lib/libvirt/images/web.qcow2" };
      return { layers: [{ path: layer, format: "qcow2" }], disk, remoteLayers: [], bytesCopied: bytes, capturedAt };
    };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "fluid-source-images-"));
    guestDisk = join(dir, "guest.qcow2");
    await makeGuestDisk(dir, guestDisk, { kernelVersion: "6.1.0-99-amd64", modules: true, fluid: true, sshd: true });
    images = new SourceImages(new ImageStore(join(dir, "images")));
    copies = 0;
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("a miss copies, and the image is a complete store image with its source recorded", async () => {
    expect(await images.cached("kvm1", "web")).toBeUndefined();
    const result = await images.pull({ hostId: "kvm1", vm: "web", copy: copy() });
    expect(copies).toBe(1);
    expect(result).toMatchObject({
      image: "src-kvm1-web",
      hostId: "kvm1",
      vm: "web",
      cached: false,
      coalesced: false,
      disk: { target: "vda", path: "/var/lib/libvirt/images/web.qcow2" },
      kernelVersion: "6.1.0-99-amd64",
      kernelFrom: "disk",
      rootDevice: "/dev/vda",
      fluidGuest: true,
      warnings: [],
    });
    const paths = await images.store.get("src-kvm1-web");
    expect(paths.manifest).toMatchObject({ recipe: "source-vm", sshd: true, kernelVersion: "6.1.0-99-amd64" });
    expect(paths.disk).toMatch(/\/disk-\d{14}\.qcow2$/);
    const record = JSON.parse(await readFile(join(paths.dir, "source.json"), "utf8"));
    expect(record.capturedAt).toBe(result.capturedAt);
    expect(result.sizeBytes).toBe(paths.manifest.sizeBytes);
  });

  it("a hit is served from the image without copying", async () => {
    const before = copies;
    const result = await images.pull({ hostId: "kvm1", vm: "web", copy: copy() });
    expect(copies).toBe(before);
    expect(result.cached).toBe(true);
    expect(await images.cached("kvm1", "web")).toMatchObject({ image: "src-kvm1-web", vm: "web" });
    // Another host's VM of the same name is a different image.
    expect(await images.cached("kvm2", "web")).toBeUndefined();
  });

  it("fresh copies again and replaces the image", async () => {
    const before = copies;
    const old = await images.cached("kvm1", "web");
    await new Promise((resolve) => setTimeout(resolve, 5));
    const result = await images.pull({ hostId: "kvm1", vm: "web", fresh: true, copy: copy() });
    expect(copies).toBe(before + 1);
    expect(result.cached).toBe(false);
    expect(result.capturedAt > (old?.capturedAt ?? "")).toBe(true);
    expect((await images.cached("kvm1", "web"))?.capturedAt).toBe(result.capturedAt);
    expect((await images.store.list()).map((image) => image.name)).toEqual(["src-kvm1-web"]);
  });

  it("concurrent pulls of one VM share one copy (fresh ones too) and all see its progress", async () => {
    const before = copies;
    const seen: Record<string, PullProgress[]> = { a: [], b: [], c: [] };
    const first = images.pull({
      hostId: "kvm1",
      vm: "db",
      copy: copy({ delayMs: 300 }),
      onProgress: (p) => seen.a?.push(p),
    });
    while (copies === before) await new Promise((resolve) => setTimeout(resolve, 5));
    const second = images.pull({ hostId: "kvm1", vm: "db", copy: copy(), onProgress: (p) => seen.b?.push(p) });
    const third = images.pull({
      hostId: "kvm1",
      vm: "db",
      fresh: true,
      copy: copy(),
      onProgress: (p) => seen.c?.push(p),
    });
    const [a, b, c] = await Promise.all([first, second, third]);
    expect(copies).toBe(before + 1);
    expect([a.coalesced, b.coalesced, c.coalesced]).toEqual([false, true, true]);
    expect(b.capturedAt).toBe(a.capturedAt);
    expect(c.capturedAt).toBe(a.capturedAt);
    for (const key of ["a", "b", "c"]) expect(seen[key]?.at(-1)?.phase).toBe("done");
    // The local phases report too: converting the disk for its boot files moves as qemu-img goes.
    const bootFiles = (seen.a ?? []).filter((p) => p.phase === "boot-files").map((p) => p.bytesCopied);
    expect(bootFiles[0]).toBe(0);
    expect(Math.max(...bootFiles)).toBeGreaterThan(0);
    expect(seen.a?.map((p) => p.phase)).toEqual(expect.arrayContaining(["copy", "flatten", "boot-files", "done"]));
  });

  it("a failed pull leaves no image and is not shared with the next one", async () => {
    const before = copies;
    const failing = images.pull({ hostId: "kvm1", vm: "cache", copy: copy({ delayMs: 100, fail: true }) });
    // Join only once the failing copy is under way: two cache lookups may finish in either order.
    while (copies === before) await new Promise((resolve) => setTimeout(resolve, 5));
    const joined = images.pull({ hostId: "kvm1", vm: "cache", copy: copy() });
    await expect(failing).rejects.toThrow("ssh went away");
    await expect(joined).rejects.toThrow("ssh went away");
    expect(await images.cached("kvm1", "cache")).toBeUndefined();
    expect((await images.store.list()).some((image) => image.name === "src-kvm1-cache")).toBe(false);
    const retry = await images.pull({ hostId: "kvm1", vm: "cache", copy: copy() });
    expect(retry.cached).toBe(false);
    expect(copies).toBe(before + 2);
  });
});
