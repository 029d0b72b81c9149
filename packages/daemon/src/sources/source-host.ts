import { join } from "node:path";
import { copyRunningVmDisk, type PullProgress } from "../clone/pull.js";
import { PullJournal } from "../clone/pull-journal.js";
import { type PullResult, type SourceImageRecord, SourceImages } from "../clone/source-images.js";
import type { ImageStore } from "../images/store.js";
import { Libvirt, type SourceVm, type SourceVmList, type VmValidation, validateVmName } from "../remote/libvirt.js";
import { SourceError } from "../remote/source-error.js";
import type { SshTarget } from "../remote/ssh-config.js";
import { SshRunner, type SshRunnerOptions } from "../remote/ssh-runner.js";
import type { SshSession } from "../remote/ssh-session.js";

export interface SourceHostConfig {
  /** The control plane's stable id for the host; keys the image cache (`src-<id>-<vm>`). */
  id: string;
  /** How to reach the host (the key is only held for the duration of a command). */
  ssh: SshTarget;
  /** `virsh -c` URI; default: virsh's own default for the SSH user (qemu:///system for root). */
  libvirtUri?: string | undefined;
  /** Directory on the host for temporary overlays of block-device disks (default /var/lib/libvirt/images). */
  overlayDir?: string | undefined;
}

export interface SourceHostsOptions {
  /** The daemon's state dir: host keys are pinned in `<stateDir>/sources/known_hosts`, pulls journaled in `<stateDir>/sources/pulls`. */
  stateDir: string;
  images: ImageStore;
  /** A local image (e.g. debian-12) whose kernel and initramfs boot pulled disks that bring no usable kernel. */
  fallbackImage?: string | undefined;
  ssh?: Omit<SshRunnerOptions, "knownHostsFile"> | undefined;
}

export interface PullOptions {
  /** Copy again even if a cached image exists. */
  fresh?: boolean | undefined;
  onProgress?: ((progress: PullProgress) => void) | undefined;
  /** Stops the copy; the VM is still put back on its own disks before the pull fails. */
  signal?: AbortSignal | undefined;
  /** The disk to copy (guest target, e.g. vda); default: the first file or block disk. */
  disk?: string | undefined;
}

const hostIdPattern = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

/**
 * Source hosts of one daemon. Holds what must outlive a single command: pinned host keys, the pull
 * journal and the image cache with its in-flight pulls (so pulls coalesce even when each command
 * brings its own credentials and its own SourceHost).
 */
export class SourceHosts {
  readonly knownHostsFile: string;
  readonly journal: PullJournal;
  readonly images: SourceImages;

  constructor(private readonly options: SourceHostsOptions) {
    this.knownHostsFile = join(options.stateDir, "sources", "known_hosts");
    this.journal = new PullJournal(join(options.stateDir, "sources", "pulls"));
    this.images = new SourceImages(options.images, { fallbackImage: options.fallbackImage });
  }

  /** A handle on one host; nothing connects until a method is called. */
  connect(config: SourceHostConfig): SourceHost {
    if (!hostIdPattern.test(config.id)) {
      throw new SourceError("invalid_request", `invalid source host id ${JSON.stringify(config.id)}`);
    }
    const runner = new SshRunner(config.ssh, { ...this.options.ssh, knownHostsFile: this.knownHostsFile });
    return new SourceHost(config, runner, this);
  }
}

/** One libvirt host reached over SSH: list its VMs, check one, pull one into the image store. */
export class SourceHost {
  constructor(
    readonly config: SourceHostConfig,
    private readonly runner: SshRunner,
    private readonly hosts: SourceHosts,
  ) {}

  get id(): string {
    return this.config.id;
  }

  /** Runs `fn` with virsh over one SSH connection (opened and closed around it). */
  session<T>(fn: (libvirt: Libvirt, remote: SshSession) => Promise<T>): Promise<T> {
    return this.runner.session((remote) => fn(new Libvirt(remote, { uri: this.config.libvirtUri }), remote));
  }

  /** Every domain except fluid's sandboxes: state, vCPUs, memory and (running ones) IPv4 addresses. */
  listVMs(): Promise<SourceVmList> {
    return this.session((libvirt) => libvirt.listVMs());
  }

  /** One VM: state and (running) addresses. */
  vm(name: string): Promise<SourceVm> {
    return this.session((libvirt) => libvirt.vm(name));
  }

  validate(vm: string, options: { disk?: string | undefined } = {}): Promise<VmValidation> {
    return this.session((libvirt) => libvirt.validate(vm, { diskTarget: options.disk }));
  }

  /** The cached image of a VM (source, capture time, size), without connecting. */
  async cached(vm: string): Promise<SourceImageRecord | undefined> {
    return this.hosts.images.cached(this.id, validateVmName(vm));
  }

  /**
   * The VM's disk as a local image named `src-<host>-<vm>`: from the cache unless `fresh`, else
   * snapshot, copy and merge back (see copyRunningVmDisk), then kernel and initramfs for it.
   */
  async pull(vm: string, options: PullOptions = {}): Promise<PullResult> {
    validateVmName(vm);
    return this.hosts.images.pull({
      hostId: this.id,
      vm,
      fresh: options.fresh,
      onProgress: options.onProgress,
      copy: (workDir, onProgress) =>
        this.session((libvirt, remote) =>
          copyRunningVmDisk(libvirt, remote, vm, {
            hostId: this.id,
            workDir,
            journal: this.hosts.journal,
            diskTarget: options.disk,
            overlayDir: this.config.overlayDir,
            onProgress,
            signal: options.signal,
          }),
        ),
    });
  }
}
