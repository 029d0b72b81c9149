import { randomBytes } from "node:crypto";
import { statfs } from "node:fs/promises";
import { posix } from "node:path";
import { choosePullDisk, isCopyableDisk, type Libvirt, validateVmName } from "../remote/libvirt.js";
import { SourceError } from "../remote/source-error.js";
import type { RemoteRunner } from "../remote/ssh-session.js";
import { type BlockDevice, describeBlockDevices, sameBlockDevices } from "../remote/virsh-output.js";
import { copyChain, type LocalLayer, type RemoteLayer, remoteChain } from "./disk-chain.js";
import type { PullJournal, PullJournalEntry } from "./pull-journal.js";

export type PullPhase = "snapshot" | "copy" | "commit" | "flatten" | "boot-files" | "done";

export interface PullProgress {
  phase: PullPhase;
  bytesCopied: number;
  /** Sum of the chain's file sizes, once known. */
  totalBytes: number | undefined;
}

export interface CopyDiskOptions {
  hostId: string;
  /** Local directory for the copied layers. */
  workDir: string;
  journal: PullJournal;
  /** The disk to copy (guest target such as vda); default: the VM's first file or block disk. */
  diskTarget?: string | undefined;
  /** Where overlays of block-device disks go on the source host (file disks get theirs next to the file). */
  overlayDir?: string | undefined;
  onProgress?: ((progress: PullProgress) => void) | undefined;
  signal?: AbortSignal | undefined;
  /** Free bytes where the layers are copied to (tests override). */
  freeBytes?: (dir: string) => Promise<number>;
}

export interface CopiedDisk {
  /** Copied images, base first. */
  layers: LocalLayer[];
  /** The disk as the VM had it. */
  disk: BlockDevice;
  remoteLayers: RemoteLayer[];
  bytesCopied: number;
  /** When the disk was frozen (the snapshot): the copy shows the VM as of then. */
  capturedAt: string;
}

const OVERLAY_MARKER = ".fluid-pull-";
const DEFAULT_BLOCK_OVERLAY_DIR = "/var/lib/libvirt/images";

async function localFreeBytes(dir: string): Promise<number> {
  const fs = await statfs(dir);
  return fs.bavail * fs.bsize;
}

/** Where the temporary overlay of one disk goes: next to a file disk, in `overlayDir` for a block device. */
export function overlayPath(vm: string, device: BlockDevice, tag: string, overlayDir?: string): string {
  const source = device.source ?? "";
  if (device.type === "file" && source.startsWith("/")) {
    return `${posix.dirname(source)}/${posix.basename(source)}${OVERLAY_MARKER}${tag}.qcow2`;
  }
  const dir = overlayDir ?? DEFAULT_BLOCK_OVERLAY_DIR;
  if (!dir.startsWith("/") || /[\0\r\n]/.test(dir))
    throw new SourceError("invalid_request", "overlayDir must be absolute");
  return `${dir.replace(/\/+$/, "")}/${vm}-${device.target}${OVERLAY_MARKER}${tag}.qcow2`;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Puts the VM back on the disks it had: merges every overlay that is still active into the image
 * below it, checks `domblklist` against `entry.before`, removes the overlay files and the journal
 * entry. Throws `disk_chain_changed` or `commit_failed` (leaving the journal entry) when it cannot.
 * `assumeActive`: when the current disk list cannot be read, try to commit every overlay.
 */
export async function restoreDisks(
  libvirt: Libvirt,
  remote: RemoteRunner,
  journal: PullJournal,
  entry: PullJournalEntry,
  options: { assumeActive: boolean; requireSameChain: boolean },
): Promise<void> {
  const { vm } = entry;
  const current = await libvirt.domblklist(vm).catch(() => undefined);
  const commitErrors: string[] = [];
  for (const overlay of entry.overlays) {
    const active = current
      ? current.some((device) => device.target === overlay.target && device.source === overlay.path)
      : options.assumeActive;
    if (!active) continue;
    try {
      await libvirt.settleBlockJob(vm, overlay.target);
      const after = await libvirt.domblklist(vm).catch(() => undefined);
      if (after && !after.some((device) => device.target === overlay.target && device.source === overlay.path))
        continue;
      await libvirt.commitOverlay(vm, overlay.target);
    } catch (err) {
      commitErrors.push(`${overlay.target}: ${errorText(err)}`);
    }
  }
  const after = await libvirt.domblklist(vm);
  const stillActive = entry.overlays.filter((overlay) =>
    after.some((device) => device.target === overlay.target && device.source === overlay.path),
  );
  if (stillActive.length > 0) {
    throw new SourceError(
      "commit_failed",
      `VM ${vm} still writes to fluid's temporary overlay(s) ${stillActive.map((o) => `${o.target}=${o.path}`).join(", ")}` +
        ` (${commitErrors.join("; ") || "blockcommit did not pivot"}); the next pull retries, or run on the host: ` +
        stillActive.map((o) => `virsh blockcommit ${vm} ${o.target} --active --shallow --pivot`).join(" && "),
    );
  }
  const leftovers = entry.overlays
    .map((overlay) => overlay.path)
    .filter((path) => !after.some((d) => d.source === path));
  if (leftovers.length > 0) await remote.run(["rm", "-f", "--", ...leftovers]);
  if (options.requireSameChain && !sameBlockDevices(entry.before, after)) {
    throw new SourceError(
      "disk_chain_changed",
      `VM ${vm}'s disks changed during the pull: before ${describeBlockDevices(entry.before)}; now ${describeBlockDevices(after)}`,
    );
  }
  await journal.remove(entry);
}

/**
 * Finishes pulls of `vm` that a previous daemon process left half done: overlays still active are
 * merged back and their files removed. The VM's disks may legitimately have changed since (an
 * operator), so the recorded chain is not enforced here.
 */
export async function recoverInterruptedPulls(
  libvirt: Libvirt,
  remote: RemoteRunner,
  journal: PullJournal,
  hostId: string,
  vm: string,
): Promise<number> {
  const entries = await journal.pending(hostId, vm);
  for (const entry of entries) {
    await restoreDisks(libvirt, remote, journal, entry, { assumeActive: false, requireSameChain: false });
  }
  return entries.length;
}

/**
 * Copies a running VM's disk without writing to its disk chain:
 * 1. record `domblklist` (and a journal entry, in case the daemon dies half-way);
 * 2. `snapshot-create-as --disk-only --atomic --no-metadata`: every file/block disk gets a new qcow2
 *    overlay that takes the guest's writes, so the disk to copy is no longer written and is stable;
 * 3. copy that disk's backing chain here with `cat` over SSH;
 * 4. always, also when 2 or 3 failed: `blockcommit --active --shallow --pivot` each overlay back
 *    into the image below it, check `domblklist` equals what was recorded (fails loudly if not) and
 *    delete the overlay files.
 * The writes the guest made during the copy end up in its own disk, exactly as without the pull;
 * the copy is crash-consistent as of the snapshot.
 */
export async function copyRunningVmDisk(
  libvirt: Libvirt,
  remote: RemoteRunner,
  vm: string,
  options: CopyDiskOptions,
): Promise<CopiedDisk> {
  validateVmName(vm);
  await recoverInterruptedPulls(libvirt, remote, options.journal, options.hostId, vm);
  const info = await libvirt.dominfo(vm);
  if (info.state !== "running") {
    throw new SourceError("invalid_state", `VM ${vm} is ${info.state}; fluid pulls running VMs`);
  }
  const before = await libvirt.domblklist(vm);
  const disk = choosePullDisk(before, options.diskTarget);
  const foreign = before.find((device) => device.source?.includes(OVERLAY_MARKER));
  if (foreign) {
    throw new SourceError(
      "invalid_state",
      `VM ${vm} runs on ${foreign.source}, a temporary overlay of another fluid pull; merge it back first`,
    );
  }
  const tag = randomBytes(4).toString("hex");
  const snapshot = `fluid-pull-${tag}`;
  const overlays = new Map<string, string>();
  for (const device of before.filter(isCopyableDisk)) {
    overlays.set(device.target, overlayPath(vm, device, tag, options.overlayDir));
  }
  // libvirt refuses to overwrite an existing file, and the cleanup deletes these paths: make sure
  // they are new.
  for (const path of overlays.values()) {
    const exists = await remote.run(["test", "-e", path], { check: false });
    if (exists.code === 0) throw new SourceError("invalid_state", `${path} already exists on the host`);
  }
  const entry: PullJournalEntry = {
    hostId: options.hostId,
    vm,
    snapshot,
    startedAt: new Date().toISOString(),
    before,
    overlays: [...overlays].map(([target, path]) => ({ target, path })),
  };
  const progress = (phase: PullPhase, bytesCopied: number, totalBytes: number | undefined) =>
    options.onProgress?.({ phase, bytesCopied, totalBytes });

  await options.journal.record(entry);
  let snapshotAttempted = false;
  let copyError: unknown;
  let copied: CopiedDisk | undefined;
  try {
    progress("snapshot", 0, undefined);
    snapshotAttempted = true;
    await libvirt.snapshotToOverlays(vm, snapshot, before, overlays);
    const capturedAt = new Date().toISOString();
    const layers = await remoteChain(remote, disk.source as string);
    const total = layers.every((layer) => layer.sizeBytes !== undefined)
      ? layers.reduce((sum, layer) => sum + (layer.sizeBytes ?? 0), 0)
      : undefined;
    if (total !== undefined) {
      const free = await (options.freeBytes ?? localFreeBytes)(options.workDir);
      // The copied layers plus the flattened image next to them.
      if (free < 2 * total) {
        throw new SourceError(
          "host_error",
          `not enough space in ${options.workDir}: the disk chain is ${total} bytes, ${free} bytes free (need twice that)`,
        );
      }
    }
    progress("copy", 0, total);
    const result = await copyChain(remote, layers, options.workDir, {
      onBytes: (bytes) => progress("copy", bytes, total),
      signal: options.signal,
    });
    copied = { layers: result.layers, disk, remoteLayers: layers, bytesCopied: result.bytes, capturedAt };
  } catch (err) {
    copyError = err;
  }

  progress("commit", copied?.bytesCopied ?? 0, undefined);
  try {
    await restoreDisks(libvirt, remote, options.journal, entry, {
      assumeActive: snapshotAttempted,
      requireSameChain: true,
    });
  } catch (restoreError) {
    if (copyError && restoreError instanceof Error) {
      restoreError.message += ` (the copy had failed too: ${errorText(copyError)})`;
    }
    throw restoreError;
  }
  if (copyError || !copied) throw copyError;
  return copied;
}
