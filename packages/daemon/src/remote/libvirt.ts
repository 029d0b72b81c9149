import { SourceError } from "./source-error.js";
import { SshError } from "./ssh-error.js";
import type { RemoteRunner, RunOptions } from "./ssh-session.js";
import {
  type BlockDevice,
  type DomInfo,
  parseDomBlkList,
  parseDomIfAddr,
  parseDomIfList,
  parseDomInfo,
  parseNameList,
  reachableIpv4,
} from "./virsh-output.js";

/**
 * The domain names fluid works with. libvirt allows nearly anything in a name; fluid only passes
 * names matching this to virsh (and into file names), and lists the others as skipped.
 */
export const VM_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/** fluid's own sandbox domains (the original implementation ran sandboxes as libvirt domains). */
export const SANDBOX_PREFIX = "sbx-";

const uriPattern = /^qemu(\+[a-z]+)?:\/\/[A-Za-z0-9.:@_[\]-]*\/(system|session)(\?[A-Za-z0-9=&/._-]*)?$/;
const targetPattern = /^[a-z]{2,4}[a-z0-9]{0,6}$/;

export function validateVmName(name: string): string {
  if (typeof name !== "string" || !VM_NAME_PATTERN.test(name)) {
    throw new SourceError(
      "invalid_request",
      `unsupported VM name ${JSON.stringify(name)}: fluid handles names of 1-64 letters, digits, ".", "_" or "-" starting with a letter or digit`,
    );
  }
  return name;
}

export function validateLibvirtUri(uri: string): string {
  if (!uriPattern.test(uri)) throw new SourceError("invalid_request", `unsupported libvirt URI ${JSON.stringify(uri)}`);
  return uri;
}

export function validateDiskTarget(target: string): string {
  if (!targetPattern.test(target))
    throw new SourceError("invalid_request", `invalid disk target ${JSON.stringify(target)}`);
  return target;
}

export type IpSource = "lease" | "agent" | "arp";

export interface SourceVm {
  name: string;
  /** virsh's state: "running", "shut off", "paused", … */
  state: string;
  running: boolean;
  vcpus: number | undefined;
  memoryMb: number | undefined;
  /** Reachable IPv4 addresses (running VMs only). */
  ipAddresses: string[];
  /** Where the addresses came from: DHCP leases of a libvirt network, the guest agent, or ARP. */
  ipSource: IpSource | undefined;
}

export interface SourceVmList {
  vms: SourceVm[];
  /** Domains fluid does not handle, with the reason (names as libvirt reported them: escape for display). */
  skipped: Array<{ name: string; reason: string }>;
}

export interface VmValidation {
  name: string;
  /** True when the VM can be pulled and inspected: no errors. */
  valid: boolean;
  state: string | undefined;
  running: boolean;
  ipAddresses: string[];
  ipSource: IpSource | undefined;
  macs: string[];
  disks: BlockDevice[];
  /** The disk a pull copies. */
  pullDisk: BlockDevice | undefined;
  errors: string[];
  warnings: string[];
}

/** True for a disk fluid can snapshot and copy: a file or block device holding a disk. */
export function isCopyableDisk(device: BlockDevice): boolean {
  return device.device === "disk" && (device.type === "file" || device.type === "block") && !!device.source;
}

/** The disk a pull copies: `target` if given, else the first copyable disk. */
export function choosePullDisk(devices: readonly BlockDevice[], target?: string): BlockDevice {
  if (target !== undefined) {
    validateDiskTarget(target);
    const device = devices.find((candidate) => candidate.target === target);
    if (!device) throw new SourceError("not_found", `the VM has no disk ${target}`);
    if (!isCopyableDisk(device)) {
      throw new SourceError(
        "unsupported",
        `disk ${target} is a ${device.type} ${device.device}; fluid copies file or block disks`,
      );
    }
    return device;
  }
  const disk = devices.find(isCopyableDisk);
  if (disk) return disk;
  const network = devices.find((device) => device.device === "disk");
  throw new SourceError(
    "unsupported",
    network
      ? `the VM's disks are ${network.type} disks; fluid copies file or block disks only`
      : "the VM has no disk to copy",
  );
}

function isMissingDomain(err: unknown): boolean {
  return (
    err instanceof SshError &&
    err.kind === "command_failed" &&
    /failed to get domain|Domain not found|no domain with matching name/i.test(err.stderr)
  );
}

/** Runs small batches concurrently (over one SSH master) without flooding the host. */
async function mapLimited<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** virsh on a source host, through a remote runner (an SSH session). */
export class Libvirt {
  private readonly uri: string | undefined;

  constructor(
    private readonly remote: RemoteRunner,
    options: { uri?: string | undefined } = {},
  ) {
    this.uri = options.uri === undefined ? undefined : validateLibvirtUri(options.uri);
  }

  /** `env LC_ALL=C virsh [-c uri] …args`: English, parseable output whatever the host's locale. */
  virsh(args: readonly string[], options?: RunOptions) {
    return this.remote.run(["env", "LC_ALL=C", "virsh", ...(this.uri ? ["-c", this.uri] : []), ...args], options);
  }

  async dominfo(vm: string): Promise<DomInfo> {
    validateVmName(vm);
    try {
      return parseDomInfo((await this.virsh(["dominfo", vm])).stdout);
    } catch (err) {
      if (isMissingDomain(err)) throw new SourceError("not_found", `no VM ${vm} on this host`, { cause: err });
      throw err;
    }
  }

  async domblklist(vm: string): Promise<BlockDevice[]> {
    validateVmName(vm);
    try {
      return parseDomBlkList((await this.virsh(["domblklist", vm, "--details"])).stdout);
    } catch (err) {
      if (isMissingDomain(err)) throw new SourceError("not_found", `no VM ${vm} on this host`, { cause: err });
      throw err;
    }
  }

  async macs(vm: string): Promise<string[]> {
    return parseDomIfList((await this.virsh(["domiflist", validateVmName(vm)])).stdout);
  }

  /**
   * The guest's IPv4 addresses: DHCP leases of a libvirt network first, then the guest agent, then
   * the host's ARP table. A source that fails (no agent, bridge not managed by libvirt) is skipped.
   */
  async addresses(vm: string): Promise<{ ipAddresses: string[]; ipSource: IpSource | undefined }> {
    validateVmName(vm);
    for (const source of ["lease", "agent", "arp"] as const) {
      try {
        const result = await this.virsh(["domifaddr", vm, "--source", source], { check: false, timeoutMs: 20_000 });
        if (result.code !== 0) continue;
        const ipAddresses = reachableIpv4(parseDomIfAddr(result.stdout));
        if (ipAddresses.length > 0) return { ipAddresses, ipSource: source };
      } catch (err) {
        if (err instanceof SshError && err.kind !== "command_failed" && err.kind !== "timeout") throw err;
      }
    }
    return { ipAddresses: [], ipSource: undefined };
  }

  /** Every domain on the host except fluid's own sandboxes, with state, size and (when running) addresses. */
  async listVMs(): Promise<SourceVmList> {
    const names = parseNameList((await this.virsh(["list", "--all", "--name"])).stdout);
    const skipped: SourceVmList["skipped"] = [];
    const usable: string[] = [];
    for (const name of names) {
      if (name.startsWith(SANDBOX_PREFIX)) continue;
      if (!VM_NAME_PATTERN.test(name)) skipped.push({ name, reason: "name has characters fluid does not handle" });
      else usable.push(name);
    }
    const vms = await mapLimited(usable, 4, async (name): Promise<SourceVm | undefined> => {
      try {
        return await this.vm(name);
      } catch (err) {
        // Undefined between `list` and `dominfo`.
        if (err instanceof SourceError && err.kind === "not_found") return undefined;
        throw err;
      }
    });
    return { vms: vms.filter((vm): vm is SourceVm => vm !== undefined), skipped };
  }

  /** One VM as listVMs describes it (not_found if there is no such domain), without listing the others. */
  async vm(name: string): Promise<SourceVm> {
    const info = await this.dominfo(name);
    const running = info.state === "running";
    const { ipAddresses, ipSource } = running ? await this.addresses(name) : { ipAddresses: [], ipSource: undefined };
    return { name, state: info.state, running, vcpus: info.vcpus, memoryMb: info.maxMemoryMb, ipAddresses, ipSource };
  }

  /** Whether fluid can pull and inspect `vm`, with everything it found out on the way. */
  async validate(vm: string, options: { diskTarget?: string | undefined } = {}): Promise<VmValidation> {
    const result: VmValidation = {
      name: vm,
      valid: false,
      state: undefined,
      running: false,
      ipAddresses: [],
      ipSource: undefined,
      macs: [],
      disks: [],
      pullDisk: undefined,
      errors: [],
      warnings: [],
    };
    if (!VM_NAME_PATTERN.test(vm)) {
      result.errors.push("unsupported VM name");
      return result;
    }
    if (vm.startsWith(SANDBOX_PREFIX)) result.warnings.push(`${SANDBOX_PREFIX}* domains are fluid sandboxes`);
    try {
      const info = await this.dominfo(vm);
      result.state = info.state;
      result.running = info.state === "running";
    } catch (err) {
      if (err instanceof SourceError && err.kind === "not_found") {
        result.errors.push("no such VM on this host");
        return result;
      }
      throw err;
    }
    if (!result.running) result.errors.push(`the VM is ${result.state}, not running`);
    result.disks = await this.domblklist(vm);
    try {
      result.pullDisk = choosePullDisk(result.disks, options.diskTarget);
    } catch (err) {
      result.errors.push((err as Error).message);
    }
    result.macs = await this.macs(vm);
    if (result.macs.length === 0) result.warnings.push("the VM has no network interface");
    if (result.running) {
      Object.assign(result, await this.addresses(vm));
      if (result.ipAddresses.length === 0) {
        result.warnings.push("no IP address found (no libvirt DHCP lease, guest agent or ARP entry)");
      }
    }
    result.valid = result.errors.length === 0;
    return result;
  }

  /**
   * An external disk-only snapshot without libvirt metadata: for each disk in `overlays` QEMU
   * starts writing to a new qcow2 overlay on top of the current image, which from then on is only
   * read. `--atomic`: all disks switch or none does. Other disks are left out (snapshot=no).
   */
  async snapshotToOverlays(
    vm: string,
    name: string,
    devices: readonly BlockDevice[],
    overlays: ReadonlyMap<string, string>,
  ): Promise<void> {
    validateVmName(vm);
    if (!/^[A-Za-z0-9_-]+$/.test(name)) throw new SourceError("invalid_request", `invalid snapshot name ${name}`);
    const specs: string[] = [];
    for (const device of devices) {
      validateDiskTarget(device.target);
      const overlay = overlays.get(device.target);
      // virsh splits a diskspec at commas; a literal comma is written twice.
      specs.push(
        "--diskspec",
        overlay
          ? `${device.target},snapshot=external,file=${overlay.replaceAll(",", ",,")}`
          : `${device.target},snapshot=no`,
      );
    }
    await this.virsh(["snapshot-create-as", vm, name, "--disk-only", "--atomic", "--no-metadata", ...specs], {
      timeoutMs: 120_000,
    });
  }

  /**
   * Merges the active overlay of `target` into the image below it (`--shallow`: only the top layer,
   * never further down the chain) and switches the VM back to that image (`--pivot`). virsh gives
   * up (and aborts the job, leaving the overlay active) after `timeoutSeconds`.
   */
  async commitOverlay(vm: string, target: string, timeoutSeconds = 1_740): Promise<void> {
    validateVmName(vm);
    validateDiskTarget(target);
    await this.virsh(
      ["blockcommit", vm, target, "--active", "--shallow", "--pivot", "--timeout", String(timeoutSeconds)],
      { timeoutMs: (timeoutSeconds + 60) * 1000 },
    );
  }

  /** Finishes a commit job that was left ready but not pivoted (virsh killed mid-way), or aborts it. */
  async settleBlockJob(vm: string, target: string): Promise<void> {
    validateVmName(vm);
    validateDiskTarget(target);
    const info = await this.virsh(["blockjob", vm, target, "--info"], { check: false });
    if (!/Block Commit/i.test(info.stdout)) return;
    const pivot = await this.virsh(["blockjob", vm, target, "--pivot"], { check: false });
    if (pivot.code !== 0) await this.virsh(["blockjob", vm, target, "--abort"], { check: false });
  }
}
