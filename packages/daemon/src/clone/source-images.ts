import { createHash } from "node:crypto";
import { mkdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { fetchDeb } from "../images/debs.js";
import { removeTree } from "../images/remove-tree.js";
import { extractGuestAgent, type GuestAgentBundle } from "../images/rootfs.js";
import { type ImageManifest, type ImageStore, validateImageName } from "../images/store.js";
import { extractBootFiles } from "./boot-files.js";
import { flattenChain } from "./disk-chain.js";
import { prepareClone } from "./hygiene.js";
import type { CopiedDisk, PullProgress } from "./pull.js";

/** Debian's package of the QEMU guest agent, which clones without one get a copy of. */
const GUEST_AGENT_PACKAGE = "qemu-guest-agent";

/** What a pulled image records about where it came from (`<image dir>/<image>/source.json`). */
export const sourceRecordSchema = z.object({
  image: z.string(),
  hostId: z.string(),
  vm: z.string(),
  /** The VM's disk as the source host has it. */
  disk: z.object({ target: z.string(), path: z.string() }),
  /** When the disk was frozen: the image shows the VM as of then. */
  capturedAt: z.iso.datetime(),
  /** When the pull finished. */
  pulledAt: z.iso.datetime(),
  bytesCopied: z.number().int().nonnegative(),
  /** The image on this host: disk, kernel and initramfs. */
  sizeBytes: z.number().int().nonnegative(),
  kernelVersion: z.string(),
  kernelFrom: z.string(),
  initrdFrom: z.string(),
  rootDevice: z.string(),
  /** The disk carries fluid's guest files and boots as a sandbox as it is. */
  fluidGuest: z.boolean(),
  /** Identity files clone hygiene removed (host keys, machine id, …); records from before it lack this. */
  scrubbed: z.array(z.string()).default([]),
  /** fluid's guest files written into a disk that had none; records from before it lack this. */
  injected: z.array(z.string()).default([]),
  warnings: z.array(z.string()),
});

export type SourceImageRecord = z.infer<typeof sourceRecordSchema>;

export interface PullResult extends SourceImageRecord {
  /** Served from the cache, no copy made. */
  cached: boolean;
  /** Joined a pull of the same VM that was already running. */
  coalesced: boolean;
}

export interface PullRequest {
  hostId: string;
  vm: string;
  /** Ignore a cached image and copy again. */
  fresh?: boolean | undefined;
  onProgress?: ((progress: PullProgress) => void) | undefined;
  /** Copies the disk's layers into `workDir` (snapshot, copy, commit back). */
  copy: (workDir: string, onProgress: (progress: PullProgress) => void) => Promise<CopiedDisk>;
}

const clean = (value: string) =>
  value
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, "-")
    .replace(/^-+|-+$/g, "");

/**
 * `src-<host>-<vm>`, lowercased with anything outside [a-z0-9_-] turned into "-". When that lost
 * information (or is long) a hash of the exact pair is appended, so two VMs never share an image.
 */
export function sourceImageName(hostId: string, vm: string): string {
  const host = clean(hostId) || "host";
  const name = clean(vm) || "vm";
  const base = `src-${host}-${name}`;
  if (host === hostId && name === vm && base.length <= 100) return validateImageName(base);
  const hash = createHash("sha256").update(`${hostId}\0${vm}`).digest("hex").slice(0, 10);
  return validateImageName(`${base.slice(0, 100).replace(/-+$/, "")}-${hash}`);
}

interface InFlight {
  listeners: Set<(progress: PullProgress) => void>;
  done: Promise<SourceImageRecord>;
}

/**
 * Pulled images in the daemon's image store, cached per (source host, VM): a pull is served from
 * the image when one exists (unless `fresh`), and concurrent pulls of the same VM share one copy.
 * Each image is a normal image (manifest.json, vmlinux, initramfs.cpio, disk) plus source.json.
 */
export class SourceImages {
  private readonly inflight = new Map<string, InFlight>();

  constructor(
    readonly store: ImageStore,
    private readonly options: {
      fallbackImage?: string | undefined;
      /** qemu-ga for disks without one, unpacked into `dir` (default: Debian's package, downloaded once). */
      guestAgent?: ((dir: string) => Promise<GuestAgentBundle>) | undefined;
    } = {},
  ) {}

  /**
   * fluid's copy of qemu-ga for a clone that has none, unpacked into the pull's scratch `dir`; the
   * package is downloaded into the image cache the first time.
   */
  private async guestAgent(dir: string): Promise<GuestAgentBundle> {
    if (this.options.guestAgent) return this.options.guestAgent(dir);
    return extractGuestAgent(await fetchDeb(GUEST_AGENT_PACKAGE, join(this.store.cacheDir, "debs")), dir);
  }

  /** The cached image of a VM, if there is a complete one. */
  async cached(hostId: string, vm: string): Promise<SourceImageRecord | undefined> {
    const name = sourceImageName(hostId, vm);
    try {
      await this.store.get(name);
      const record = sourceRecordSchema.parse(
        JSON.parse(await readFile(join(this.store.dir, name, "source.json"), "utf8")),
      );
      return record.hostId === hostId && record.vm === vm ? record : undefined;
    } catch {
      return undefined;
    }
  }

  async pull(request: PullRequest): Promise<PullResult> {
    const name = sourceImageName(request.hostId, request.vm);
    const running = this.inflight.get(name);
    if (running) {
      // Already copying: that copy is as fresh as a new one would be.
      if (request.onProgress) running.listeners.add(request.onProgress);
      try {
        return { ...(await running.done), cached: false, coalesced: true };
      } finally {
        if (request.onProgress) running.listeners.delete(request.onProgress);
      }
    }
    if (!request.fresh) {
      const record = await this.cached(request.hostId, request.vm);
      if (record) return { ...record, cached: true, coalesced: false };
      // A pull may have started while we looked.
      const started = this.inflight.get(name);
      if (started) return this.pull(request);
    }
    const listeners = new Set<(progress: PullProgress) => void>();
    if (request.onProgress) listeners.add(request.onProgress);
    const emit = (progress: PullProgress) => {
      for (const listener of listeners) {
        try {
          listener(progress);
        } catch {
          // a listener's failure must not break the pull
        }
      }
    };
    const done = this.build(name, request, emit);
    this.inflight.set(name, { listeners, done });
    try {
      return { ...(await done), cached: false, coalesced: false };
    } finally {
      this.inflight.delete(name);
    }
  }

  private async build(
    name: string,
    request: PullRequest,
    emit: (progress: PullProgress) => void,
  ): Promise<SourceImageRecord> {
    const buildDir = await this.store.beginBuild(name);
    const work = join(buildDir, "work");
    try {
      await mkdir(work);
      const copied = await request.copy(work, emit);
      // The local phases report how far they are as a share of the bytes copied.
      const share = (phase: "flatten" | "boot-files") => (fraction: number) =>
        emit({ phase, bytesCopied: Math.round(fraction * copied.bytesCopied), totalBytes: copied.bytesCopied });
      share("flatten")(0);
      // A name per capture: a stopped sandbox whose overlay points at a replaced image fails to
      // start instead of booting on a different disk.
      const diskFile = `disk-${copied.capturedAt.replace(/[^0-9]/g, "").slice(0, 14)}.qcow2`;
      await flattenChain(copied.layers, join(buildDir, diskFile), share("flatten"));
      share("boot-files")(0);
      const boot = await extractBootFiles({
        disk: join(buildDir, diskFile),
        workDir: work,
        outDir: buildDir,
        images: this.store,
        fallbackImage: this.options.fallbackImage,
        prepare: (root) => prepareClone(root, { inject: { guestAgent: () => this.guestAgent(join(work, "qga")) } }),
        onProgress: share("boot-files"),
      });
      await removeTree(work);
      let sizeBytes = 0;
      for (const file of ["vmlinux", "initramfs.cpio", diskFile]) sizeBytes += (await stat(join(buildDir, file))).size;
      const pulledAt = new Date().toISOString();
      const warnings = [...boot.warnings];
      if (!boot.fluidGuest) {
        warnings.push("the disk has no fluid guest files (/fluid/init); it cannot boot as a sandbox");
      }
      const record: SourceImageRecord = {
        image: name,
        hostId: request.hostId,
        vm: request.vm,
        disk: { target: copied.disk.target, path: copied.disk.source ?? "" },
        capturedAt: copied.capturedAt,
        pulledAt,
        bytesCopied: copied.bytesCopied,
        sizeBytes,
        kernelVersion: boot.kernelVersion,
        kernelFrom: boot.kernelFrom,
        initrdFrom: boot.initrdFrom,
        rootDevice: boot.rootDevice,
        fluidGuest: boot.fluidGuest,
        scrubbed: boot.scrubbed,
        injected: boot.injected,
        warnings,
      };
      const manifest: ImageManifest = {
        name,
        recipe: "source-vm",
        recipeHash: createHash("sha256").update(`${request.hostId}\0${request.vm}\0${copied.capturedAt}`).digest("hex"),
        kernel: "vmlinux",
        initrd: "initramfs.cpio",
        disk: diskFile,
        rootDevice: boot.rootDevice,
        kernelVersion: boot.kernelVersion,
        sshd: boot.sshd,
        boot: boot.boot,
        agent: "qga",
        sizeBytes,
        builtAt: pulledAt,
      };
      await writeFile(join(buildDir, "manifest.json"), `${JSON.stringify(manifest, null, 2)}\n`);
      await writeFile(join(buildDir, "source.json"), `${JSON.stringify(record, null, 2)}\n`);
      await this.store.commitBuild(name, buildDir);
      emit({ phase: "done", bytesCopied: copied.bytesCopied, totalBytes: copied.bytesCopied });
      return record;
    } catch (err) {
      await removeTree(buildDir);
      throw err;
    }
  }
}
